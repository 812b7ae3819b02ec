#pragma once
// Sink URLs. The path and query of a sink URL often carry the credential
// (Discord's /webhooks/{id}/{token}, Slack's /services/T/B/X), so only
// `redacted()` may ever reach a log, a metric or an API response.
#include "core/result.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace txrelay {

struct url {
  std::string scheme; // "http" or "https"
  std::string host;
  std::uint16_t port = 0;
  std::string target; // path and query, at least "/"

  /// scheme://host:port/… with the path and query hidden.
  std::string redacted() const;
};

result<url, std::string> parse_url(std::string_view text);

} // namespace txrelay
