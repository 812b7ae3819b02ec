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

namespace {

json_post_options notion_options(notion_sink_options options) {
  json_post_options o;
  o.target = notion_pages_target(options.api_base);
  o.endpoint = options.api_base;
  o.timeout = options.request_timeout;
  o.headers = {{"authorization", "Bearer " + options.token}, {"notion-version", options.notion_version}};
  o.body = [parent = options.parent, render = std::move(options.render)](const delivery_job& job) {
    return notion_page_body(parent, render ? render(job) : notion_default_properties(job));
  };
  o.classify = classify_notion_response;
  // Notion never echoes the token, but a proxy or a debugging server in
  // front of it might; an error is stored and shown, so it goes either way.
  o.redact = [token = options.token](std::string& text) { redact_notion_token(text, token); };
  return o;
}

} // namespace

notion_sink::notion_sink(boost::asio::io_context& io, notion_sink_options options,
                         std::shared_ptr<const txrelay::clock> clock, http_client_options client_options)
  : json_post_sink(io, notion_options(std::move(options)), std::move(clock), std::move(client_options)) {}

} // namespace txrelay
