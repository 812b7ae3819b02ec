#include "http/server.hpp"

#include "core/api_error.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <cctype>
#include <atomic>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

namespace txrelay::http {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

// Request line plus headers; far above what any API client sends, far below
// what would let a slow client pin memory.
constexpr std::uint32_t max_header_bytes = 16 * 1024;

// After an error reply the server closes the connection, but the client may
// still be sending the body we refused. Closing a socket with unread input
// makes the kernel send a reset, which can destroy the reply before the
// client reads it; so the rest is read and discarded for a bounded while.
constexpr std::chrono::seconds linger_timeout{2};
constexpr std::size_t linger_max_bytes = 4 << 20;

// Accept failures such as "too many open files" would otherwise spin.
constexpr std::chrono::milliseconds accept_retry_delay{100};

class session;

} // namespace

struct server::impl : std::enable_shared_from_this<server::impl> {
  impl(net::io_context& io, server_options o, request_handler h, response_observer r)
    : io(io), options(std::move(o)), handler(std::move(h)), on_response(std::move(r)),
      acceptor(net::make_strand(io)), accept_retry(acceptor.get_executor()) {}

  void do_accept();
  void on_accept(beast::error_code ec, tcp::socket socket);

  net::io_context& io;
  const server_options options;
  const request_handler handler;
  const response_observer on_response;
  tcp::acceptor acceptor;      // used on its strand only (after start())
  net::steady_timer accept_retry; // same strand
  std::atomic<bool> stopped{false};
  std::atomic<bool> draining{false};          // stop_accepting() was called
  std::atomic<std::size_t> in_progress{0};    // requests with the handler, not answered yet

  void close_acceptor() {
    // The acceptor belongs to its strand; close it there. If the io_context
    // no longer runs, the posted work is simply destroyed with it.
    net::post(acceptor.get_executor(), [self = shared_from_this()] {
      beast::error_code ignored;
      self->accept_retry.cancel();
      self->acceptor.close(ignored);
    });
  }

  std::mutex mutex; // guards sessions
  std::vector<std::weak_ptr<session>> sessions;
};

namespace {

/// One connection. Everything runs on the connection's strand: reading a
/// request, calling the handler, writing the reply (posted back from whatever
/// thread answered), then reading the next request. One request at a time.
class session : public std::enable_shared_from_this<session> {
public:
  session(tcp::socket&& socket, std::shared_ptr<server::impl> server)
    : stream_(std::move(socket)), server_(std::move(server)) {
    server_->options.counters->open.fetch_add(1, std::memory_order_relaxed);
  }
  ~session() { server_->options.counters->open.fetch_sub(1, std::memory_order_relaxed); }

  void run() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->do_read(); });
  }

  /// From any thread: drop the connection, whatever it is doing.
  void close() {
    net::post(stream_.get_executor(), [self = shared_from_this()] { self->close_now(); });
  }

