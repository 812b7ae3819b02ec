#pragma once
// What every HTTP sink reads the same way in a response: how long the sink
// says to wait, and keeping its credential out of the error text.
#include "core/rate_limit_headers.hpp"
#include "sinks/http_client.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace txrelay {

/// X-RateLimit-Remaining: 0 with X-RateLimit-Reset-After / X-RateLimit-Reset.
std::optional<millis> rate_limit_wait(const http_outcome& outcome, time_point now);

/// The Retry-After header (delay-seconds or HTTP-date), if present and valid.
std::optional<millis> retry_after_header(const http_outcome& outcome, time_point now);

/// Replaces the url's path (`target`, the credential of a Discord or Slack
/// webhook) and each long segment of it (a token) with "…" wherever it
/// appears in `text`: an error body that echoes the request path (a proxy's
/// "Cannot POST /api/webhooks/1/TOKEN") must not store the token.
void redact_target(std::string& text, std::string_view target);

} // namespace txrelay
