#pragma once
// Notion's create-page API as pure functions: the request body for one page
// in a database (POST /v1/pages) and what each response means. No I/O; the
// transport is notion_sink.hpp.
#include "core/delivery.hpp"
#include "sinks/http_client.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace txrelay {

/// Notion refuses a text.content longer than this (400 validation_error:
/// "text.content.length should be ≤ 2000"). The check is JavaScript's
/// `length`, which counts UTF-16 code units: an emoji outside the BMP counts
/// twice. Splitting by UTF-16 units keeps every item under the limit under
/// either reading (a code point is never more than two units).
inline constexpr std::size_t notion_text_content_limit = 2000;

/// Notion refuses a rich-text array with more items than this.
inline constexpr std::size_t notion_rich_text_items_limit = 100;

/// Ends the last item when a text is longer than 100 items hold.
inline constexpr std::string_view notion_truncation_marker = "…";

/// The property types txrelay can fill from a rendered text. Relations,
/// people, files and multi_select are left out: they reference other objects
/// or need lists, which a text template does not make.
enum class notion_property_type { title, rich_text, date, number, select, email, url, checkbox };

/// "title", "rich_text", ... as in Notion's API and txrelay's config.
std::optional<notion_property_type> parse_notion_property_type(std::string_view text);
const char* to_string(notion_property_type type);

/// One property of the page, its value already rendered from a template:
/// - title, rich_text: any text (split into items; empty: an empty array);
/// - number: the text of a number ("42", "-1.5e3"); anything else: null;
/// - date: an ISO date or RFC 3339 date-time; empty: null;
/// - select: the option's name (commas become spaces); empty: null;
/// - email, url: as given (empty: null);
/// - checkbox: "true" or "1" (any case) is checked, anything else is not.
/// Every type but title and rich_text is trimmed of surrounding whitespace.
struct notion_property {
  std::string name; // the database column, as Notion names it
  notion_property_type type = notion_property_type::rich_text;
  std::string text;
};

/// Notion-Version 2025-09-03 and later put pages in a data source; earlier
/// versions in a database. The id is the one in the database's (or data
/// source's) URL, with or without dashes.
enum class notion_parent_kind { database_id, data_source_id };

struct notion_parent {
  notion_parent_kind kind = notion_parent_kind::database_id;
  std::string id;
};

/// A title or rich_text value: `text` as text items of at most
/// notion_text_content_limit UTF-16 code units each, never splitting a code
/// point. At most notion_rich_text_items_limit items: the rest is cut, and
/// the last item ends with notion_truncation_marker so a reader sees that.
/// "[]" for an empty text.
std::string notion_rich_text(std::string_view text);

/// {"parent": {"database_id": id}, "properties": {...}}, or with
/// {"type": "data_source_id", "data_source_id": id} as the parent.
/// Over-long urls (2000) and emails (200) are passed as they are: cutting
/// them would store a wrong address, so Notion's 400 makes the delivery
/// dead instead, with Notion's message saying why.
std::string notion_page_body(const notion_parent& parent, const std::vector<notion_property>& properties);

/// What a Notion response means for the delivery:
/// - 2xx: delivered;
/// - 429 rate_limited: retry after Retry-After (integer seconds);
/// - 409 conflict_error, 5xx (500, 502, 503, 504, 529), 3xx (redirects are
///   not followed) and transport errors: retry, after Retry-After if given;
/// - 401 unauthorized: permanent, and the sink is broken (the token is
///   revoked or wrong: every delivery would fail);
/// - 403 restricted_resource and 404 object_not_found: permanent, and the
///   sink is broken. The only object a page txrelay creates references is
///   the configured parent (no relation, people or mention properties), so
///   the answer is about the integration's access to that parent, and is the
///   same for every delivery. Broken holds the backlog until an operator
///   shares the database with the integration and resumes the sink, rather
///   than killing every pending delivery one by one. The same statuses
///   without Notion's code (a proxy's page) are permanent only;
/// - 400 (validation_error, invalid_json, invalid_request, missing_version)
///   and any other 4xx: permanent; the same body cannot succeed later.
/// The error names the status, Notion's message and code; never the token
/// (Notion does not echo it; notion_sink redacts it anyway).
attempt_result classify_notion_response(const http_outcome& outcome, time_point now);

/// Replaces every occurrence of `token` in `text` with "…".
void redact_notion_token(std::string& text, std::string_view token);

} // namespace txrelay
