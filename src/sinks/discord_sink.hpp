#pragma once
// Discord's execute-webhook API: a POST of {"content": ...} to the webhook
// url, whose path (/api/webhooks/{id}/{token}) is the credential. Discord
// publishes its limits in X-RateLimit-* headers on every reply and answers an
// overrun with 429 and a float `retry_after`; a caller that keeps hammering
// gets banned, so every wait it names is honoured for the whole sink.
#include "sinks/json_post_sink.hpp"

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

namespace txrelay {

/// Discord refuses content over 2000 characters (code points) with 400 50035.
inline constexpr std::size_t discord_content_limit = 2000;

/// Discord's JSON error codes that mean the webhook itself is unusable.
inline constexpr long long discord_unknown_webhook = 10015;
inline constexpr long long discord_invalid_webhook_token = 50027;

/// The message content: default_chat_text, cut to discord_content_limit.
std::string discord_content(const delivery_job& job);

/// {"content": ..., "allowed_mentions": {"parse": []}}: event data is not
/// allowed to ping @everyone, roles or users.
std::string discord_body(const delivery_job& job);

/// Discord cuts a username at 80 characters and refuses a longer one.
inline constexpr std::size_t discord_username_limit = 80;

/// A message as rendered from a sink's templates; what is unset is left out.
struct discord_message {
  std::optional<std::string> content;
  std::optional<std::string> username;
  std::optional<std::string> avatar_url;
  std::optional<std::string> embeds_json; // a JSON array
};

/// The body of `message`, mentions disabled: content longer than the limit
/// is cut with chat_truncation_marker (never refused), and a ``` block the
/// cut left open is closed first, so the marker is not swallowed by it; a
/// username is cut to its limit.
std::string discord_body_for(const discord_message& message);
/// The same for content alone.
std::string discord_body_for(std::string_view content);

/// What a Discord response means for the delivery:
/// - 2xx (204, or 200 with ?wait=true): delivered;
/// - 429: retry after the body's `retry_after` (else the Retry-After header);
/// - 404 code 10015 / 401 code 50027: permanent, and the sink is broken;
/// - any other 4xx (400 50035 Invalid Form Body, ...): permanent, Discord's
///   message in the error, since sending the same body again cannot succeed;
/// - 5xx, 3xx and transport errors: retry.
/// On every response, X-RateLimit-Remaining: 0 sets retry_after too, so the
/// sender pauses before the bucket is empty rather than after a 429.
/// The error names the status, Discord's code and message, never the url.
attempt_result classify_discord_response(const http_outcome& outcome, time_point now);

class discord_sink final : public json_post_sink {
public:
  /// `render`: the body from the sink's template; empty: discord_body(job).
  discord_sink(boost::asio::io_context& io, url webhook, millis timeout, std::shared_ptr<const txrelay::clock> clock,
               http_client_options client_options = {}, body_renderer render = {});
};

} // namespace txrelay
