#include "http/server.hpp"

#include "core/api_error.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <mutex>
#include <optional>

namespace txrelay::http {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

class session;

} // namespace

struct server::impl : std::enable_shared_from_this<server::impl> {
  impl(net::io_context& io, server_options o, request_handler h, std::function<void(int)> r)
    : io(io), options(std::move(o)), handler(std::move(h)), on_response(std::move(r)), acceptor(net::make_strand(io)) {}

  void do_accept();
  void on_accept(beast::error_code ec, tcp::socket socket);

  net::io_context& io;
  server_options options;
  request_handler handler;
  std::function<void(int)> on_response;
  tcp::acceptor acceptor;
  std::mutex mutex;
  std::vector<std::weak_ptr<session>> sessions;
  bool stopped = false;
};

namespace {

/// One connection: read a request, hand it to the handler, write the answer
/// when the handler responds (from any thread), then read the next one.
class session : public std::enable_shared_from_this<session> {
public:
  session(tcp::socket&& socket, std::shared_ptr<server::impl> server)
    : stream_(std::move(socket)), server_(std::move(server)) {}

  void run() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->do_read(); });
  }

  void close() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      beast::error_code ec;
      self->stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
      self->stream_.socket().close(ec);
    });
  }

private:
  void do_read() {
    parser_.emplace();
    parser_->body_limit(server_->options.max_body_bytes);
    parser_->header_limit(16 * 1024);
    stream_.expires_after(server_->options.idle_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout || ec == net::error::operation_aborted ||
        ec == bhttp::error::partial_message || ec == net::error::connection_reset || ec == net::error::eof) {
      return shutdown();
    }
    if (ec == bhttp::error::body_limit) {
      keep_alive_ = false;
      return write(error_reply({413, "payload_too_large",
                                "the body is larger than " + std::to_string(server_->options.max_body_bytes) +
                                  " bytes (server.max_body_bytes)"}));
    }
    if (ec) {
      if (ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category()) {
        keep_alive_ = false;
        return write(error_reply({400, "bad_request", "malformed HTTP request: " + ec.message()}));
      }
      return shutdown();
    }
    auto& in = parser_->get();
    keep_alive_ = in.keep_alive();
    request req;
    req.method = std::string{in.method_string()};
    req.target = std::string{in.target()};
    req.headers.reserve(8);
    for (const auto& field : in)
      req.headers.emplace_back(std::string{field.name_string()}, std::string{field.value()});
    req.body = std::move(in.body());
    server_->handler(std::move(req), [self = shared_from_this()](response res) {
      net::post(self->stream_.get_executor(),
                [self, res = std::move(res)]() mutable { self->write(std::move(res)); });
    });
  }

  static response error_reply(const api_error& err) {
    response res;
    res.status = err.status;
    res.body = err.to_json();
    return res;
  }

  void write(response res) {
    out_.emplace();
    out_->version(11);
    out_->result(static_cast<unsigned>(res.status));
    out_->set(bhttp::field::server, "txrelay");
    out_->set(bhttp::field::content_type, res.content_type);
    for (auto& [name, value] : res.headers)
      out_->set(name, value);
    out_->body() = std::move(res.body);
    out_->keep_alive(keep_alive_);
    out_->prepare_payload();
    if (server_->on_response)
      server_->on_response(res.status);
    stream_.expires_after(server_->options.idle_timeout);
    bhttp::async_write(stream_, *out_,
                       [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_write(ec); });
  }

  void on_write(beast::error_code ec) {
    out_.reset();
    if (ec || !keep_alive_)
      return shutdown();
    do_read();
  }

  void shutdown() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.socket().close(ec);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::shared_ptr<server::impl> server_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::optional<bhttp::response<bhttp::string_body>> out_;
  bool keep_alive_ = true;
};

} // namespace

void server::impl::do_accept() {
  acceptor.async_accept(net::make_strand(io), [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
    self->on_accept(ec, std::move(socket));
  });
}

void server::impl::on_accept(beast::error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor.is_open())
    return;
  if (!ec) {
    socket.set_option(tcp::no_delay{true}, ec);
    auto s = std::make_shared<session>(std::move(socket), shared_from_this());
    {
      std::lock_guard guard{mutex};
      if (stopped)
        return;
      // Forget closed sessions now and then, so the list follows the open ones.
      if (sessions.size() > 64)
        std::erase_if(sessions, [](const auto& w) { return w.expired(); });
      sessions.push_back(s);
    }
    s->run();
  }
  do_accept();
}

server::server(net::io_context& io, server_options options, request_handler handler,
               std::function<void(int)> on_response)
  : impl_(std::make_shared<impl>(io, std::move(options), std::move(handler), std::move(on_response))) {}

server::~server() { stop(); }

result<std::uint16_t, std::string> server::start() {
  beast::error_code ec;
  auto address = net::ip::make_address(impl_->options.host == "localhost" ? "127.0.0.1" : impl_->options.host, ec);
  if (ec)
    return unexpected{"\"" + impl_->options.host + "\" is not an IP address"};
  tcp::endpoint endpoint{address, impl_->options.port};
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec)
    acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec)
    acceptor.bind(endpoint, ec);
  if (!ec)
    acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec)
    return unexpected{ec.message()};
  auto port = acceptor.local_endpoint(ec).port();
  impl_->do_accept();
  return port;
}

void server::stop() {
  std::vector<std::shared_ptr<session>> open;
  {
    std::lock_guard guard{impl_->mutex};
    if (impl_->stopped)
      return;
    impl_->stopped = true;
    for (auto& w : impl_->sessions)
      if (auto s = w.lock())
        open.push_back(std::move(s));
    impl_->sessions.clear();
  }
  net::post(impl_->acceptor.get_executor(), [i = impl_] {
    beast::error_code ec;
    i->acceptor.close(ec);
  });
  for (auto& s : open)
    s->close();
}

} // namespace txrelay::http
