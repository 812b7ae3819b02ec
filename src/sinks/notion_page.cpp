#include "sinks/notion_page.hpp"

#include "core/json.hpp"
#include "core/utf8.hpp"
#include "http/message.hpp"
#include "sinks/sink_response.hpp"

#include <simdjson.h>

#include <charconv>
#include <system_error>

namespace txrelay {

namespace {

// -- text measured as Notion measures it ------------------------------------

bool is_continuation(unsigned char c) { return (c & 0xc0) == 0x80; }

/// UTF-16 code units of the code point whose lead byte is `lead`: two for a
/// four-byte sequence (outside the BMP: a surrogate pair), else one.
std::size_t utf16_units(unsigned char lead) { return lead >= 0xf0 ? 2 : 1; }

std::size_t utf16_length(std::string_view text) {
  std::size_t units = 0;
  for (char c : text)
    if (!is_continuation(static_cast<unsigned char>(c)))
      units += utf16_units(static_cast<unsigned char>(c));
  return units;
}

/// Bytes in the longest prefix of `text` of at most `max_units` UTF-16 code
/// units that ends between two code points.
std::size_t utf16_prefix_bytes(std::string_view text, std::size_t max_units) {
  std::size_t units = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    auto lead = static_cast<unsigned char>(text[i]);
    if (units + utf16_units(lead) > max_units)
      break;
    units += utf16_units(lead);
    ++i;
    while (i < text.size() && is_continuation(static_cast<unsigned char>(text[i])))
      ++i;
  }
  return i;
}

struct text_items {
  std::vector<std::string_view> items;
  bool truncated = false; // the last item must end with the marker
};

text_items split_text(std::string_view text) {
  text_items out;
  while (!text.empty()) {
    if (out.items.size() == notion_rich_text_items_limit) {
      out.truncated = true;
      break;
    }
    auto n = utf16_prefix_bytes(text, notion_text_content_limit);
    out.items.push_back(text.substr(0, n));
    text.remove_prefix(n);
  }
  if (out.truncated) {
    auto& last = out.items.back();
    last = last.substr(0, utf16_prefix_bytes(last, notion_text_content_limit - utf16_length(notion_truncation_marker)));
  }
  return out;
}

void append_text_item(std::string& out, std::string_view content, std::string_view suffix = {}) {
  out += R"({"type":"text","text":{"content":)";
  if (suffix.empty()) {
    append_json_string(out, content);
  } else {
    std::string joined{content};
    joined += suffix;
    append_json_string(out, joined);
  }
  out += "}}";
}

// -- values ------------------------------------------------------------------

std::string_view trim(std::string_view text) {
  constexpr std::string_view space = " \t\r\n";
  auto first = text.find_first_not_of(space);
  if (first == std::string_view::npos)
    return {};
  return text.substr(first, text.find_last_not_of(space) - first + 1);
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

/// JSON's number grammar (RFC 8259), so the text can be written as is: its
/// digits reach Notion unrounded.
bool is_json_number(std::string_view s) {
  std::size_t i = 0;
  auto digits = [&] {
    auto start = i;
    while (i < s.size() && is_digit(s[i]))
      ++i;
    return i > start;
  };
  if (i < s.size() && s[i] == '-')
    ++i;
  if (i < s.size() && s[i] == '0')
    ++i;
  else if (!digits())
    return false;
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digits())
      return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-'))
      ++i;
    if (!digits())
      return false;
  }
  return i == s.size();
}

/// A number Notion can hold: valid JSON, and finite as a double ("1e999"
/// would parse to Infinity on Notion's side and be refused).
bool is_notion_number(std::string_view s) {
  if (!is_json_number(s))
    return false;
  double value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  return ec == std::errc{} && end == s.data() + s.size();
}

/// Notion refuses commas in a select option's name (they separate options
/// in its own UI).
std::string select_name(std::string_view text) {
  std::string name{text};
  for (auto& c : name)
    if (c == ',')
      c = ' ';
  return name;
}

void append_string_or_null(std::string& out, std::string_view value) {
  if (value.empty())
    out += "null";
  else
    append_json_string(out, value);
}

/// The property's value object: {"title": [...]}, {"number": 42}, ...
void append_value(std::string& out, const notion_property& property) {
  out += "{";
  append_json_string(out, to_string(property.type));
  out += ':';
  auto value = trim(property.text);
  switch (property.type) {
    case notion_property_type::title:
    case notion_property_type::rich_text:
      out += notion_rich_text(property.text); // prose keeps its spaces
      break;
    case notion_property_type::number:
      out += is_notion_number(value) ? std::string{value} : std::string{"null"};
      break;
    case notion_property_type::date:
      if (value.empty()) {
        out += "null";
      } else {
        out += R"({"start":)";
        append_json_string(out, value);
        out += '}';
      }
      break;
    case notion_property_type::select:
      if (value.empty()) {
        out += "null";
      } else {
        out += R"({"name":)";
        append_json_string(out, select_name(value));
        out += '}';
      }
      break;
    case notion_property_type::email:
    case notion_property_type::url:
      append_string_or_null(out, value);
      break;
    case notion_property_type::checkbox:
      out += (http::iequals(value, "true") || value == "1") ? "true" : "false";
      break;
  }
  out += '}';
}

