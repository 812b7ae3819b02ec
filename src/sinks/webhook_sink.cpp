#include "sinks/webhook_sink.hpp"

#include "core/json.hpp"
#include "logging/log.hpp"
#include "sinks/sink_response.hpp"

#include <cctype>

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

attempt_result classify_webhook_response(const http_outcome& outcome, time_point now) {
  attempt_result r;
  // Whatever the verdict: an exhausted X-RateLimit budget holds back the next request.
  if (auto settled = settled_verdict(outcome, now, r))
    return *settled;
  r.error = "HTTP " + std::to_string(outcome.status);
  if (outcome.status == 410) {
    // Standard Webhooks: 410 disables the endpoint, so every later delivery
    // would be refused too.
    r.outcome = attempt_result::verdict::permanent;
    r.sink_broken = true;
    r.error += " Gone: the endpoint is disabled";
    return r;
  }
  // Svix's convention: the receiver refuses this one message for good, while
  // the endpoint stays fine for the others.
  if (http::iequals(http::find_header(outcome.headers, "webhook-delivery"), "abort-message")) {
    r.outcome = attempt_result::verdict::permanent;
    r.error += ": the receiver aborted this message (webhook-delivery: abort-message)";
    return r;
  }
  r.outcome = attempt_result::verdict::retry;
  if (outcome.status >= 300 && outcome.status < 400)
    r.error += ": redirects are not followed";
  honour_retry_after(r, outcome, now);
  return r;
}

webhook_sink::webhook_sink(boost::asio::io_context& io, url endpoint, std::vector<secret_key> keys, millis timeout,
                           std::shared_ptr<const txrelay::clock> clock, http_client_options client_options,
                           body_renderer render)
  : client_(io, endpoint, std::move(client_options)), target_(endpoint.target), keys_(std::move(keys)),
    timeout_(timeout), clock_(std::move(clock)), render_(std::move(render)) {}

void webhook_sink::attempt(const delivery_job& job, attempt_callback done) {
  http_call call;
  call.target = target_;
  call.timeout = timeout_;
  call.body = render_ ? render_(job) : webhook_body(job);
  auto now = clock_->now();
  auto ts = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  call.headers = {{"content-type", "application/json"},
                  {"webhook-id", job.id},
                  {"webhook-timestamp", std::to_string(ts)}};
  if (!keys_.empty())
    call.headers.emplace_back("webhook-signature", webhook_signature_header(keys_, job.id, ts, call.body));
  client_.send(std::move(call), [clock = clock_, target = target_, done = std::move(done)](http_outcome outcome) {
    auto r = classify_webhook_response(outcome, clock->now());
    // A receiver's URL may carry its token in the path or query.
    if (r.outcome != attempt_result::verdict::delivered)
      r.response_excerpt = response_excerpt(outcome, [&](std::string& text) { redact_target(text, target); });
    done(std::move(r));
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

} // namespace txrelay
