#pragma once
// HTTP requests and responses as plain data, so routing and handlers are
// testable without sockets and Beast stays inside server.cpp.
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace txrelay::http {

using header_list = std::vector<std::pair<std::string, std::string>>;

/// Case-insensitive lookup; empty when absent.
/// ASCII case-insensitive equality: header names and tokens such as `100-continue`.
bool iequals(std::string_view a, std::string_view b);

std::string_view find_header(const header_list& headers, std::string_view name);

struct request {
  std::string method; // "GET", "POST", ...
  std::string target; // path and query as sent
  header_list headers;
  std::string body;

  std::string_view header(std::string_view name) const { return find_header(headers, name); }
  std::string_view path() const; // target without the query
  /// The query parameter `name`, percent-decoded ('+' is a space); the
  /// first if repeated; nullopt when absent. A value with a bad escape is
  /// returned as sent, for the caller's validation to refuse.
  std::optional<std::string> query_param(std::string_view name) const;
};

struct response {
  int status = 200;
  std::string content_type = "application/json";
  header_list headers;
  std::string body;
  // Which of the handler's routes answered ("GET /v1/events/{id}"), for
  // metrics; never written to the wire. Empty: the server answered itself.
  std::string route;
};

/// Called for every response written: its route (empty if the server
/// answered itself) and status.
using response_observer = std::function<void(std::string_view route, int status)>;

/// Called exactly once, from any thread.
using respond_fn = std::function<void(response)>;
using request_handler = std::function<void(request&&, respond_fn)>;

} // namespace txrelay::http
