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
  if (auto settled = settled_verdict(outcome, now, r))
    return *settled;
  r.error = "HTTP " + std::to_string(outcome.status);
  if (auto text = one_line_excerpt(outcome.body); !text.empty())
    r.error += ": " + text;
  if (outcome.status == 429) {
    r.outcome = attempt_result::verdict::retry;
    honour_retry_after(r, outcome, now);
    return r;
  }
  return fallback_verdict(std::move(r), outcome, now);
}

slack_sink::slack_sink(boost::asio::io_context& io, url webhook, millis timeout,
                       std::shared_ptr<const txrelay::clock> clock, http_client_options client_options,
                       body_renderer render)
  : json_post_sink(io,
                   secret_url_post(std::move(webhook), timeout,
                                   render ? std::move(render) : body_renderer{slack_body}, classify_slack_response),
                   std::move(clock),
                   std::move(client_options)) {}

} // namespace txrelay
