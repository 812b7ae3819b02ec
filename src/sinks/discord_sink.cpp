#include "sinks/discord_sink.hpp"

#include "core/json.hpp"
#include "core/utf8.hpp"
#include "sinks/chat_text.hpp"
#include "sinks/sink_response.hpp"

#include <simdjson.h>

namespace txrelay {

namespace {

/// The fields of a Discord error body that txrelay reads; all optional,
/// since a proxy in front of Discord (Cloudflare) may answer with HTML.
struct discord_error_body {
  std::optional<long long> code;
  std::string message;
  std::optional<double> retry_after;
  bool global = false;
};

discord_error_body read_error_body(std::string_view body) {
  discord_error_body out;
  if (body.empty())
    return out;
  thread_local simdjson::dom::parser parser;
  simdjson::dom::object object;
  if (parser.parse(body.data(), body.size()).get_object().get(object) != simdjson::SUCCESS)
    return out;
  for (auto [name, value] : object) {
    if (name == "code") {
      std::int64_t code = 0;
      if (value.get_int64().get(code) == simdjson::SUCCESS)
        out.code = code;
    } else if (name == "message") {
      std::string_view message;
      if (value.get_string().get(message) == simdjson::SUCCESS)
        out.message = std::string{message};
    } else if (name == "retry_after") {
      double seconds = 0;
      if (value.get_double().get(seconds) == simdjson::SUCCESS) // an integer is a double too
        out.retry_after = seconds;
    } else if (name == "global") {
      bool global = false;
      if (value.get_bool().get(global) == simdjson::SUCCESS)
        out.global = global;
    }
  }
  return out;
}

/// "HTTP 404: Unknown Webhook (Discord code 10015)"; the body's text when it
/// is not Discord's JSON.
std::string discord_error(const http_outcome& outcome, const discord_error_body& body) {
  std::string error = "HTTP " + std::to_string(outcome.status);
  if (!body.message.empty())
    error += ": " + one_line_excerpt(body.message);
  else if (!body.code && !outcome.body.empty())
    error += ": " + one_line_excerpt(outcome.body);
  if (body.code)
    error += " (Discord code " + std::to_string(*body.code) + ")";
  if (body.global)
    error += " (global rate limit)";
  return error;
}

} // namespace

std::string discord_content(const delivery_job& job) { return default_chat_text(job, discord_content_limit); }

namespace {

std::string body_with(const discord_message& m) {
  std::string body = "{";
  auto field = [&](const char* name, std::string_view value) {
    body += body.size() > 1 ? ",\"" : "\"";
    body += name;
    body += "\":";
    append_json_string(body, value);
  };
  if (m.content)
    field("content", *m.content);
  if (m.username)
    field("username", prefix_code_points(*m.username, discord_username_limit));
  if (m.avatar_url)
    field("avatar_url", *m.avatar_url);
  if (m.embeds_json) {
    body += body.size() > 1 ? ",\"embeds\":" : "\"embeds\":";
    body += *m.embeds_json;
  }
  body += body.size() > 1 ? ",\"allowed_mentions\":{\"parse\":[]}}" : "\"allowed_mentions\":{\"parse\":[]}}";
  return body;
}

std::string body_with(std::string_view content) { return body_with(discord_message{std::string{content}, {}, {}, {}}); }

std::size_t count_fences(std::string_view text) {
  std::size_t n = 0;
  for (auto at = text.find("```"); at != std::string_view::npos; at = text.find("```", at + 3))
    ++n;
  return n;
}

} // namespace

std::string discord_body(const delivery_job& job) { return body_with(discord_content(job)); }

std::string discord_body_for(const discord_message& message) {
  if (!message.content || count_code_points(*message.content) <= discord_content_limit)
    return body_with(message);
  constexpr std::string_view close = "\n```\n";
  auto room = discord_content_limit - count_code_points(chat_truncation_marker) - close.size();
  std::string cut{prefix_code_points(*message.content, room)};
  if (count_fences(cut) % 2 == 1)
    cut += close;
  cut += chat_truncation_marker;
  auto shortened = message;
  shortened.content = std::move(cut);
  return body_with(shortened);
}

std::string discord_body_for(std::string_view content) {
  return discord_body_for(discord_message{std::string{content}, {}, {}, {}});
}

attempt_result classify_discord_response(const http_outcome& outcome, time_point now) {
  attempt_result r;
  // Whatever the verdict: an exhausted bucket (X-RateLimit-*) holds back the next request.
  if (auto settled = settled_verdict(outcome, now, r))
    return *settled;
  auto body = read_error_body(outcome.body);
  r.error = discord_error(outcome, body);

  if (outcome.status == 429) {
    r.outcome = attempt_result::verdict::retry;
    // The body's float is exact; the header is the same wait rounded to
    // whole seconds, so it only stands in when the body has none.
    auto asked = body.retry_after ? wait_from_seconds(*body.retry_after) : retry_after_header(outcome, now);
    r.retry_after = longer_wait(r.retry_after, asked);
    return r;
  }
  // Discord's "do not use it again": every later delivery would fail the
  // same way, so the sink is broken, not just this delivery.
  r.sink_broken = (outcome.status == 404 && body.code == discord_unknown_webhook) ||
                  (outcome.status == 401 && body.code == discord_invalid_webhook_token);
  return fallback_verdict(std::move(r), outcome, now);
}

discord_sink::discord_sink(boost::asio::io_context& io, url webhook, millis timeout,
                           std::shared_ptr<const txrelay::clock> clock, http_client_options client_options,
                           body_renderer render)
  : json_post_sink(io,
                   secret_url_post(std::move(webhook), timeout,
                                   render ? std::move(render) : body_renderer{discord_body}, classify_discord_response),
                   std::move(clock),
                   std::move(client_options)) {}

} // namespace txrelay
