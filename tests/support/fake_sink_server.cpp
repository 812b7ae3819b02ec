#include "support/fake_sink_server.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <openssl/ssl.h>

#include <atomic>
#include <list>
#include <mutex>
#include <thread>

namespace txrelay::testing {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

namespace {

bool says_close(const http::header_list& headers) {
  auto value = http::find_header(headers, "connection");
  return beast::iequals(value, "close");
}

} // namespace

struct fake_sink_server::impl {
  /// One accepted connection; `idle` while its thread waits for the next request.
  struct connection {
    tcp::socket socket;
    bool idle = true;
    bool open = true;
    explicit connection(net::io_context& io) : socket(io) {}
  };

  net::io_context io; // only a home for the sockets; everything here is blocking
  std::unique_ptr<ssl::context> tls; // set in HTTPS mode
  tcp::acceptor acceptor{io};
  std::uint16_t port = 0;
  std::thread accept_thread;

  mutable std::mutex mutex;
  mutable std::condition_variable changed;
  fake_behaviour behaviour;
  std::vector<recorded_request> requests;
  std::uint64_t release_generation = 0;
  fake_reply release_reply;
  bool stopping = false;
  std::list<std::thread> connection_threads;
  std::list<std::shared_ptr<connection>> connections;
  std::size_t tls_handshake_failures = 0;

  void listen() {
    tcp::endpoint endpoint{net::ip::make_address("127.0.0.1"), 0};
    acceptor.open(endpoint.protocol());
    acceptor.set_option(net::socket_base::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen();
    port = acceptor.local_endpoint().port();
    accept_thread = std::thread{[this] { accept_loop(); }};
  }

  void accept_loop() {
    for (;;) {
      auto conn = std::make_shared<connection>(io);
      beast::error_code ec;
      acceptor.accept(conn->socket, ec);
      std::lock_guard guard{mutex};
      if (stopping)
        return;
      if (ec)
        continue;
      connections.push_back(conn);
      connection_threads.emplace_back([this, conn] { serve(*conn); });
    }
  }

  /// Other threads only shut a socket down (which wakes a blocked read); the
  /// serving thread is the one that closes it, under the mutex.
  void serve(connection& conn) {
    if (tls) {
      // On the connection's socket by reference, so close_idle_connections()
      // and stop() wake a blocked TLS read the same way as a plain one.
      ssl::stream<tcp::socket&> stream{conn.socket, *tls};
      beast::error_code ec;
      stream.handshake(ssl::stream_base::server, ec);
      if (ec) {
        std::lock_guard guard{mutex};
        ++tls_handshake_failures;
        changed.notify_all();
      } else {
        const char* sni = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name);
        serve_requests(stream, conn, sni ? sni : "");
      }
    } else {
      serve_requests(conn.socket, conn, "");
    }
    std::lock_guard guard{mutex};
    beast::error_code ignored;
    conn.open = false;
    conn.socket.shutdown(tcp::socket::shutdown_both, ignored);
    conn.socket.close(ignored);
  }

  template <class Stream>
  void serve_requests(Stream& stream, connection& conn, const std::string& tls_server_name) {
    beast::flat_buffer buffer;
    for (;;) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.body_limit(64 << 20);
      beast::error_code ec;
      bhttp::read(stream, buffer, parser, ec);
      if (ec)
        return;
      auto& req = parser.get();
      recorded_request rec;
      rec.method = std::string{req.method_string()};
      rec.target = std::string{req.target()};
      for (const auto& f : req)
        rec.headers.emplace_back(std::string{f.name_string()}, std::string{f.value()});
      rec.body = req.body();
      rec.received_at = std::chrono::system_clock::now();
      rec.tls_server_name = tls_server_name;

      fake_reply reply;
      {
        std::unique_lock lock{mutex};
        if (stopping)
          return;
        conn.idle = false;
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
      bool keep_alive = req.keep_alive() && !says_close(reply.headers);
      res.keep_alive(keep_alive);
      res.prepare_payload();
      bhttp::write(stream, res, ec);
      if (ec || !keep_alive)
        return;
      std::lock_guard guard{mutex};
      conn.idle = true;
    }
  }
};

fake_sink_server::fake_sink_server(fake_behaviour behaviour) : impl_(std::make_unique<impl>()) {
  impl_->behaviour = std::move(behaviour);
  impl_->listen();
}

fake_sink_server::fake_sink_server(const tls_identity& identity, fake_behaviour behaviour)
  : impl_(std::make_unique<impl>()) {
  impl_->behaviour = std::move(behaviour);
  impl_->tls = std::make_unique<ssl::context>(ssl::context::tls_server);
  impl_->tls->use_certificate_chain(net::buffer(identity.certificate_pem));
  impl_->tls->use_private_key(net::buffer(identity.private_key_pem), ssl::context::pem);
  impl_->listen(); // after `tls` is set: the accept thread reads it unlocked
}

fake_sink_server::~fake_sink_server() { stop(); }

std::uint16_t fake_sink_server::port() const { return impl_->port; }

std::string fake_sink_server::url(const std::string& path) const {
  return (impl_->tls ? "https" : "http") + std::string{"://127.0.0.1:"} + std::to_string(impl_->port) + path;
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
  return impl_->connections.size();
}

std::size_t fake_sink_server::tls_handshake_failures() const {
  std::lock_guard guard{impl_->mutex};
  return impl_->tls_handshake_failures;
}

std::size_t fake_sink_server::close_idle_connections() {
  std::lock_guard guard{impl_->mutex};
  std::size_t closed = 0;
  for (auto& c : impl_->connections) {
    if (c->open && c->idle) {
      beast::error_code ignored;
      c->socket.shutdown(tcp::socket::shutdown_both, ignored);
      c->open = false; // its thread wakes, finds the read failed, and closes it
      ++closed;
    }
  }
  return closed;
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
  {
    std::lock_guard guard{impl_->mutex};
    if (impl_->stopping)
      return;
    impl_->stopping = true;
    impl_->changed.notify_all(); // stalled requests give up
    for (auto& c : impl_->connections) {
      beast::error_code ignored;
      if (c->open)
        c->socket.shutdown(tcp::socket::shutdown_both, ignored); // blocked reads return
    }
  }
  // A blocking accept() is not woken by closing the acceptor from another
  // thread (and that would race); a last connection wakes it, it sees
  // `stopping` and returns.
  {
    beast::error_code ignored;
    tcp::socket poke{impl_->io};
    poke.connect({net::ip::make_address("127.0.0.1"), impl_->port}, ignored);
    impl_->accept_thread.join();
  }
  beast::error_code ignored;
  impl_->acceptor.close(ignored);
  std::list<std::thread> threads;
  {
    std::lock_guard guard{impl_->mutex};
    threads.swap(impl_->connection_threads);
  }
  for (auto& t : threads)
    t.join();
}

} // namespace txrelay::testing
