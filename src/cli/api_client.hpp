#pragma once
// A small blocking HTTP/1.1 client for the operator commands: one request
// per connection to txrelay's API, over http or https, everything from
// resolving the name to the last byte of the answer bounded by one timeout.
// (The sinks' client in src/sinks is asynchronous and pooled, and caps
// answers at 1 MiB, less than one event's payload may be.)
#include "cli/operator_commands.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"
#include "core/url.hpp"

#include <memory>
#include <optional>
#include <string>

namespace txrelay::cli {

struct api_answer {
  int status = 0;
  std::string body;
};

/// Why no answer came. `code` is one of: unreachable (name, connection, or
/// the connection dropped), timeout, tls, bad_response (not HTTP, or too big).
struct api_failure {
  std::string code;
  std::string message; // names the server as scheme://host:port, never a key
};

struct api_client_options {
  millis timeout = default_api_timeout; // connect + request + answer
  std::optional<std::string> api_key;   // sent as Authorization: Bearer; never in any message
  std::string ca_file;                  // https: trust anchors in addition to the system store
};

class api_client {
public:
  /// `base` is the server's URL; a path in it (a reverse proxy's prefix)
  /// goes before every request's path. The error is for an unusable setup
  /// (an unreadable ca_file).
  static result<std::unique_ptr<api_client>, std::string> create(url base, api_client_options options);
  ~api_client();
  api_client(const api_client&) = delete;
  api_client& operator=(const api_client&) = delete;

  result<api_answer, api_failure> call(const api_request& request);

  struct impl; // in api_client.cpp

private:
  explicit api_client(std::unique_ptr<impl> i);
  std::unique_ptr<impl> impl_;
};

} // namespace txrelay::cli
