#pragma once
// A fake sink: a real HTTP/1.1 server on 127.0.0.1 (an ephemeral port) whose
// replies a test scripts. It records every request, and can stall requests
// (hold them without answering) to simulate a hung sink. Given a TLS identity
// it speaks HTTPS instead.
#include "http/message.hpp"
#include "support/test_tls.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace txrelay::testing {

struct recorded_request {
  std::string method;
  std::string target;
  http::header_list headers;
  std::string body;
  std::chrono::system_clock::time_point received_at;
  std::string tls_server_name; // HTTPS: the name the client sent (SNI), empty if none
  std::string_view header(std::string_view name) const { return http::find_header(headers, name); }
};

struct fake_reply {
  int status = 204;
  http::header_list headers{}; // "Connection: close" closes the connection after the reply
  std::string body{};
  bool stall = false; // hold the request unanswered until release_stalled() or stop()
};

/// Decides the reply to the n-th request (0-based, counting every request received).
using fake_behaviour = std::function<fake_reply(const recorded_request&, std::size_t n)>;

class fake_sink_server {
public:
  explicit fake_sink_server(fake_behaviour behaviour = {}); // default: 204 to everything
  /// HTTPS: every connection starts with a TLS handshake presenting `identity`.
  explicit fake_sink_server(const tls_identity& identity, fake_behaviour behaviour = {});
  ~fake_sink_server();
  fake_sink_server(const fake_sink_server&) = delete;
  fake_sink_server& operator=(const fake_sink_server&) = delete;

  std::uint16_t port() const;
  std::string url(const std::string& path = "/hook") const; // http(s)://127.0.0.1:PORT/path

  void set_behaviour(fake_behaviour behaviour);
  std::vector<recorded_request> requests() const;
  std::size_t request_count() const;
  std::size_t connection_count() const; // connections accepted so far
  std::size_t tls_handshake_failures() const; // HTTPS: connections whose handshake failed (the client refused us)

  /// Blocks until at least `n` requests were received or `timeout` passes
  /// (a condition-variable wait, not a polling sleep). Returns whether n arrived.
  bool wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const;

  /// Closes the connections that wait for their next request, as a sink's
  /// own idle timeout would; returns how many it closed.
  std::size_t close_idle_connections();

  /// Stalled requests are answered with `reply` (connections stay usable).
  void release_stalled(fake_reply reply = {});

  void stop();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace txrelay::testing
