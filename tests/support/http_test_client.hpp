#pragma once
// A blocking HTTP/1.1 client for tests (Beast, one connection per call).
#include "http/message.hpp"

#include <chrono>
#include <cstdint>
#include <string>

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

} // namespace txrelay::testing
