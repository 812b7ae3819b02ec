#include "sinks/json_post_sink.hpp"

#include "sinks/sink_response.hpp"

namespace txrelay {

json_post_options secret_url_post(url webhook, millis timeout, body_renderer body, response_classifier classify) {
  json_post_options o;
  o.target = webhook.target;
  o.endpoint = std::move(webhook);
  o.timeout = timeout;
  o.body = std::move(body);
  o.classify = std::move(classify);
  o.redact = [target = o.target](std::string& text) { redact_target(text, target); };
  return o;
}

json_post_sink::json_post_sink(boost::asio::io_context& io, json_post_options options,
                               std::shared_ptr<const txrelay::clock> clock, http_client_options client_options)
  : options_(std::move(options)), client_(io, options_.endpoint, std::move(client_options)), clock_(std::move(clock)) {
  options_.headers.emplace_back("content-type", "application/json");
}

void json_post_sink::attempt(const delivery_job& job, attempt_callback done) {
  http_call call;
  call.target = options_.target;
  call.timeout = options_.timeout;
  call.headers = options_.headers;
  call.body = options_.body(job);
  client_.send(std::move(call), [clock = clock_, classify = options_.classify, redact = options_.redact,
                                 done = std::move(done)](http_outcome outcome) {
    auto r = classify(outcome, clock->now());
    if (redact)
      redact(r.error);
    if (r.outcome != attempt_result::verdict::delivered) // a success's answer says nothing to keep
      r.response_excerpt = response_excerpt(outcome, redact);
    done(std::move(r));
  });
}

} // namespace txrelay
