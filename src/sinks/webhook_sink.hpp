#pragma once
// Generic webhooks per Standard Webhooks: a POST of the event as JSON with
// webhook-id (the delivery id, the same on every retry, so receivers can
// de-duplicate), webhook-timestamp and, with a secret, webhook-signature.
#include "core/standard_webhooks.hpp"
#include "sinks/http_client.hpp"
#include "sinks/sink_transport.hpp"

#include <memory>
#include <string>
#include <vector>

namespace txrelay {

/// The webhook body: {"id","topic","key","payload","created_at"}.
std::string webhook_body(const delivery_job& job);

/// What a webhook response means for the delivery (Standard Webhooks practice):
/// 2xx delivered; 410 permanent and the sink broken (the endpoint is gone);
/// `webhook-delivery: abort-message` permanent for this message only; anything
/// else, 3xx included (redirects are not followed), is retried, honouring
/// Retry-After. X-RateLimit-Remaining: 0 sets retry_after on any response.
attempt_result classify_webhook_response(const http_outcome& outcome, time_point now);

class webhook_sink final : public sink_transport {
public:
  /// `render`: the body from the sink's `body` template; empty: webhook_body(job).
  webhook_sink(boost::asio::io_context& io, url endpoint, std::vector<secret_key> keys, millis timeout,
               std::shared_ptr<const txrelay::clock> clock, http_client_options client_options = {},
               body_renderer render = {});
  void attempt(const delivery_job& job, attempt_callback done) override;

private:
  http_client client_;
  std::string target_;
  std::vector<secret_key> keys_;
  millis timeout_;
  std::shared_ptr<const txrelay::clock> clock_;
  body_renderer render_;
};

/// Prints each delivery as one line on standard output.
class log_sink final : public sink_transport {
public:
  explicit log_sink(std::string name) : name_(std::move(name)) {}
  void attempt(const delivery_job& job, attempt_callback done) override;

private:
  std::string name_;
};

} // namespace txrelay
