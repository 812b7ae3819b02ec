#pragma once
// One POST of a JSON body per attempt, to one place: what the Discord, Slack
// and Notion sinks have in common. Each provider supplies the body, its own
// headers and how it reads an answer; this class owns the connection pool and
// keeps the provider's credential (a url path, a token) out of every error.
#include "sinks/http_client.hpp"
#include "sinks/sink_transport.hpp"

#include <functional>
#include <memory>
#include <string>

namespace txrelay {

using response_classifier = std::function<attempt_result(const http_outcome&, time_point now)>;

struct json_post_options {
  url endpoint;               // scheme, host and port of every request
  std::string target;         // the request path (and query)
  millis timeout{10'000};     // the whole call
  http::header_list headers;  // besides content-type: application/json
  body_renderer body;         // required
  response_classifier classify;
  std::function<void(std::string&)> redact; // removes the credential from an error text
};

/// Options for a POST to a url whose path is the credential (a Discord or
/// Slack webhook): the path is the target, and is redacted from errors.
json_post_options secret_url_post(url webhook, millis timeout, body_renderer body, response_classifier classify);

class json_post_sink : public sink_transport {
public:
  json_post_sink(boost::asio::io_context& io, json_post_options options, std::shared_ptr<const txrelay::clock> clock,
                 http_client_options client_options = {});
  void attempt(const delivery_job& job, attempt_callback done) override;

private:
  json_post_options options_;
  http_client client_;
  std::shared_ptr<const txrelay::clock> clock_;
};

} // namespace txrelay
