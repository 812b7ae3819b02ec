#pragma once
// A blocking HTTP/1.1 client for tests (Beast, one connection per call).
#include "http/message.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace txrelay::testing {

struct test_response {
  int status = 0; // 0 when the connection failed
  http::header_list headers;
  std::string body;
  std::string_view header(std::string_view name) const { return http::find_header(headers, name); }
};

test_response http_call(std::uint16_t port, const std::string& method, const std::string& target,
                        const std::string& body = {}, const http::header_list& headers = {},
                        std::chrono::milliseconds timeout = std::chrono::seconds{10});

/// POST with content-type application/json.
test_response post_json(std::uint16_t port, const std::string& target, const std::string& body,
                        http::header_list headers = {});

/// One connection kept open across calls: for keep-alive, and for sending
/// bytes that are not HTTP at all. Every read and write is bounded by `timeout`.
class http_test_connection {
public:
  explicit http_test_connection(std::uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds{10});
  ~http_test_connection();
  http_test_connection(const http_test_connection&) = delete;
  http_test_connection& operator=(const http_test_connection&) = delete;

  bool connected() const;

  /// Writes a request (Content-Length set) and reads its response; status 0 on failure.
  test_response call(const std::string& method, const std::string& target, const std::string& body = {},
                     const http::header_list& headers = {});

  bool send_raw(std::string_view bytes);
  test_response read_response();

  /// True when the peer closed the connection: the next read finds its end.
  bool closed_by_peer();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace txrelay::testing
