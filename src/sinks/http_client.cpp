#include "sinks/http_client.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <optional>
#include <vector>

namespace txrelay {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

using strand = net::strand<net::io_context::executor_type>;

// Sinks answer with a status and perhaps a short message; nothing a sender
// needs is in a megabyte of body, and a bigger one must not cost memory.
constexpr std::uint64_t max_response_body = 1 << 20;
constexpr std::uint32_t max_response_header = 64 * 1024;

/// One connection to the origin, with the bytes read past the last response.
/// Every I/O step reaches the stream through with_stream(), so a TLS stream
/// (a variant of tcp_stream and ssl_stream<tcp_stream>, visited here) can be
/// added without touching the call's steps; the TLS handshake goes in
/// call_op::on_connected.
class connection {
public:
  explicit connection(const strand& s) : stream_(s) {}

  template <class F>
  decltype(auto) with_stream(F&& f) {
    return f(stream_);
  }

  beast::tcp_stream& tcp() { return stream_; }
  beast::flat_buffer& buffer() { return buffer_; }

private:
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
};

} // namespace

struct http_client::impl : std::enable_shared_from_this<http_client::impl> {
  impl(net::io_context& io, url origin, std::size_t max_idle)
    : origin(std::move(origin)), max_idle(max_idle), strand_(net::make_strand(io)) {}

  const url origin;
  const std::size_t max_idle;
  strand strand_;
  std::vector<std::unique_ptr<connection>> idle; // on strand_ only; most recently used last
};

namespace {

std::string host_header(const url& origin) {
  auto host = origin.host;
  if (host.find(':') != std::string::npos)
    host = "[" + host + "]"; // an IPv6 literal
  bool default_port = (origin.scheme == "http" && origin.port == 80) || (origin.scheme == "https" && origin.port == 443);
  return default_port ? host : host + ":" + std::to_string(origin.port);
}

/// One call: take a pooled connection or resolve and connect, write, read the
/// header, read the body; all on the client's strand, under one deadline.
class call_op : public std::enable_shared_from_this<call_op> {
public:
  call_op(std::shared_ptr<http_client::impl> client, http_call call, std::function<void(http_outcome)> done)
    : client_(std::move(client)), timeout_(call.timeout), done_(std::move(done)),
      deadline_(std::chrono::steady_clock::now() + call.timeout), resolver_(client_->strand_),
      resolve_timer_(client_->strand_) {
    request_.version(11);
    request_.method_string(call.method);
    request_.target(call.target);
    request_.set(bhttp::field::host, host_header(client_->origin));
    request_.set(bhttp::field::user_agent, "txrelay/0.1");
    for (auto& [name, value] : call.headers)
      request_.set(name, value);
    request_.body() = std::move(call.body);
    request_.keep_alive(true);
    request_.prepare_payload();
  }