private:
  void do_read() {
    if (closed_)
      return;
    parser_.emplace();
    parser_->body_limit(server_->options.max_body_bytes);
    parser_->header_limit(max_header_bytes);
    // A deadline, not an idle timer: it runs from here however the bytes trickle in.
    stream_.expires_after(server_->options.read_timeout);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    if (ec)
      return fail(ec, "read header");
    // Clients such as curl hold large bodies back until told to go on; a
    // request whose Content-Length is over the limit never gets here (the
    // parser reports body_limit with the header), so it gets its 413 at once.
    if (iequals(parser_->get()[bhttp::field::expect], "100-continue") && !parser_->is_done()) {
      auto go_on = std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_, 11);
      stream_.expires_after(server_->options.read_timeout);
      return bhttp::async_write(stream_, *go_on,
                                [self = shared_from_this(), go_on](beast::error_code ec, std::size_t) {
                                  if (ec)
                                    return self->fail(ec, "write 100-continue");
                                  self->read_body();
                                });
    }
    read_body();
  }

  void read_body() {
    stream_.expires_after(server_->options.read_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec)
      return fail(ec, "read body");
    if (server_->stopped)
      return close_now(); // the handler may be gone with the server's owner
    auto& in = parser_->get();
    // Counted before the draining check: a graceful stop that saw no request
    // in progress cannot miss one that passed the check a moment later.
    server_->in_progress.fetch_add(1);
    keep_alive_ = in.keep_alive() && !server_->draining;
    version_ = in.version();
    if (server_->draining) {
      server_->in_progress.fetch_sub(1);
      parser_.reset();
      return reply_and_close({503, "shutting_down", "txrelay is stopping; nothing was stored; retry"});
    }
    request req;
    req.method = std::string{in.method_string()};
    req.target = std::string{in.target()};
    for (const auto& field : in)
      req.headers.emplace_back(std::string{field.name_string()}, std::string{field.value()});
    req.body = std::move(in.body());
    parser_.reset();
    server_->handler(std::move(req), [self = shared_from_this()](response res) {
      // Any thread, any time later: the reply joins the connection's strand.
      net::post(self->stream_.get_executor(), [self, res = std::move(res)]() mutable {
        self->answering_ = true;
        self->send_response(std::move(res), false);
      });
    });
  }

  /// The one place read errors end up: the client went away or timed out
  /// (close quietly), or sent something the server answers itself.
  void fail(beast::error_code ec, std::string_view what) {
    if (ec == bhttp::error::body_limit)
      return reply_and_close({413, "payload_too_large",
                              "the request body is larger than " + std::to_string(server_->options.max_body_bytes) +
                                " bytes"});
    if (ec == bhttp::error::header_limit)
      return reply_and_close({431, "headers_too_large",
                              "the request line and headers are larger than " + std::to_string(max_header_bytes) +
                                " bytes"});
    if (ec == beast::error::timeout)
      server_->options.counters->read_timeouts.fetch_add(1, std::memory_order_relaxed);
    bool client_gone = ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
                       ec == beast::error::timeout || ec == net::error::operation_aborted ||
                       ec == net::error::eof || ec == net::error::connection_reset ||
                       ec == net::error::broken_pipe;
    if (!client_gone && ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category())
      return reply_and_close({400, "bad_request", "malformed HTTP request (" + std::string{what} + "): " + ec.message()});
    close_now();
  }

  void reply_and_close(const api_error& err) {
    keep_alive_ = false;
    version_ = 11;
    response res;
    res.status = err.status;
    res.body = err.to_json();
    send_response(std::move(res), true);
  }

  void send_response(response res, bool linger_after) {
    if (closed_) {
      if (answering_) {
        answering_ = false;
        server_->in_progress.fetch_sub(1, std::memory_order_relaxed);
      }
      return;
    }
    out_.emplace();
    out_->version(version_);
    out_->result(static_cast<unsigned>(res.status));
    out_->set(bhttp::field::server, "txrelay");
    out_->set(bhttp::field::content_type, res.content_type);
    for (auto& [name, value] : res.headers)
      out_->set(name, value);
    out_->body() = std::move(res.body);
    // A stop that began while the handler ran closes the connection after this answer: say so.
    out_->keep_alive(keep_alive_ && !server_->draining);
    out_->prepare_payload();
    // Counted when committed to the wire, so a client that has its answer can
    // rely on it being counted.
    if (server_->on_response)
      server_->on_response(res.route, res.status);
    stream_.expires_after(server_->options.read_timeout);
    bhttp::async_write(stream_, *out_, [self = shared_from_this(), linger_after](beast::error_code ec, std::size_t) {
      self->on_write(ec, linger_after);
    });
  }

  void on_write(beast::error_code ec, bool linger_after) {
    out_.reset();
    if (answering_) { // a handler's answer is on the wire (or failed): no longer in progress
      answering_ = false;
      server_->in_progress.fetch_sub(1, std::memory_order_relaxed);
    }
    if (ec)
      return close_now();
    if (linger_after)
      return linger();
    if (!keep_alive_ || server_->draining)
      return close_now();
    do_read();
  }

  void linger() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(linger_timeout);
    drain();
  }

  void drain() {
    stream_.async_read_some(net::buffer(drain_buffer_), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
      self->drained_ += n;
      if (ec || self->drained_ > linger_max_bytes)
        return self->close_now();
      self->drain();
    });
  }

  void close_now() {
    closed_ = true;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::shared_ptr<server::impl> server_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::optional<bhttp::response<bhttp::string_body>> out_;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool closed_ = false;
  bool answering_ = false; // the response being written is a handler's answer
  std::array<char, 8192> drain_buffer_{};
  std::size_t drained_ = 0;
};

} // namespace

