#include "sinks/slack_sink.hpp"

#include "core/json.hpp"
#include "core/utf8.hpp"
#include "sinks/chat_text.hpp"
#include "sinks/sink_response.hpp"

namespace txrelay {

std::string slack_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string slack_text(const delivery_job& job) { return slack_escape(default_chat_text(job)); }

std::string slack_body(const delivery_job& job) {
  std::string body = "{\"text\":";
  append_json_string(body, slack_text(job));
  body += '}';
  return body;
}

attempt_result classify_slack_response(const http_outcome& outcome, time_point now) {
  attempt_result r;
  if (!outcome.transport_ok) {
    r.outcome = attempt_result::verdict::retry;
    r.error = outcome.transport_error;
    return r;
  }
  r.http_status = outcome.status;
  r.retry_after = rate_limit_wait(outcome, now); // Slack does not send these today; harmless if it starts
  if (outcome.status >= 200 && outcome.status < 300) {
    r.outcome = attempt_result::verdict::delivered;
    return r;
  }
  r.error = "HTTP " + std::to_string(outcome.status);
  if (auto text = one_line_excerpt(outcome.body); !text.empty())
    r.error += ": " + text;
  if (outcome.status == 429) {
    r.outcome = attempt_result::verdict::retry;
    r.retry_after = longer_wait(r.retry_after, retry_after_header(outcome, now));
    return r;
  }
  if (outcome.status >= 400 && outcome.status < 500) {
    r.outcome = attempt_result::verdict::permanent;
    return r;
  }
  r.outcome = attempt_result::verdict::retry;
  if (outcome.status >= 300 && outcome.status < 400)
    r.error += " (redirects are not followed)";
  r.retry_after = longer_wait(r.retry_after, retry_after_header(outcome, now));
  return r;
}

slack_sink::slack_sink(boost::asio::io_context& io, url webhook, millis timeout,
                           std::shared_ptr<const txrelay::clock> clock, http_client_options client_options,
                           body_renderer render)
  : client_(io, webhook, std::move(client_options)), target_(webhook.target), timeout_(timeout),
    render_(std::move(render)), clock_(std::move(clock)) {}

void slack_sink::attempt(const delivery_job& job, attempt_callback done) {
  http_call call;
  call.target = target_;
  call.timeout = timeout_;
  call.body = render_ ? render_(job) : slack_body(job);
  call.headers = {{"content-type", "application/json"}};
  client_.send(std::move(call), [clock = clock_, target = target_, done = std::move(done)](http_outcome outcome) {
    auto r = classify_slack_response(outcome, clock->now());
    redact_target(r.error, target);
    done(std::move(r));
  });
}

} // namespace txrelay
