#include "expr/text_template.hpp"

#include "core/clock.hpp"
#include "core/utf8.hpp"
#include "expr/expression.hpp"

#include <chrono>
#include <cstdio>
#include <optional>
#include <utility>

namespace txrelay {

namespace expr_detail {

// How an inserted value is escaped, decided once when the template is parsed.
enum class escape_mode {
  none,
  discord_text,       // outside a ``` block: markdown characters get a backslash
  discord_code_block, // inside a ``` block: the value cannot close the block
  slack,
};

enum class filter_kind { default_value, upper, lower, truncate, json, date, datetime };

struct filter {
  filter_kind kind = filter_kind::json;
  json_value fallback;    // default(x)
  std::size_t limit = 0;  // truncate(n)
};

struct template_part {
  enum class kind { literal, insertion, choice };
  kind what = kind::literal;
  std::string literal;
  // insertion
  node_ptr value;
  std::vector<filter> filters;
  escape_mode escaping = escape_mode::none;
  // choice: {{#if condition}} then_parts {{else}} else_parts {{/if}}
  node_ptr condition;
  std::vector<template_part> then_parts;
  std::vector<template_part> else_parts;
};

} // namespace expr_detail

namespace {

using namespace expr_detail;

// -- dates -----------------------------------------------------------------------
// RFC 3339 date-times are shown in UTC, whatever their offset, so "date" and
// "datetime" name the same instant for every sender.

std::string format_date(std::chrono::sys_days day) {
  std::chrono::year_month_day ymd{day};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()));
  return buf;
}

std::string format_datetime(time_point t) {
  using namespace std::chrono;
  auto day = floor<days>(t);
  hh_mm_ss<seconds> time{floor<seconds>(t - day)};
  char buf[32];
  std::snprintf(buf, sizeof buf, " %02d:%02d:%02d UTC", static_cast<int>(time.hours().count()),
                static_cast<int>(time.minutes().count()), static_cast<int>(time.seconds().count()));
  return format_date(day) + buf;
}

// -- filters ---------------------------------------------------------------------

