#include "support/fake_sink_server.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <list>
#include <mutex>
#include <thread>

namespace txrelay::testing {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

struct fake_sink_server::impl {
  net::io_context io;
  tcp::acceptor acceptor{io};
  std::uint16_t port = 0;
  std::thread accept_thread;

  mutable std::mutex mutex;
  mutable std::condition_variable changed;
  fake_behaviour behaviour;
  std::vector<recorded_request> requests;
  std::size_t connections = 0;
  std::uint64_t release_generation = 0;
  fake_reply release_reply;
  bool stopping = false;
  std::list<std::thread> connection_threads;
  std::list<std::shared_ptr<tcp::socket>> sockets;

  void accept_loop() {
    for (;;) {
      auto socket = std::make_shared<tcp::socket>(io);
      beast::error_code ec;
      acceptor.accept(*socket, ec);
      std::lock_guard guard{mutex};
      if (stopping || ec)
        return;
      ++connections;
      sockets.push_back(socket);
      connection_threads.emplace_back([this, socket] { serve(socket); });
    }
  }

  void serve(const std::shared_ptr<tcp::socket>& socket) {
    beast::flat_buffer buffer;
    for (;;) {
      bhttp::request<bhttp::string_body> req;
      beast::error_code ec;
      bhttp::read(*socket, buffer, req, ec);
      if (ec)
        return;
      recorded_request rec;
      rec.method = std::string{req.method_string()};
      rec.target = std::string{req.target()};
      for (const auto& f : req)
        rec.headers.emplace_back(std::string{f.name_string()}, std::string{f.value()});
      rec.body = req.body();
      rec.received_at = std::chrono::system_clock::now();

      fake_reply reply;
      {
        std::unique_lock lock{mutex};
        auto n = requests.size();
        requests.push_back(rec);
        auto decide = behaviour;
        changed.notify_all();
        lock.unlock();
        if (decide)
          reply = decide(rec, n);
        lock.lock();
        if (reply.stall) {
          auto generation = release_generation;
          changed.wait(lock, [&] { return stopping || release_generation != generation; });
          if (stopping)
            return;
          reply = release_reply;
        }
      }
      bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(reply.status), req.version()};
      for (const auto& [k, v] : reply.headers)
        res.set(k, v);
      res.body() = reply.body;
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      bhttp::write(*socket, res, ec);
      if (ec || !req.keep_alive())
        return;
    }
  }
};

fake_sink_server::fake_sink_server(fake_behaviour behaviour) : impl_(std::make_unique<impl>()) {
  impl_->behaviour = std::move(behaviour);
  tcp::endpoint endpoint{net::ip::make_address("127.0.0.1"), 0};
  impl_->acceptor.open(endpoint.protocol());
  impl_->acceptor.set_option(net::socket_base::reuse_address(true));
  impl_->acceptor.bind(endpoint);
  impl_->acceptor.listen();
  impl_->port = impl_->acceptor.local_endpoint().port();
  impl_->accept_thread = std::thread{[i = impl_.get()] { i->accept_loop(); }};
}

fake_sink_server::~fake_sink_server() { stop(); }

std::uint16_t fake_sink_server::port() const { return impl_->port; }

std::string fake_sink_server::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(impl_->port) + path;
}

void fake_sink_server::set_behaviour(fake_behaviour behaviour) {
  std::lock_guard guard{impl_->mutex};
  impl_->behaviour = std::move(behaviour);
}

std::vector<recorded_request> fake_sink_server::requests() const {
  std::lock_guard guard{impl_->mutex};
  return impl_->requests;
}

std::size_t fake_sink_server::request_count() const {
  std::lock_guard guard{impl_->mutex};
  return impl_->requests.size();
}

std::size_t fake_sink_server::connection_count() const {
  std::lock_guard guard{impl_->mutex};
  return impl_->connections;
}

bool fake_sink_server::wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock{impl_->mutex};
  return impl_->changed.wait_for(lock, timeout, [&] { return impl_->requests.size() >= n; });
}

void fake_sink_server::release_stalled(fake_reply reply) {
  std::lock_guard guard{impl_->mutex};
  impl_->release_reply = std::move(reply);
  ++impl_->release_generation;
  impl_->changed.notify_all();
}

void fake_sink_server::stop() {
  std::list<std::thread> threads;
  {
    std::lock_guard guard{impl_->mutex};
    if (impl_->stopping)
      return;
    impl_->stopping = true;
    impl_->changed.notify_all();
    for (auto& s : impl_->sockets) {
      beast::error_code ec;
      s->shutdown(tcp::socket::shutdown_both, ec);
    }
  }
  {
    beast::error_code ec;
    impl_->acceptor.cancel(ec);
    impl_->acceptor.close(ec);
  }
  // accept() may not notice close(); a last connection wakes it.
  {
    beast::error_code ec;
    tcp::socket poke{impl_->io};
    poke.connect({net::ip::make_address("127.0.0.1"), impl_->port}, ec);
  }
  impl_->accept_thread.join();
  {
    std::lock_guard guard{impl_->mutex};
    threads.swap(impl_->connection_threads);
  }
  for (auto& t : threads)
    t.join();
}

} // namespace txrelay::testing
