#pragma once
// An asynchronous HTTP/1.1 server (Boost.Beast): keep-alive, body limits in the
// parser, a timeout on every read and write. It knows nothing about txrelay's
// endpoints: every parsed request goes to the request_handler.
#include "core/result.hpp"
#include "http/message.hpp"
#include "metrics/metrics.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace boost::asio {
class io_context;
}

namespace txrelay::http {

struct server_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080; // 0 = any free port
  std::size_t max_body_bytes = 1 << 20;
  // A request's headers (also the wait for the next request on a kept-alive
  // connection), and then its body, must each arrive within this long: a
  // client that sends byte by byte is closed, not waited for.
  std::chrono::milliseconds read_timeout{10'000};
  // Open connections at most; one more is answered 503 and closed at once.
  std::size_t max_connections = 1024;
  std::shared_ptr<http_connection_metrics> counters = std::make_shared<http_connection_metrics>();
};

class server {
public:
  /// `on_response` is called for every response written, including the
  /// ones the server produces itself (413, 400 for malformed HTTP).
  server(boost::asio::io_context& io, server_options options, request_handler handler,
         response_observer on_response = {});
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Binds and starts accepting; returns the bound port or a description of why not.
  result<std::uint16_t, std::string> start();

  /// The first step of a graceful stop (call from any thread): no new
  /// connection is accepted, a request read from now on is answered 503
  /// shutting_down, and every connection closes after its current response.
  /// Requests already being handled are answered as usual.
  void stop_accepting();

  /// Requests handed to the handler and not answered yet.
  std::size_t requests_in_progress() const;

  /// Stops accepting and closes open connections (call from any thread).
  void stop();

  struct impl; // in server.cpp

private:
  std::shared_ptr<impl> impl_;
};

} // namespace txrelay::http
