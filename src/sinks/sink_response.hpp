#pragma once
// What every HTTP sink reads the same way in a response: how long the sink
// says to wait, and keeping its credential out of the error text.
#include "core/delivery.hpp"
#include "core/rate_limit_headers.hpp"
#include "sinks/http_client.hpp"

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace txrelay {

/// X-RateLimit-Remaining: 0 with X-RateLimit-Reset-After / X-RateLimit-Reset.
std::optional<millis> rate_limit_wait(const http_outcome& outcome, time_point now);

/// The Retry-After header (delay-seconds or HTTP-date), if present and valid.
std::optional<millis> retry_after_header(const http_outcome& outcome, time_point now);

/// What every HTTP sink reads the same way, before its own rules: a
/// transport failure retries (with the failure as the error), a 2xx is
/// delivered. Either is returned whole. Otherwise nullopt, and `r` holds the
/// status and any X-RateLimit wait, ready for the provider's own reading.
std::optional<attempt_result> settled_verdict(const http_outcome& outcome, time_point now, attempt_result& r);

/// The verdict for a status the provider has no rule of its own for: 4xx
/// permanent; 3xx (redirects are not followed) and 5xx retried after at least
/// the Retry-After header's wait. `r.error` must already describe the answer.
attempt_result fallback_verdict(attempt_result r, const http_outcome& outcome, time_point now);

/// The Retry-After header's wait, or the X-RateLimit wait already in `r` if longer.
void honour_retry_after(attempt_result& r, const http_outcome& outcome, time_point now);

/// The start of the sink's answer for the attempt history (at most
/// response_excerpt_limit bytes of valid UTF-8), with `redact` (the sink's
/// credential) and any bearer token removed before it is cut, so a secret
/// across the cut leaves no prefix behind. Empty without a response.
std::string response_excerpt(const http_outcome& outcome, const std::function<void(std::string&)>& redact);

/// Replaces the token after each "Bearer " (any case) in `text` with "…".
void redact_bearer_tokens(std::string& text);

/// Replaces every occurrence of `secret` (a token) in `text` with "…".
void redact_secret(std::string& text, std::string_view secret);

/// Replaces the url's path (`target`, the credential of a Discord or Slack
/// webhook) and each long segment of it (a token) with "…" wherever it
/// appears in `text`: an error body that echoes the request path (a proxy's
/// "Cannot POST /api/webhooks/1/TOKEN") must not store the token.
void redact_target(std::string& text, std::string_view target);

} // namespace txrelay