void server::impl::do_accept() {
  // Each connection gets its own strand, so replies posted from other threads
  // never race the connection's reads even when several threads run `io`.
  acceptor.async_accept(net::make_strand(io), [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
    self->on_accept(ec, std::move(socket));
  });
}

void server::impl::on_accept(beast::error_code ec, tcp::socket socket) {
  if (stopped || ec == net::error::operation_aborted || !acceptor.is_open())
    return;
  if (ec) {
    accept_retry.expires_after(accept_retry_delay);
    accept_retry.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec && !self->stopped)
        self->do_accept();
    });
    return;
  }
  beast::error_code ignored;
  auto& counters = *options.counters;
  if (counters.open.load(std::memory_order_relaxed) >= static_cast<std::int64_t>(options.max_connections)) {
    // A clear answer, without reading anything: a non-blocking write of a
    // few bytes into the fresh socket's empty buffer, then close.
    counters.refused.fetch_add(1, std::memory_order_relaxed);
    static constexpr std::string_view busy =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
      "Connection: close\r\nContent-Length: 86\r\n\r\n"
      R"({"error":{"code":"too_many_connections","message":"too many open connections; retry"}})";
    socket.non_blocking(true, ignored);
    socket.write_some(net::buffer(busy.data(), busy.size()), ignored);
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
    return do_accept();
  }
  socket.set_option(tcp::no_delay{true}, ignored);
  auto s = std::make_shared<session>(std::move(socket), shared_from_this());
  {
    std::lock_guard guard{mutex};
    if (stopped)
      return; // stop() already closed the sessions it knew of; this one never starts
    // Forget finished sessions now and then, so the list follows the open ones.
    if (sessions.size() >= 64 && sessions.size() % 64 == 0)
      std::erase_if(sessions, [](const auto& w) { return w.expired(); });
    sessions.push_back(s);
  }
  s->run();
  do_accept();
}

server::server(net::io_context& io, server_options options, request_handler handler,
               response_observer on_response)
  : impl_(std::make_shared<impl>(io, std::move(options), std::move(handler), std::move(on_response))) {}

server::~server() { stop(); }

result<std::uint16_t, std::string> server::start() {
  auto& o = impl_->options;
  beast::error_code ec;
  auto address = net::ip::make_address(o.host == "localhost" ? "127.0.0.1" : o.host, ec);
  if (ec)
    return unexpected{"\"" + o.host + "\" is not an IP address"};
  tcp::endpoint endpoint{address, o.port};
  // Not yet shared with the io_context's threads: no accept runs before do_accept().
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec)
    acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec)
    acceptor.bind(endpoint, ec);
  if (!ec)
    acceptor.listen(net::socket_base::max_listen_connections, ec);
  std::uint16_t port = 0;
  if (!ec)
    port = acceptor.local_endpoint(ec).port();
  if (ec) {
    beast::error_code ignored;
    acceptor.close(ignored);
    return unexpected{ec.message()};
  }
  net::dispatch(acceptor.get_executor(), [i = impl_] { i->do_accept(); });
  return port;
}

void server::stop() {
  std::vector<std::shared_ptr<session>> open;
  {
    // Under the mutex, so a connection accepted right now is either closed
    // here or refused by on_accept.
    std::lock_guard guard{impl_->mutex};
    if (impl_->stopped.exchange(true))
      return;
    for (auto& w : impl_->sessions)
      if (auto s = w.lock())
        open.push_back(std::move(s));
    impl_->sessions.clear();
  }
  impl_->close_acceptor();
  for (auto& s : open)
    s->close();
}

void server::stop_accepting() {
  if (impl_->draining.exchange(true))
    return;
  impl_->close_acceptor();
}

std::size_t server::requests_in_progress() const { return impl_->in_progress.load(std::memory_order_relaxed); }

} // namespace txrelay::http