// -- responses ---------------------------------------------------------------

/// The fields of Notion's error body that txrelay reads; all optional, since
/// a proxy in front of Notion (Cloudflare) may answer with HTML.
struct notion_error_body {
  std::string code;
  std::string message;
};

notion_error_body read_error_body(std::string_view body) {
  notion_error_body out;
  if (body.empty())
    return out;
  thread_local simdjson::dom::parser parser;
  simdjson::dom::object object;
  if (parser.parse(body.data(), body.size()).get_object().get(object) != simdjson::SUCCESS)
    return out;
  std::string_view text;
  if (object["code"].get_string().get(text) == simdjson::SUCCESS)
    out.code = std::string{text};
  if (object["message"].get_string().get(text) == simdjson::SUCCESS)
    out.message = std::string{text};
  return out;
}

/// "HTTP 404: Could not find database with ID: … (Notion code
/// object_not_found)"; the body's text when it is not Notion's JSON.
std::string notion_error(const http_outcome& outcome, const notion_error_body& body) {
  std::string error = "HTTP " + std::to_string(outcome.status);
  if (!body.message.empty())
    error += ": " + one_line_excerpt(body.message);
  else if (body.code.empty() && !outcome.body.empty())
    error += ": " + one_line_excerpt(outcome.body);
  if (!body.code.empty())
    error += " (Notion code " + one_line_excerpt(body.code, 64) + ")";
  return error;
}

/// The integration's access to the parent is gone (see the header): every
/// delivery would get the same answer.
bool loses_the_parent(int status, const notion_error_body& body) {
  return status == 401 || (status == 403 && body.code == "restricted_resource") ||
         (status == 404 && body.code == "object_not_found");
}

} // namespace

std::optional<notion_property_type> parse_notion_property_type(std::string_view text) {
  for (auto type : {notion_property_type::title, notion_property_type::rich_text, notion_property_type::date,
                    notion_property_type::number, notion_property_type::select, notion_property_type::email,
                    notion_property_type::url, notion_property_type::checkbox})
    if (text == to_string(type))
      return type;
  return std::nullopt;
}

const char* to_string(notion_property_type type) {
  switch (type) {
    case notion_property_type::title: return "title";
    case notion_property_type::rich_text: return "rich_text";
    case notion_property_type::date: return "date";
    case notion_property_type::number: return "number";
    case notion_property_type::select: return "select";
    case notion_property_type::email: return "email";
    case notion_property_type::url: return "url";
    case notion_property_type::checkbox: return "checkbox";
  }
  return "rich_text";
}

std::string notion_rich_text(std::string_view text) {
  auto split = split_text(text);
  std::string out = "[";
  for (std::size_t i = 0; i < split.items.size(); ++i) {
    if (i > 0)
      out += ',';
    bool last = i + 1 == split.items.size();
    append_text_item(out, split.items[i], last && split.truncated ? notion_truncation_marker : std::string_view{});
  }
  out += ']';
  return out;
}

std::string notion_page_body(const notion_parent& parent, const std::vector<notion_property>& properties) {
  std::string body = R"({"parent":)";
  if (parent.kind == notion_parent_kind::data_source_id) {
    body += R"({"type":"data_source_id","data_source_id":)";
  } else {
    body += R"({"database_id":)";
  }
  append_json_string(body, parent.id);
  body += R"(},"properties":{)";
  for (std::size_t i = 0; i < properties.size(); ++i) {
    if (i > 0)
      body += ',';
    append_json_string(body, properties[i].name);
    body += ':';
    append_value(body, properties[i]);
  }
  body += "}}";
  return body;
}

attempt_result classify_notion_response(const http_outcome& outcome, time_point now) {
  attempt_result r;
  if (auto settled = settled_verdict(outcome, now, r))
    return *settled;
  auto body = read_error_body(outcome.body);
  r.error = notion_error(outcome, body);
  // 409 conflict_error: a transaction on Notion's side collided with ours;
  // Notion's advice is to retry the request. 429's Retry-After is capped by
  // the parser: newer plans' per-minute windows can ask for over a minute.
  if (outcome.status == 409 || outcome.status == 429) {
    r.outcome = attempt_result::verdict::retry;
    honour_retry_after(r, outcome, now);
    return r;
  }
  r.sink_broken = outcome.status >= 400 && outcome.status < 500 && loses_the_parent(outcome.status, body);
  return fallback_verdict(std::move(r), outcome, now);
}

void redact_notion_token(std::string& text, std::string_view token) { redact_secret(text, token); }

} // namespace txrelay
