#include "sinks/http_client.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <vector>

namespace txrelay {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

using strand = net::strand<net::io_context::executor_type>;

struct connection {
  explicit connection(const strand& s) : stream(s) {}
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
};

constexpr std::size_t max_response_body = 1 << 20;

} // namespace

struct http_client::impl : std::enable_shared_from_this<http_client::impl> {
  impl(net::io_context& io, url origin, std::size_t max_idle)
    : io(io), origin(std::move(origin)), max_idle(max_idle), strand_(net::make_strand(io)) {}

  net::io_context& io;
  url origin;
  std::size_t max_idle;
  strand strand_;
  std::vector<std::unique_ptr<connection>> idle; // touched on strand_ only
};

namespace {

/// One call: connect (or reuse), write, read, all on the client's strand,
/// under one deadline.
class call_op : public std::enable_shared_from_this<call_op> {
public:
  call_op(std::shared_ptr<http_client::impl> client, http_call call, std::function<void(http_outcome)> done)
    : client_(std::move(client)), call_(std::move(call)), done_(std::move(done)),
      deadline_(std::chrono::steady_clock::now() + call_.timeout), resolver_(client_->strand_) {
    request_.version(11);
    request_.method_string(call_.method);
    request_.target(call_.target);
    auto host = client_->origin.host;
    if (host.find(':') != std::string::npos)
      host = "[" + host + "]";
    bool default_port = (client_->origin.scheme == "http" && client_->origin.port == 80) ||
                        (client_->origin.scheme == "https" && client_->origin.port == 443);
    request_.set(bhttp::field::host, default_port ? host : host + ":" + std::to_string(client_->origin.port));
    request_.set(bhttp::field::user_agent, "txrelay/0.1");
    for (auto& [name, value] : call_.headers)
      request_.set(name, value);
    request_.body() = std::move(call_.body);
    request_.keep_alive(true);
    request_.prepare_payload();
  }

  void start() {
    if (!client_->idle.empty()) {
      conn_ = std::move(client_->idle.back());
      client_->idle.pop_back();
      reused_ = true;
      return write();
    }
    reused_ = false;
    conn_ = std::make_unique<connection>(client_->strand_);
    resolver_.async_resolve(client_->origin.host, std::to_string(client_->origin.port),
                            [self = shared_from_this()](beast::error_code ec, tcp::resolver::results_type results) {
                              self->on_resolve(ec, results);
                            });
  }

private:
  void on_resolve(beast::error_code ec, const tcp::resolver::results_type& results) {
    if (ec)
      return fail("resolve", ec);
    conn_->stream.expires_at(deadline_);
    conn_->stream.async_connect(results, [self = shared_from_this()](beast::error_code ec, const tcp::endpoint&) {
      if (ec)
        return self->fail("connect", ec);
      beast::error_code ignored;
      self->conn_->stream.socket().set_option(tcp::no_delay{true}, ignored);
      self->write();
    });
  }

  void write() {
    conn_->stream.expires_at(deadline_);
    bhttp::async_write(conn_->stream, request_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec)
        return self->fail("send", ec);
      self->read();
    });
  }

  void read() {
    parser_.emplace();
    parser_->body_limit(max_response_body);
    conn_->stream.expires_at(deadline_);
    bhttp::async_read(conn_->stream, conn_->buffer, *parser_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t n) { self->on_read(ec, n); });
  }

  void on_read(beast::error_code ec, std::size_t bytes) {
    if (ec)
      return fail(bytes == 0 ? "receive" : "receive", ec, bytes);
    auto& res = parser_->get();
    http_outcome out;
    out.transport_ok = true;
    out.status = static_cast<int>(res.result_int());
    for (const auto& field : res)
      out.headers.emplace_back(std::string{field.name_string()}, std::string{field.value()});
    out.body = std::move(res.body());
    if (res.keep_alive() && client_->idle.size() < client_->max_idle) {
      conn_->stream.expires_never();
      client_->idle.push_back(std::move(conn_));
    }
    finish(std::move(out));
  }

  void fail(const char* step, beast::error_code ec, std::size_t bytes_read = 0) {
    // A pooled connection the peer closed while idle fails before any
    // response byte arrives: one fresh connection gets the same request.
    if (reused_ && !retried_ && bytes_read == 0 && ec != beast::error::timeout) {
      retried_ = true;
      conn_.reset();
      return start_fresh();
    }
    http_outcome out;
    if (ec == beast::error::timeout)
      out.transport_error = std::string{step} + ": timeout after " + std::to_string(call_.timeout.count()) + " ms";
    else
      out.transport_error = std::string{step} + ": " + ec.message();
    conn_.reset();
    finish(std::move(out));
  }

  void start_fresh() {
    reused_ = false;
    conn_ = std::make_unique<connection>(client_->strand_);
    resolver_.async_resolve(client_->origin.host, std::to_string(client_->origin.port),
                            [self = shared_from_this()](beast::error_code ec, tcp::resolver::results_type results) {
                              self->on_resolve(ec, results);
                            });
  }

  void finish(http_outcome out) {
    auto done = std::move(done_);
    done(std::move(out));
  }

  std::shared_ptr<http_client::impl> client_;
  http_call call_;
  std::function<void(http_outcome)> done_;
  std::chrono::steady_clock::time_point deadline_;
  tcp::resolver resolver_;
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
  // Idle connections belong to the strand; close them there.
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
