#include "sinks/http_client.hpp"

#include "core/result.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <optional>
#include <variant>
#include <vector>

namespace txrelay {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

namespace {

using strand = net::strand<net::io_context::executor_type>;
using plain_stream = beast::tcp_stream;
// beast's wrapper coalesces a buffer sequence into one TLS record per write;
// a bare ssl::stream would send each header buffer as its own record.
using tls_stream = beast::ssl_stream<beast::tcp_stream>;

// Sinks answer with a status and perhaps a short message; nothing a sender
// needs is in a megabyte of body, and a bigger one must not cost memory.
constexpr std::uint64_t max_response_body = 1 << 20;
constexpr std::uint32_t max_response_header = 64 * 1024;

/// One connection to the origin, plain or TLS, with the bytes read past the
/// last response. Every HTTP step reaches the stream through with_stream(), so
/// the steps are the same for both; deadlines sit on the TCP layer (tcp()).
class connection {
public:
  explicit connection(const strand& s) : stream_(std::in_place_type<plain_stream>, s) {}
  connection(const strand& s, ssl::context& tls) : stream_(std::in_place_type<tls_stream>, s, tls) {}

  template <class F>
  decltype(auto) with_stream(F&& f) {
    return std::visit(std::forward<F>(f), stream_);
  }

  beast::tcp_stream& tcp() {
    if (auto* t = std::get_if<tls_stream>(&stream_))
      return t->next_layer();
    return std::get<plain_stream>(stream_);
  }
  tls_stream* tls() { return std::get_if<tls_stream>(&stream_); }
  beast::flat_buffer& buffer() { return buffer_; }

private:
  std::variant<plain_stream, tls_stream> stream_;
  beast::flat_buffer buffer_;
};

/// OpenSSL's reason for a TLS error, without asio's " (SSL routines)" suffix,
/// and for a rejected certificate the verifier's reason ("hostname mismatch",
/// "unable to get local issuer certificate"), which is what an operator needs.
std::string describe_tls_error(beast::error_code ec, SSL* ssl) {
  if (ec.category() != net::error::get_ssl_category())
    return ec.message(); // e.g. stream_truncated, a reset, eof
  const char* reason = ERR_reason_error_string(static_cast<unsigned long>(ec.value()));
  std::string text = reason ? reason : "TLS error " + std::to_string(ec.value());
  if (ssl) {
    long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK)
      text += std::string{" ("} + X509_verify_cert_error_string(verify) + ")";
  }
  return text;
}

/// The TLS settings every connection of one client shares.
result<std::unique_ptr<ssl::context>, std::string> make_tls_context(const http_client_options& options) {
  auto context = std::make_unique<ssl::context>(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
  beast::error_code ec;
  if (!options.verify_peer) {
    context->set_verify_mode(ssl::verify_none, ec);
    return context;
  }
  context->set_verify_mode(ssl::verify_peer, ec);
  context->set_default_verify_paths(ec);
  if (ec)
    return unexpected{"cannot use the system trust store: " + describe_tls_error(ec, nullptr)};
  if (!options.ca_file.empty()) {
    context->load_verify_file(options.ca_file, ec);
    if (ec)
      return unexpected{"cannot load ca_file " + options.ca_file + ": " + describe_tls_error(ec, nullptr)};
  }
  return context;
}

} // namespace

struct http_client::impl : std::enable_shared_from_this<http_client::impl> {
  impl(net::io_context& io, url origin, http_client_options options)
    : origin(std::move(origin)), options(std::move(options)), strand_(net::make_strand(io)) {
    if (this->origin.scheme == "https") {
      auto context = make_tls_context(this->options);
      if (context)
        tls = std::move(*context);
      else
        setup_error = "TLS setup failed: " + context.error();
    } else if (this->origin.scheme != "http") {
      setup_error = "unsupported scheme " + this->origin.scheme;
    }
  }

  const url origin;
  const http_client_options options;
  std::unique_ptr<ssl::context> tls; // https only; declared before `idle`, so it outlives every stream
  std::optional<std::string> setup_error;
  strand strand_;
  std::vector<std::unique_ptr<connection>> idle; // on strand_ only; most recently used last
};

namespace {

// The step name of a failed handshake: its failures count as "tls".
constexpr const char* tls_handshake_step = "TLS handshake failed";

std::string host_header(const url& origin) {
  auto host = origin.host;
  if (host.find(':') != std::string::npos)
    host = "[" + host + "]"; // an IPv6 literal
  bool default_port = (origin.scheme == "http" && origin.port == 80) || (origin.scheme == "https" && origin.port == 443);
  return default_port ? host : host + ":" + std::to_string(origin.port);
}

/// One call: take a pooled connection or resolve, connect and (for https)
/// handshake, then write, read the header, read the body; all on the client's
/// strand, under one deadline, with the connection setup under a nearer one.
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
  // -- connection setup: resolve, connect, TLS handshake ---------------------