std::string ascii_case(std::string s, bool upper) {
  for (char& c : s) {
    if (upper && c >= 'a' && c <= 'z')
      c = static_cast<char>(c - 'a' + 'A');
    else if (!upper && c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

json_value apply(const filter& f, json_value v) {
  switch (f.kind) {
  case filter_kind::default_value:
    if (v.is_null() || (v.is_string() && v.as_string().empty()))
      return f.fallback;
    return v;
  case filter_kind::upper:
  case filter_kind::lower:
    return json_value{ascii_case(v.to_text(), f.kind == filter_kind::upper)};
  case filter_kind::truncate:
    return json_value{truncate_code_points(v.to_text(), f.limit, "…")};
  case filter_kind::json:
    return json_value{v.to_json()};
  case filter_kind::date:
  case filter_kind::datetime: {
    if (!v.is_string())
      return v;
    auto t = parse_rfc3339(v.as_string());
    if (!t)
      return v;
    return json_value{f.kind == filter_kind::date ? format_date(std::chrono::floor<std::chrono::days>(*t))
                                                  : format_datetime(*t)};
  }
  }
  return v;
}

result<filter, expression_error> compile_filter(const filter_call& call) {
  auto fail = [&](std::string message) { return unexpected{expression_error{call.position, std::move(message)}}; };
  struct simple {
    std::string_view name;
    filter_kind kind;
  };
  static constexpr simple without_arguments[] = {{"upper", filter_kind::upper},
                                                 {"lower", filter_kind::lower},
                                                 {"json", filter_kind::json},
                                                 {"date", filter_kind::date},
                                                 {"datetime", filter_kind::datetime}};
  filter f;
  for (const auto& s : without_arguments)
    if (call.name == s.name) {
      if (!call.arguments.empty())
        return fail("the filter '" + call.name + "' takes no arguments");
      f.kind = s.kind;
      return f;
    }
  if (call.name == "default") {
    if (call.arguments.size() != 1)
      return fail("the filter 'default' takes one argument: default(\"text\")");
    f.kind = filter_kind::default_value;
    f.fallback = call.arguments[0];
    return f;
  }
  if (call.name == "truncate") {
    if (call.arguments.size() != 1 || call.arguments[0].type() != json_value::kind::integer ||
        call.arguments[0].as_integer() < 0)
      return fail("the filter 'truncate' takes one whole number: truncate(100)");
    f.kind = filter_kind::truncate;
    f.limit = static_cast<std::size_t>(call.arguments[0].as_integer());
    return f;
  }
  return fail("unknown filter '" + call.name + "'; there are default, upper, lower, truncate, json, date, datetime");
}

// -- escaping --------------------------------------------------------------------

bool is_discord_markdown(char c) {
  switch (c) {
  case '\\': case '*': case '_': case '~': case '`': case '|': case '>':
  case '#': case '-': case '[': case ']': case '(': case ')':
    return true;
  default:
    return false;
  }
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_word_char(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }

void append_escaped(std::string& out, std::string_view value, escape_mode mode) {
  switch (mode) {
  case escape_mode::none:
    out += value;
    return;
  case escape_mode::discord_text:
    for (std::size_t i = 0; i < value.size(); ++i) {
      char c = value[i];
      // A mention starts a word: "@everyone", "hi @here".
      bool mention = c == '@' && (i == 0 || is_space(value[i - 1]));
      if (is_discord_markdown(c) || mention)
        out += '\\';
      out += c;
    }
    return;
  case escape_mode::discord_code_block:
    // No two backticks stay adjacent, so no "```" can form, even with a
    // backtick of the template's own text right after the value.
    for (std::size_t i = 0; i < value.size(); ++i) {
      out += value[i];
      if (value[i] == '`' && i + 1 < value.size() && value[i + 1] == '`')
        out += "\u200b";
    }
    return;
  case escape_mode::slack:
    for (char c : value) {
      if (c == '&')
        out += "&amp;";
      else if (c == '<')
        out += "&lt;";
      else if (c == '>')
        out += "&gt;";
      else
        out += c;
    }
    return;
  }
}

// -- rendering -------------------------------------------------------------------

void render_insertion(const template_part& part, const json_value& event, std::string& out) {
  auto v = evaluate(*part.value, event);
  if (part.filters.empty()) {
    append_escaped(out, v.get().to_text(), part.escaping);
    return;
  }
  json_value current = v.get();
  for (const auto& f : part.filters)
    current = apply(f, std::move(current));
  append_escaped(out, current.to_text(), part.escaping);
}

void render_parts(const std::vector<template_part>& parts, const json_value& event, std::string& out) {
  for (const auto& part : parts) {
    switch (part.what) {
    case template_part::kind::literal:
      out += part.literal;
      break;
    case template_part::kind::insertion:
      render_insertion(part, event, out);
      break;
    case template_part::kind::choice:
      render_parts(truthy(evaluate(*part.condition, event).get()) ? part.then_parts : part.else_parts, event, out);
      break;
    }
  }
}

// -- parsing ---------------------------------------------------------------------

std::size_t count_fences(std::string_view text) {
  std::size_t n = 0;
  for (auto at = text.find("```"); at != std::string_view::npos; at = text.find("```", at + 3))
    ++n;
  return n;
}

// Where the "}}" closing the tag opened at `open` is; string literals inside
// the tag may hold "}}". An error for an unclosed tag or string.
result<std::size_t, expression_error> find_tag_close(std::string_view text, std::size_t open) {
  std::size_t at = open + 2;
  while (at < text.size()) {
    char c = text[at];
    if (c == '"') {
      std::size_t quote = at++;
      while (at < text.size() && text[at] != '"')
        at += text[at] == '\\' ? 2 : 1;
      if (at >= text.size())
        return unexpected{expression_error{quote, "unterminated string"}};
      ++at;
      continue;
    }
    if (c == '}' && at + 1 < text.size() && text[at + 1] == '}')
      return at;
    ++at;
  }
  return unexpected{expression_error{open, "unclosed '{{': expected '}}'"}};
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && is_space(s.back()))
    s.remove_suffix(1);
  return s;
}

class template_parser {
public:
  template_parser(std::string_view text, text_escaping escaping) : text_(text), escaping_(escaping) {}

  result<std::vector<template_part>, expression_error> parse() {
    std::size_t at = 0;
    while (at < text_.size()) {
      std::size_t open = text_.find("{{", at);
      add_literal(text_.substr(at, open == std::string_view::npos ? std::string_view::npos : open - at));
      if (open == std::string_view::npos)
        break;
      auto close = find_tag_close(text_, open);
      if (!close)
        return unexpected{close.error()};
      if (auto tagged = tag(open, *close); !tagged)
        return unexpected{tagged.error()};
      at = *close + 2;
    }
    if (!open_.empty())
      return unexpected{expression_error{open_.back().position, "'{{#if}}' is never closed with '{{/if}}'"}};
    return std::move(root_);
  }

private:
  struct open_choice {
    template_part part;
    std::size_t position;
    bool in_else = false;
  };

  std::vector<template_part>& current() {
    if (open_.empty())
      return root_;
    auto& top = open_.back();
    return top.in_else ? top.part.else_parts : top.part.then_parts;
  }

  void add_literal(std::string_view s) {
    if (s.empty())
      return;
    literal_so_far_ += s;
    template_part part;
    part.literal = std::string{s};
    current().push_back(std::move(part));
  }

  // The tag text_[open, close + 2).
  result<bool, expression_error> tag(std::size_t open, std::size_t close) {
    auto fail = [&](std::string message) { return unexpected{expression_error{open, std::move(message)}}; };
    std::size_t inner = open + 2;
    std::string_view content = trim(text_.substr(inner, close - inner));
    if (content.starts_with('#')) {
      std::size_t word_start = text_.find('#', inner) + 1;
      while (word_start < close && is_space(text_[word_start]))
        ++word_start;
      std::size_t word_end = word_start;
      while (word_end < close && is_word_char(text_[word_end]))
        ++word_end;
      std::string_view word = text_.substr(word_start, word_end - word_start);
      if (word != "if")
        return fail("unknown block '#" + std::string{word} + "'; there is only '{{#if condition}}'");
      auto condition = parse_expression(text_, word_end, close);
      if (!condition)
        return unexpected{condition.error()};
      open_choice choice;
      choice.part.what = template_part::kind::choice;
      choice.part.condition = std::move(*condition);
      choice.position = open;
      open_.push_back(std::move(choice));
      return true;
    }
    if (content.starts_with('/')) {
      if (trim(content.substr(1)) != "if")
        return fail("unknown closing tag '{{" + std::string{content} + "}}'; there is only '{{/if}}'");
      if (open_.empty())
        return fail("'{{/if}}' without an open '{{#if}}'");
      template_part part = std::move(open_.back().part);
      open_.pop_back();
      current().push_back(std::move(part));
      return true;
    }
    if (content == "else") {
      if (open_.empty())
        return fail("'{{else}}' outside '{{#if}}'");
      if (open_.back().in_else)
        return fail("a second '{{else}}' in one '{{#if}}'");
      open_.back().in_else = true;
      return true;
    }
    auto inserted = parse_insertion(text_, inner, close);
    if (!inserted)
      return unexpected{inserted.error()};
    template_part part;
    part.what = template_part::kind::insertion;
    part.value = std::move(inserted->value);
    for (const auto& call : inserted->filters) {
      auto f = compile_filter(call);
      if (!f)
        return unexpected{f.error()};
      part.filters.push_back(std::move(*f));
    }
    part.escaping = escaping_for_insertion();
    current().push_back(std::move(part));
    return true;
  }

  escape_mode escaping_for_insertion() const {
    switch (escaping_) {
    case text_escaping::plain:
      return escape_mode::none;
    case text_escaping::slack_mrkdwn:
      return escape_mode::slack;
    case text_escaping::discord_markdown:
      // Inside a ``` block when the template's own text opened one more fence than it closed.
      return count_fences(literal_so_far_) % 2 == 1 ? escape_mode::discord_code_block : escape_mode::discord_text;
    }
    return escape_mode::none;
  }

  std::string_view text_;
  text_escaping escaping_;
  std::vector<template_part> root_;
  std::vector<open_choice> open_;
  std::string literal_so_far_; // all literal text before the tag being parsed, in source order
};

} // namespace

result<text_template, expression_error> text_template::parse(std::string_view text, text_escaping escaping) {
  auto parts = template_parser(text, escaping).parse();
  if (!parts)
    return unexpected{parts.error()};
  text_template t;
  t.text_ = std::string{text};
  auto& list = *parts;
  if (list.size() == 1 && list[0].what == template_part::kind::insertion && list[0].filters.empty() &&
      list[0].value->kind == node_kind::path)
    t.sole_path_ = list[0].value->path;
  t.parts_ = std::make_shared<const std::vector<template_part>>(std::move(list));
  return t;
}

std::string text_template::render(const json_value& event) const {
  std::string out;
  if (parts_)
    render_parts(*parts_, event, out);
  return out;
}

} // namespace txrelay
