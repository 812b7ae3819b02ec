// The one translation unit of src/cli that includes Beast: its templates are
// compiled here only.
#include "cli/api_client.hpp"

#include "core/version.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <exception>

namespace txrelay::cli {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using steady = std::chrono::steady_clock;

namespace {

// A server that cannot even be reached should not hold the whole budget.
constexpr millis max_connect_time{5'000};
// Far above any answer txrelay gives (an event's payload is at most
// server.max_body_bytes), yet bounded: --url could point anywhere.
constexpr std::uint64_t max_answer_body = 256ull << 20;
constexpr std::uint32_t max_answer_header = 64 * 1024;

std::string seconds_text(millis d) {
  auto tenths = (d.count() + 50) / 100;
  return std::to_string(tenths / 10) + (tenths % 10 ? "." + std::to_string(tenths % 10) : "") + " s";
}

/// OpenSSL's reason for a TLS failure, and for a refused certificate the
/// verifier's ("hostname mismatch", "self-signed certificate").
std::string tls_reason(beast::error_code ec, SSL* ssl) {
  if (ec.category() != net::error::get_ssl_category())
    return ec.message();
  const char* reason = ERR_reason_error_string(static_cast<unsigned long>(ec.value()));
  std::string text = reason ? reason : "TLS error " + std::to_string(ec.value());
  if (ssl) {
    if (long verify = SSL_get_verify_result(ssl); verify != X509_V_OK)
      text += std::string{" ("} + X509_verify_cert_error_string(verify) + ")";
  }
  return text;
}

/// The resolver has no deadline of its own: a timer cancels it. Both live
/// in this shared state, so the timer's handler never outlives them.
struct resolve_guard {
  explicit resolve_guard(const net::any_io_executor& ex) : resolver(ex), timer(ex) {}
  tcp::resolver resolver;
  net::steady_timer timer;
  bool timed_out = false;
};

} // namespace

struct api_client::impl {
  url base;
  std::string path_prefix; // base.target without its trailing "/"
  api_client_options options;
  std::unique_ptr<ssl::context> tls; // https only

  std::string origin() const {
    auto host = base.host.find(':') != std::string::npos ? "[" + base.host + "]" : base.host;
    return base.scheme + "://" + host + ":" + std::to_string(base.port);
  }

  std::string host_header() const {
    auto host = base.host.find(':') != std::string::npos ? "[" + base.host + "]" : base.host;
    bool default_port = (base.scheme == "http" && base.port == 80) || (base.scheme == "https" && base.port == 443);
    return default_port ? host : host + ":" + std::to_string(base.port);
  }

  bhttp::request<bhttp::string_body> make_request(const api_request& r) const {
    bhttp::request<bhttp::string_body> req;
    req.version(11);
    req.method_string(r.method);
    req.target(path_prefix + r.target);
    req.set(bhttp::field::host, host_header());
    req.set(bhttp::field::user_agent, std::string{"txrelay-cli/"} + version);
    req.set(bhttp::field::accept, "application/json");
    if (options.api_key && !options.api_key->empty())
      req.set(bhttp::field::authorization, "Bearer " + *options.api_key);
    if (r.method != "GET")
      req.set(bhttp::field::content_type, "application/json");
    req.body() = r.body;
    req.keep_alive(false);
    req.prepare_payload();
    return req;
  }

  /// The whole call, on `io`'s one thread; `out` holds the outcome when it returns.
  net::awaitable<void> exchange(bhttp::request<bhttp::string_body> req, result<api_answer, api_failure>& out) {
    auto ex = co_await net::this_coro::executor;
    const auto start = steady::now();
    const auto deadline = start + options.timeout;
    const auto connect_bound = std::min(options.timeout, max_connect_time);
    const auto connect_deadline = start + connect_bound;
    beast::error_code ec;
    auto token = net::redirect_error(net::use_awaitable, ec);
    auto fail = [&](std::string code, std::string message) {
      out = unexpected{api_failure{std::move(code), std::move(message)}};
    };

    // -- resolve, connect, TLS handshake, all within connect_bound ------------
    auto guard = std::make_shared<resolve_guard>(ex);
    guard->timer.expires_at(connect_deadline);
    guard->timer.async_wait([guard](beast::error_code e) {
      if (e)
        return; // the resolve finished first
      guard->timed_out = true;
      guard->resolver.cancel();
    });
    auto endpoints = co_await guard->resolver.async_resolve(base.host, std::to_string(base.port), token);
    guard->timer.cancel();
    if (guard->timed_out) {
      fail("timeout", "cannot resolve " + base.host + " within " + seconds_text(connect_bound));
      co_return;
    }
    if (ec) {
      fail("unreachable", "cannot resolve " + base.host + ": " + ec.message());
      co_return;
    }

    // The deadlines sit on the TCP layer, under TLS when there is TLS.
    std::optional<beast::tcp_stream> plain{std::in_place, ex};
    std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
    auto tcp_layer = [&]() -> beast::tcp_stream& { return secure ? beast::get_lowest_layer(*secure) : *plain; };
    plain->expires_at(connect_deadline);
    co_await plain->async_connect(endpoints, token);
    if (ec == beast::error::timeout) {
      fail("timeout", "no connection to " + origin() + " within " + seconds_text(connect_bound));
      co_return;
    }
    if (ec) {
      fail("unreachable", "cannot connect to " + origin() + ": " + ec.message());
      co_return;
    }
    if (tls) {
      secure.emplace(std::move(*plain), *tls);
      plain.reset();
      SSL* ssl = secure->native_handle();
      beast::error_code not_an_address;
      net::ip::make_address(base.host, not_an_address);
      bool is_address = !not_an_address;
      // SNI carries names only (RFC 6066); the expected name or address goes
      // into OpenSSL's own chain check, so a mismatch is reported as one.
      if (!is_address)
        SSL_set_tlsext_host_name(ssl, base.host.c_str());
      SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      if (is_address)
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), base.host.c_str());
      else
        SSL_set1_host(ssl, base.host.c_str());
      co_await secure->async_handshake(ssl::stream_base::client, token);
      if (ec == beast::error::timeout) {
        fail("timeout", "no TLS handshake with " + origin() + " within " + seconds_text(connect_bound));
        co_return;
      }
      if (ec) {
        fail("tls", "TLS handshake with " + origin() + " failed: " + tls_reason(ec, ssl));
        co_return;
      }
    }