  void connect_fresh() {
    reused_ = false;
    conn_ = client_->tls ? std::make_unique<connection>(client_->strand_, *client_->tls)
                         : std::make_unique<connection>(client_->strand_);
    // A sink that cannot even be reached should not hold the whole call's
    // budget: setup gets its own bound, and the call's deadline still caps it.
    auto setup_bound = std::chrono::steady_clock::now() + client_->options.connect_timeout;
    if (setup_bound < deadline_) {
      setup_deadline_ = setup_bound;
      phase_timeout_ = client_->options.connect_timeout;
    } else {
      setup_deadline_ = deadline_;
      phase_timeout_ = timeout_;
    }
    // The resolver has no timeout of its own; a timer cancels it.
    resolve_timer_.expires_at(setup_deadline_);
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
    conn_->tcp().expires_at(setup_deadline_);
    conn_->tcp().async_connect(results, [self = shared_from_this()](beast::error_code ec, const tcp::endpoint&) {
      self->on_connected(ec);
    });
  }

  void on_connected(beast::error_code ec) {
    if (ec)
      return fail(ec, "connect");
    beast::error_code ignored;
    conn_->tcp().socket().set_option(tcp::no_delay{true}, ignored);
    if (conn_->tls())
      return handshake();
    write();
  }

  void handshake() {
    SSL* ssl = conn_->tls()->native_handle();
    const auto& host = client_->origin.host;
    beast::error_code not_an_address;
    net::ip::make_address(host, not_an_address);
    bool is_address = !not_an_address;
    // SNI lets a server with many names pick the right certificate; RFC 6066
    // allows only names in it, never address literals.
    if (!is_address && SSL_set_tlsext_host_name(ssl, host.c_str()) != 1)
      return fail_with("TLS setup failed: cannot set the server name", failure_reason::tls);
    if (client_->options.verify_peer) {
      // The name check goes into OpenSSL's own chain verification (the same
      // X509_check_host/X509_check_ip_asc that ssl::host_name_verification
      // calls from a verify callback). A callback's refusal leaves OpenSSL's
      // verify result unspecified, while this way a wrong name is reported as
      // "hostname mismatch" / "IP address mismatch".
      SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      int named = is_address ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str())
                             : SSL_set1_host(ssl, host.c_str());
      if (named != 1)
        return fail_with("TLS setup failed: cannot set the expected server name", failure_reason::tls);
    }
    conn_->tcp().expires_at(setup_deadline_);
    conn_->tls()->async_handshake(ssl::stream_base::client, [self = shared_from_this()](beast::error_code ec) {
      if (ec)
        return self->fail(ec, tls_handshake_step);
      self->write();
    });
  }

  // -- the exchange: write, read header, read body ---------------------------

  void write() {
    phase_timeout_ = timeout_;
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

  // -- outcomes ---------------------------------------------------------------

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
    if (reusable && client_->idle.size() < client_->options.max_idle_connections) {
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

  /// The one I/O error path. `step` names what failed; the message never
  /// carries the target, whose path may be a credential.
  void fail(beast::error_code ec, const char* step) {
    // A pooled connection the peer closed while it sat idle fails before any
    // response byte arrives; the request gets one fresh connection. (For TLS
    // that shows as a truncated stream or a reset, the same as for plain TCP.)
    bool nothing_received = !parser_ || (!parser_->got_some() && conn_->buffer().size() == 0);
    if (reused_ && !retried_ && nothing_received && ec != beast::error::timeout) {
      retried_ = true;
      conn_.reset();
      parser_.reset();
      return connect_fresh();
    }
    if (ec == beast::error::timeout || resolve_timed_out_)
      return fail_with(std::string{step} + ": timeout after " + std::to_string(phase_timeout_.count()) + " ms",
                       failure_reason::timeout);
    SSL* ssl = conn_ && conn_->tls() ? conn_->tls()->native_handle() : nullptr;
    fail_with(std::string{step} + ": " + describe_tls_error(ec, ssl),
              step == std::string_view{tls_handshake_step} ? failure_reason::tls : failure_reason::connect);
  }

  void fail_with(std::string transport_error, failure_reason why) {
    http_outcome out;
    out.transport_error = std::move(transport_error);
    out.transport_failure = why;
    conn_.reset(); // plain TCP close; a TLS close_notify is not worth a round trip to a peer we give up on
    finish(std::move(out));
  }

  void finish(http_outcome out) {
    auto done = std::move(done_);
    done(std::move(out));
  }

  std::shared_ptr<http_client::impl> client_; // first: destroyed last, after conn_ and its TLS state
  millis timeout_;
  std::function<void(http_outcome)> done_;
  std::chrono::steady_clock::time_point deadline_;
  std::chrono::steady_clock::time_point setup_deadline_; // of the current connection's setup
  millis phase_timeout_{0};                              // the bound a timeout now would have hit
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

http_client::http_client(net::io_context& io, url origin, http_client_options options)
  : impl_(std::make_shared<impl>(io, std::move(origin), std::move(options))) {}

http_client::~http_client() {
  // Idle connections belong to the strand; drop them there. Calls in flight
  // keep the impl alive until they finish.
  net::post(impl_->strand_, [i = impl_] { i->idle.clear(); });
}

const std::optional<std::string>& http_client::setup_error() const { return impl_->setup_error; }

void http_client::send(http_call call, std::function<void(http_outcome)> done) {
  if (impl_->setup_error) {
    net::post(impl_->strand_, [error = *impl_->setup_error, done = std::move(done)] {
      http_outcome out;
      out.transport_error = error;
      out.transport_failure = error.rfind("TLS", 0) == 0 ? failure_reason::tls : failure_reason::other;
      done(std::move(out));
    });
    return;
  }
  auto op = std::make_shared<call_op>(impl_, std::move(call), std::move(done));
  net::post(impl_->strand_, [op] { op->start(); });
}

} // namespace txrelay