  void start() {
    if (client_->idle.empty())
      return connect_fresh();
    conn_ = std::move(client_->idle.back());
    client_->idle.pop_back();
    reused_ = true;
    write();
  }

private:
  void connect_fresh() {
    reused_ = false;
    conn_ = std::make_unique<connection>(client_->strand_);
    // The resolver has no timeout of its own; the call's deadline cancels it.
    resolve_timer_.expires_at(deadline_);
    resolve_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec)
        return; // the resolve finished first
      self->resolve_timed_out_ = true;
      self->resolver_.cancel();
    });
    resolver_.async_resolve(client_->origin.host, std::to_string(client_->origin.port),
                            [self = shared_from_this()](beast::error_code ec, tcp::resolver::results_type results) {
                              self->on_resolve(ec, results);
                            });
  }

  void on_resolve(beast::error_code ec, const tcp::resolver::results_type& results) {
    resolve_timer_.cancel();
    if (resolve_timed_out_)
      ec = beast::error::timeout;
    if (ec)
      return fail(ec, "resolve");
    conn_->tcp().expires_at(deadline_);
    conn_->tcp().async_connect(results, [self = shared_from_this()](beast::error_code ec, const tcp::endpoint&) {
      self->on_connected(ec);
    });
  }

  void on_connected(beast::error_code ec) {
    if (ec)
      return fail(ec, "connect");
    beast::error_code ignored;
    conn_->tcp().socket().set_option(tcp::no_delay{true}, ignored);
    write();
  }

  void write() {
    conn_->tcp().expires_at(deadline_);
    conn_->with_stream([&](auto& stream) {
      bhttp::async_write(stream, request_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
        if (ec)
          return self->fail(ec, "send");
        self->read_header();
      });
    });
  }

  void read_header() {
    parser_.emplace();
    parser_->body_limit(boost::none); // checked once the header is known, see on_header
    parser_->header_limit(max_response_header);
    if (request_.method() == bhttp::verb::head)
      parser_->skip(true);
    conn_->tcp().expires_at(deadline_);
    conn_->with_stream([&](auto& stream) {
      bhttp::async_read_header(stream, conn_->buffer(), *parser_,
                               [self = shared_from_this()](beast::error_code ec, std::size_t) {
                                 if (ec)
                                   return self->fail(ec, "receive");
                                 self->on_header();
                               });
    });
  }

  void on_header() {
    auto length = parser_->content_length();
    if (length && *length > max_response_body)
      return finish_truncated(); // don't read a body we would not keep
    parser_->body_limit(max_response_body);
    conn_->with_stream([&](auto& stream) {
      bhttp::async_read(stream, conn_->buffer(), *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
        if (ec == bhttp::error::body_limit)
          return self->finish_truncated(); // a chunked body that grew too big
        if (ec)
          return self->fail(ec, "receive");
        self->finish_complete();
      });
    });
  }

  http_outcome outcome_from_parser() {
    auto& res = parser_->get();
    http_outcome out;
    out.transport_ok = true;
    out.status = static_cast<int>(res.result_int());
    for (const auto& field : res)
      out.headers.emplace_back(std::string{field.name_string()}, std::string{field.value()});
    out.body = std::move(res.body());
    return out;
  }

  void finish_complete() {
    bool reusable = parser_->get().keep_alive();
    auto out = outcome_from_parser();
    if (reusable && client_->idle.size() < client_->max_idle) {
      conn_->tcp().expires_never();
      client_->idle.push_back(std::move(conn_));
    }
    finish(std::move(out));
  }

  /// The status is what a sender needs; the rest of the body stays unread,
  /// so the connection cannot be reused.
  void finish_truncated() {
    auto out = outcome_from_parser();
    out.body_truncated = true;
    conn_.reset();
    finish(std::move(out));
  }

  /// The one error path. `step` names what failed; the message never carries
  /// the target, whose path may be a credential.
  void fail(beast::error_code ec, const char* step) {
    // A pooled connection the peer closed while it sat idle fails before any
    // response byte arrives; the request gets one fresh connection.
    bool nothing_received = !parser_ || (!parser_->got_some() && conn_->buffer().size() == 0);
    if (reused_ && !retried_ && nothing_received && ec != beast::error::timeout) {
      retried_ = true;
      conn_.reset();
      parser_.reset();
      return connect_fresh();
    }
    http_outcome out;
    if (ec == beast::error::timeout || resolve_timed_out_)
      out.transport_error = std::string{step} + ": timeout after " + std::to_string(timeout_.count()) + " ms";
    else
      out.transport_error = std::string{step} + ": " + ec.message();
    conn_.reset();
    finish(std::move(out));
  }

  void finish(http_outcome out) {
    auto done = std::move(done_);
    done(std::move(out));
  }

  std::shared_ptr<http_client::impl> client_;
  millis timeout_;
  std::function<void(http_outcome)> done_;
  std::chrono::steady_clock::time_point deadline_;
  tcp::resolver resolver_;
  net::steady_timer resolve_timer_;
  bool resolve_timed_out_ = false;
  bhttp::request<bhttp::string_body> request_;
  std::optional<bhttp::response_parser<bhttp::string_body>> parser_;
  std::unique_ptr<connection> conn_;
  bool reused_ = false;
  bool retried_ = false;
};

} // namespace

http_client::http_client(net::io_context& io, url origin, std::size_t max_idle_connections)
  : impl_(std::make_shared<impl>(io, std::move(origin), max_idle_connections)) {}

http_client::~http_client() {
  // Idle connections belong to the strand; drop them there. Calls in flight
  // keep the impl alive until they finish.
  net::post(impl_->strand_, [i = impl_] { i->idle.clear(); });
}

void http_client::send(http_call call, std::function<void(http_outcome)> done) {
  if (impl_->origin.scheme != "http") {
    net::post(impl_->strand_, [done = std::move(done)] {
      http_outcome out;
      out.transport_error = "https is not supported yet";
      done(std::move(out));
    });
    return;
  }
  auto op = std::make_shared<call_op>(impl_, std::move(call), std::move(done));
  net::post(impl_->strand_, [op] { op->start(); });
}

} // namespace txrelay
