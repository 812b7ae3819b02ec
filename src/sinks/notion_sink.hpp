#pragma once
// Notion as a sink: each delivery creates one page in a database (POST
// {api_base}/v1/pages), its properties rendered from the event. The
// integration's token travels in the Authorization header and is a secret:
// it never reaches a log or an error. Notion allows about 3 requests per
// second per integration and answers more with 429 and an integer
// Retry-After; the sender's rate limit and retry_after keep within it.
#include "sinks/json_post_sink.hpp"
#include "sinks/notion_page.hpp"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace txrelay {

struct notion_sink_options {
  url api_base; // https://api.notion.com (a test: its fake); pages go to {path}/v1/pages
  std::string token; // the integration secret, sent as "Authorization: Bearer <token>"
  std::string notion_version = "2022-06-28"; // 2025-09-03 and later want a data_source_id parent
  notion_parent parent;
  millis request_timeout{10'000};
  /// The page's properties for a delivery (from the sink's templates).
  /// Empty: notion_default_properties.
  std::function<std::vector<notion_property>(const delivery_job&)> render;
};

/// Without templates: a title column "Name" (Notion's default for a new
/// database) holding the topic and, when there is one, the key.
std::vector<notion_property> notion_default_properties(const delivery_job& job);

/// The request target for creating a page under `api_base`'s path
/// ("/v1/pages", or "/proxy/v1/pages" for a base of https://host/proxy/).
std::string notion_pages_target(const url& api_base);

class notion_sink final : public json_post_sink {
public:
  notion_sink(boost::asio::io_context& io, notion_sink_options options, std::shared_ptr<const txrelay::clock> clock,
              http_client_options client_options = {});
};

} // namespace txrelay
