#include "sinks/webhook_sink.hpp"

#include "config/config.hpp"
#include "core/json.hpp"
#include "logging/log.hpp"

#include <algorithm>
#include <charconv>
#include <ctime>

namespace txrelay {

std::string webhook_body(const delivery_job& job) {
  std::string body;
  body.reserve(job.payload_json.size() + 160);
  body += "{\"id\":";
  append_json_string(body, job.event_id);
  body += ",\"topic\":";
  append_json_string(body, job.topic);
  body += ",\"key\":";
  if (job.key)
    append_json_string(body, *job.key);
  else
    body += "null";
  body += ",\"payload\":";
  body += job.payload_json;
  body += ",\"created_at\":";
  append_json_string(body, job.created_at);
  body += '}';
  return body;
}

std::optional<millis> parse_retry_after(std::string_view value, time_point now) {
  while (!value.empty() && value.front() == ' ')
    value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ')
    value.remove_suffix(1);
  if (value.empty())
    return std::nullopt;
  long long seconds = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  // A sink may ask for anything; a day is the most txrelay will wait (and
  // keeps the arithmetic and CAF's nanosecond timers far from overflow).
  constexpr long long max_seconds = 24 * 3600;
  if (ec == std::errc{} && end == value.data() + value.size()) {
    if (seconds < 0)
      return std::nullopt;
    return millis{std::min(seconds, max_seconds) * 1000};
  }
  // HTTP-date, IMF-fixdate form: "Sun, 06 Nov 1994 08:49:37 GMT".
  std::tm tm{};
  std::string text{value};
  const char* rest = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (rest == nullptr || *rest != '\0')
    return std::nullopt;
  // In whole seconds of time_t: a far-future date would overflow the
  // nanosecond system_clock.
  auto now_ms = std::chrono::duration_cast<millis>(now.time_since_epoch()).count();
  auto at_s = static_cast<long long>(timegm(&tm));
  if (at_s > now_ms / 1000 + max_seconds)
    return millis{max_seconds * 1000};
  auto delta = millis{at_s * 1000 - now_ms};
  return std::clamp(delta, millis{0}, millis{max_seconds * 1000});
}

attempt_result classify_webhook_response(const http_outcome& outcome, time_point now) {
  attempt_result r;
  if (!outcome.transport_ok) {
    r.outcome = attempt_result::verdict::retry;
    r.error = outcome.transport_error;
    return r;
  }
  r.http_status = outcome.status;
  if (outcome.status >= 200 && outcome.status < 300) {
    r.outcome = attempt_result::verdict::delivered;
    return r;
  }
  r.error = "HTTP " + std::to_string(outcome.status);
  if (outcome.status == 410) {
    r.outcome = attempt_result::verdict::permanent;
    r.error += " Gone: the endpoint is disabled";
    return r;
  }
  r.outcome = attempt_result::verdict::retry;
  if (outcome.status >= 300 && outcome.status < 400)
    r.error += ": redirects are not followed";
  if (auto ra = http::find_header(outcome.headers, "retry-after"); !ra.empty())
    r.retry_after = parse_retry_after(ra, now);
  return r;
}

webhook_sink::webhook_sink(boost::asio::io_context& io, url endpoint, std::vector<secret_key> keys, millis timeout,
                           std::shared_ptr<const txrelay::clock> clock)
  : client_(io, endpoint), target_(endpoint.target), keys_(std::move(keys)), timeout_(timeout),
    clock_(std::move(clock)) {}

void webhook_sink::attempt(const delivery_job& job, attempt_callback done) {
  http_call call;
  call.target = target_;
  call.timeout = timeout_;
  call.body = webhook_body(job);
  auto now = clock_->now();
  auto ts = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  call.headers = {{"content-type", "application/json"},
                  {"webhook-id", job.id},
                  {"webhook-timestamp", std::to_string(ts)}};
  if (!keys_.empty())
    call.headers.emplace_back("webhook-signature", webhook_signature_header(keys_, job.id, ts, call.body));
  client_.send(std::move(call), [clock = clock_, done = std::move(done)](http_outcome outcome) {
    done(classify_webhook_response(outcome, clock->now()));
  });
}

void log_sink::attempt(const delivery_job& job, attempt_callback done) {
  std::string line = "[" + name_ + "] delivery " + job.id + " ";
  line += webhook_body(job);
  // Delivered once the line is flushed, not when it is queued: a crash in
  // between leaves the delivery pending, so it is printed again.
  log::out(std::move(line), [done = std::move(done)] {
    attempt_result r;
    r.outcome = attempt_result::verdict::delivered;
    done(std::move(r));
  });
}

std::shared_ptr<sink_transport> make_sink_transport(const sink_config& config, boost::asio::io_context& io,
                                                   std::shared_ptr<const txrelay::clock> clock) {
  switch (config.kind) {
    case sink_kind::log:
      return std::make_shared<log_sink>(config.name);
    case sink_kind::webhook: {
      std::vector<secret_key> keys;
      for (const auto& s : config.secrets)
        if (auto k = decode_webhook_secret(s))
          keys.push_back(std::move(*k)); // validated at config load
      return std::make_shared<webhook_sink>(io, *config.endpoint, std::move(keys), config.request_timeout,
                                            std::move(clock));
    }
  }
  return nullptr;
}

} // namespace txrelay
