#pragma once
// Slack incoming webhooks: a POST of {"text": ...} to the webhook url, whose
// path (/services/T…/B…/…) is the credential. Slack answers 200 "ok", or a
// plain-text error word (channel_not_found, invalid_payload, ...), and allows
// about one message per second per webhook: 429 with Retry-After beyond that.
#include "sinks/json_post_sink.hpp"

#include <memory>
#include <string>
#include <string_view>

namespace txrelay {

/// Slack's mrkdwn control characters: &, < and > become &amp;, &lt; and &gt;
/// (so event data cannot form <!channel> mentions or links).
std::string slack_escape(std::string_view text);

/// default_chat_text, escaped for Slack.
std::string slack_text(const delivery_job& job);

/// {"text": ...}
std::string slack_body(const delivery_job& job);

/// What a Slack response means for the delivery:
/// - 2xx: delivered;
/// - 429: retry after Retry-After;
/// - 400 (invalid_payload, user_not_found), 403 (action_prohibited),
///   404 (channel_not_found, no_service), 410 (channel_is_archived) and any
///   other 4xx: permanent, since the same message cannot succeed later;
/// - 5xx (rollup_error), 3xx and transport errors: retry.
/// The error is the status and Slack's plain-text body, cut to 200 characters.
attempt_result classify_slack_response(const http_outcome& outcome, time_point now);

class slack_sink final : public json_post_sink {
public:
  /// `render`: the body from the sink's templates; empty: slack_body(job).
  slack_sink(boost::asio::io_context& io, url webhook, millis timeout, std::shared_ptr<const txrelay::clock> clock,
             http_client_options client_options = {}, body_renderer render = {});
};

} // namespace txrelay