    // -- the request and its answer, within what is left of the timeout ------
    tcp_layer().expires_at(deadline);
    bhttp::response_parser<bhttp::string_body> parser;
    parser.header_limit(max_answer_header);
    parser.body_limit(max_answer_body);
    beast::flat_buffer buffer;
    if (secure) {
      co_await bhttp::async_write(*secure, req, token);
      if (!ec)
        co_await bhttp::async_read(*secure, buffer, parser, token);
    } else {
      co_await bhttp::async_write(*plain, req, token);
      if (!ec)
        co_await bhttp::async_read(*plain, buffer, parser, token);
    }
    if (ec == beast::error::timeout) {
      fail("timeout", "no answer from " + origin() + " within " + seconds_text(options.timeout));
      co_return;
    }
    if (ec == bhttp::error::body_limit) {
      fail("bad_response", "the answer from " + origin() + " is larger than " +
                             std::to_string(max_answer_body >> 20) + " MiB");
      co_return;
    }
    if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message) {
      fail("unreachable", origin() + " closed the connection before it answered");
      co_return;
    }
    if (ec && ec.category() == bhttp::make_error_code(bhttp::error::bad_version).category()) {
      fail("bad_response", origin() + " does not answer in HTTP/1.1 (" + ec.message() + ")");
      co_return;
    }
    if (ec) {
      fail("unreachable", "lost the connection to " + origin() + ": " + tls_reason(ec, nullptr));
      co_return;
    }
    auto& res = parser.get();
    out = api_answer{static_cast<int>(res.result_int()), std::move(res.body())};
    // Connection: close was asked for; the socket closes as it goes out of scope.
  }
};

api_client::api_client(std::unique_ptr<impl> i) : impl_(std::move(i)) {}
api_client::~api_client() = default;

result<std::unique_ptr<api_client>, std::string> api_client::create(url base, api_client_options options) {
  auto i = std::make_unique<impl>();
  i->path_prefix = base.target;
  while (!i->path_prefix.empty() && i->path_prefix.back() == '/')
    i->path_prefix.pop_back();
  if (i->path_prefix.find('?') != std::string::npos)
    return unexpected{std::string{"the server URL may have a path but no query"}};
  if (base.scheme == "https") {
    auto context = std::make_unique<ssl::context>(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
    beast::error_code ec;
    context->set_verify_mode(ssl::verify_peer, ec);
    context->set_default_verify_paths(ec);
    if (ec)
      return unexpected{"cannot use the system's trusted certificates: " + tls_reason(ec, nullptr)};
    if (!options.ca_file.empty()) {
      context->load_verify_file(options.ca_file, ec);
      if (ec)
        return unexpected{"cannot load --ca-file " + options.ca_file + ": " + tls_reason(ec, nullptr)};
    }
    i->tls = std::move(context);
  }
  i->base = std::move(base);
  i->options = std::move(options);
  return std::unique_ptr<api_client>{new api_client{std::move(i)}};
}

result<api_answer, api_failure> api_client::call(const api_request& request) {
  result<api_answer, api_failure> out = unexpected{api_failure{"unreachable", "no answer"}};
  net::io_context io{1};
  net::co_spawn(io, impl_->exchange(impl_->make_request(request), out), [&](std::exception_ptr e) {
    if (!e)
      return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      out = unexpected{api_failure{"unreachable", std::string{"request to "} + impl_->origin() + " failed: " + ex.what()}};
    }
  });
  io.run();
  return out;
}

} // namespace txrelay::cli
