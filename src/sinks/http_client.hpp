#pragma once
// An asynchronous HTTP/1.1 client for one origin (scheme, host, port), with a
// pool of keep-alive connections, speaking TLS when the scheme is https. Used
// by the HTTP sinks; completions run on the io_context's threads and must not
// block.
#include "core/clock.hpp"
#include "core/delivery.hpp"
#include "core/url.hpp"
#include "http/message.hpp"

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace boost::asio {
class io_context;
}

namespace txrelay {

struct http_call {
  std::string method = "POST";
  std::string target; // path and query
  http::header_list headers;
  std::string body;
  millis timeout{10'000}; // connect + write + read, the whole call
};

struct http_outcome {
  bool transport_ok = false;   // false: no complete response (resolve, connect, TLS, timeout, reset)
  std::string transport_error; // set when !transport_ok; names the step, never the URL's path
  failure_reason transport_failure = failure_reason::connect; // set when !transport_ok
  int status = 0;
  http::header_list headers;
  std::string body;
  bool body_truncated = false; // the body was over the client's limit (1 MiB); `body` holds what fit, if anything
};

/// How a client connects; fixed for the client's life.
struct http_client_options {
  std::size_t max_idle_connections = 16;
  /// https only. Extra trust anchors (PEM, one or more certificates), trusted
  /// in addition to the system store: for a sink behind a private CA, and tests.
  std::string ca_file;
  /// https only. false accepts any certificate for any name: an explicit,
  /// per-sink opt-out, never a default.
  bool verify_peer = true;
  /// Bounds resolve + connect + TLS handshake of a new connection. The call's
  /// own `timeout` still bounds the whole call, so the smaller one wins.
  millis connect_timeout{5'000};
};

class http_client {
public:
  /// `origin.target` is ignored; each call carries its own target.
  http_client(boost::asio::io_context& io, url origin, http_client_options options = {});
  ~http_client();
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;

  /// Sends one request; `done` is called exactly once. A pooled connection that
  /// turns out closed by the peer before any response byte is retried once on a
  /// fresh connection. Redirects are not followed (a 3xx is returned as is).
  void send(http_call call, std::function<void(http_outcome)> done);

  /// Set when the client cannot work at all (an unreadable `ca_file`, a scheme
  /// other than http/https); every send() then fails with this text, so a
  /// caller may report it once at start instead.
  const std::optional<std::string>& setup_error() const;

  struct impl; // in http_client.cpp

private:
  std::shared_ptr<impl> impl_;
};

} // namespace txrelay
