#pragma once
// A text template: the body of a Discord message, a Slack text, a Notion
// property, rendered from an event document.
//
//   Feedback from {{ payload.user_name }} at {{ created_at | datetime }}
//   Contact: {{ payload.contact | default("none") }}
//   {{#if payload.rating >= 4}}A good one!{{else}}Needs attention{{/if}}
//
// {{ value | filter | filter(arg) }} inserts a value (a path or a literal, as
// in condition.hpp); {{#if condition}} ... {{else}} ... {{/if}} chooses, and
// nests. A missing path renders as "" (use `default`). "{{" itself is
// written {{ "{{" }}. Filters:
//   default(x)   x when the value is missing, null or ""
//   upper, lower ASCII case
//   truncate(n)  at most n code points, "…" marking a cut
//   json         the value as JSON text
//   date         "YYYY-MM-DD" from an RFC 3339 string (else unchanged)
//   datetime     "YYYY-MM-DD HH:MM:SS UTC" from an RFC 3339 string (else unchanged)
// Values are rendered with to_text() (strings as they are, numbers as JSON),
// then escaped for the target; literal template text is never escaped.
#include "core/json_value.hpp"
#include "core/result.hpp"
#include "expr/expression_error.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace txrelay {

enum class text_escaping {
  plain,            // inserted as they are
  // Discord markdown: user content cannot restyle or break the message.
  // Outside a ``` block, markdown characters (\ * _ ~ ` | > # - [ ] ( ) and a
  // leading @) are backslash-escaped; inside a ``` block (decided from the
  // template's own text before the insertion), a value cannot close the block:
  // every "```" in it has zero-width spaces put between its backticks.
  discord_markdown,
  // Slack mrkdwn: &, <, > become &amp; &lt; &gt;, so a value cannot form a
  // link, a mention or <!channel>.
  slack_mrkdwn,
};

namespace expr_detail {
struct template_part; // expr/text_template.cpp
}

class text_template {
public:
  static result<text_template, expression_error> parse(std::string_view text,
                                                       text_escaping escaping = text_escaping::plain);

  std::string render(const json_value& event) const;

  /// When the whole template is exactly one `{{ path }}` with no filters
  /// (surrounding whitespace inside the braces allowed): that path, so a
  /// json_template can keep the value's JSON type.
  const std::optional<std::vector<std::string>>& sole_path() const noexcept { return sole_path_; }

  const std::string& text() const noexcept { return text_; }

private:
  std::shared_ptr<const std::vector<expr_detail::template_part>> parts_;
  std::optional<std::vector<std::string>> sole_path_;
  std::string text_;
};

} // namespace txrelay
