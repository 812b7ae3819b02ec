#include "sinks/notion_sink.hpp"

namespace txrelay {

std::vector<notion_property> notion_default_properties(const delivery_job& job) {
  std::string title = job.topic;
  if (job.key)
    title += " " + *job.key;
  return {notion_property{"Name", notion_property_type::title, std::move(title)}};
}

std::string notion_pages_target(const url& api_base) {
  std::string path = api_base.target.substr(0, api_base.target.find('?'));
  while (!path.empty() && path.back() == '/')
    path.pop_back();
  return path + "/v1/pages";
}

notion_sink::notion_sink(boost::asio::io_context& io, notion_sink_options options,
                         std::shared_ptr<const txrelay::clock> clock, http_client_options client_options)
  : options_(std::move(options)), client_(io, options_.api_base, std::move(client_options)),
    target_(notion_pages_target(options_.api_base)), clock_(std::move(clock)) {}

void notion_sink::attempt(const delivery_job& job, attempt_callback done) {
  auto properties = options_.render ? options_.render(job) : notion_default_properties(job);
  http_call call;
  call.target = target_;
  call.timeout = options_.request_timeout;
  call.body = notion_page_body(options_.parent, properties);
  call.headers = {{"authorization", "Bearer " + options_.token},
                  {"notion-version", options_.notion_version},
                  {"content-type", "application/json"}};
  client_.send(std::move(call), [clock = clock_, token = options_.token, done = std::move(done)](http_outcome outcome) {
    auto r = classify_notion_response(outcome, clock->now());
    // Notion never echoes the token, but a proxy or a debugging server in
    // front of it might; an error is stored and shown, so it goes either way.
    redact_notion_token(r.error, token);
    done(std::move(r));
  });
}

} // namespace txrelay
