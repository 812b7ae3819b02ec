#include "sinks/sink_response.hpp"

#include "core/utf8.hpp"

#include <algorithm>
#include <cctype>

#include <vector>

namespace txrelay {

namespace {

void replace_all(std::string& text, std::string_view secret) {
  if (secret.empty())
    return;
  for (auto at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 3))
    text.replace(at, secret.size(), "…");
}

} // namespace

std::optional<millis> rate_limit_wait(const http_outcome& outcome, time_point now) {
  if (!outcome.transport_ok)
    return std::nullopt;
  return rate_limit_wait([&](std::string_view name) { return http::find_header(outcome.headers, name); }, now);
}

std::optional<millis> retry_after_header(const http_outcome& outcome, time_point now) {
  auto value = http::find_header(outcome.headers, "retry-after");
  if (!outcome.transport_ok || value.empty())
    return std::nullopt;
  return parse_retry_after(value, now);
}

std::optional<attempt_result> settled_verdict(const http_outcome& outcome, time_point now, attempt_result& r) {
  if (!outcome.transport_ok) {
    r.outcome = attempt_result::verdict::retry;
    r.error = outcome.transport_error;
    r.reason = outcome.transport_failure;
    return r;
  }
  r.http_status = outcome.status;
  r.reason = outcome.status == 429 ? failure_reason::rate_limited : failure_reason::status; // if it failed
  r.retry_after = rate_limit_wait(outcome, now);
  r.bucket = rate_limit_window([&](std::string_view name) { return http::find_header(outcome.headers, name); }, now);
  if (outcome.status >= 200 && outcome.status < 300) {
    r.outcome = attempt_result::verdict::delivered;
    return r;
  }
  return std::nullopt;
}

void honour_retry_after(attempt_result& r, const http_outcome& outcome, time_point now) {
  r.retry_after = longer_wait(r.retry_after, retry_after_header(outcome, now));
}

attempt_result fallback_verdict(attempt_result r, const http_outcome& outcome, time_point now) {
  if (outcome.status >= 400 && outcome.status < 500) {
    r.outcome = attempt_result::verdict::permanent;
    return r;
  }
  r.outcome = attempt_result::verdict::retry;
  if (outcome.status >= 300 && outcome.status < 400)
    r.error += " (redirects are not followed)";
  honour_retry_after(r, outcome, now);
  return r;
}

std::string response_excerpt(const http_outcome& outcome, const std::function<void(std::string&)>& redact) {
  if (!outcome.transport_ok || outcome.body.empty())
    return {};
  // Redaction reads more than is kept: a token that starts before the cut
  // is found whole.
  auto text = valid_utf8(std::string_view{outcome.body}.substr(0, 4 * response_excerpt_limit));
  if (redact)
    redact(text);
  redact_bearer_tokens(text);
  return std::string{prefix_bytes(text, response_excerpt_limit)};
}

void redact_bearer_tokens(std::string& text) {
  // "Bearer <token>" as an error body may echo an Authorization header.
  static constexpr std::string_view scheme = "bearer ";
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (auto at = lower.rfind(scheme); at != std::string::npos; at = at == 0 ? std::string::npos : lower.rfind(scheme, at - 1)) {
    auto start = at + scheme.size();
    auto end = start;
    while (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end])) && text[end] != '"' && text[end] != '\'')
      ++end;
    if (end > start)
      text.replace(start, end - start, "…");
  }
}

void redact_secret(std::string& text, std::string_view secret) { replace_all(text, secret); }

void redact_target(std::string& text, std::string_view target) {
  // Segments shorter than this are route words ("api", "webhooks",
  // "services") or Slack's team and channel ids; the tokens are longer
  // (Discord 68 characters, Slack 24).
  constexpr std::size_t min_secret_segment = 16;
  if (target.empty() || target == "/")
    return;
  auto path = target.substr(0, target.find('?'));
  replace_all(text, target);
  replace_all(text, path);
  // Each long part of it too: the path's segments, and the query's values
  // (a generic receiver may take its token as ?token=...).
  std::size_t start = 0;
  while (start <= target.size()) {
    auto end = target.find_first_of("/?&=", start);
    if (end == std::string_view::npos)
      end = target.size();
    if (end - start >= min_secret_segment)
      replace_all(text, target.substr(start, end - start));
    start = end + 1;
  }
}

} // namespace txrelay
