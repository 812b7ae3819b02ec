// libFuzzer target: conditions (expr/condition.hpp), text templates with each
// escaping (expr/text_template.hpp), JSON templates (expr/json_template.hpp)
// and, since they share the expression lexer, sql statements
// (expr/sql_statement.hpp).
//
// Input: <expression>  or  <expression>\n===\n<payload JSON object>
// The expression is parsed as a condition, as a text template (plain,
// Discord, Slack), as a sql statement, and as a JSON template (the text as a
// JSON shape when it is JSON, else as one string). Whatever parses is
// evaluated against an event document (expr/event_document.hpp) whose payload
// is the given object, or a fixed one. Aborts when an evaluation differs
// between two runs, an error position lies outside the text, or a rendered
// JSON template is not valid JSON. Deterministic; no I/O.
#include "core/json_value.hpp"
#include "expr/condition.hpp"
#include "expr/event_document.hpp"
#include "expr/json_template.hpp"
#include "expr/sql_statement.hpp"
#include "expr/text_template.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

using namespace txrelay;

[[noreturn]] void broken(const char* what) {
  std::fprintf(stderr, "expressions_fuzz: invariant broken: %s\n", what);
  std::abort();
}

constexpr std::string_view fixed_payload =
  R"({"a":1,"b":"two","x":"Hello *World* _x_ ~y~ `z` | > # - [l](u) @here <!channel> & ```code```",)"
  R"("y":true,"n":null,"f":2.5,"neg":-3,"big":18446744073709551615,"zero":0,"empty":"",)"
  R"("closed":false,"title":"Lunch","rating":4,"tags":["a","b","c"],"menu":{"main":"soup","price":9.5},)"
  R"("when":"2026-11-23T23:30:00-02:00","day":"2026-02-29","bad_date":"2026-13-45T99:99:99Z",)"
  R"("utf8":"héllo wörld 😀","nested":{"a":{"b":{"c":[1,{"d":"deep"}]}}}})";

const json_value& default_payload() {
  static const json_value payload = [] {
    auto p = json_value::parse(fixed_payload);
    if (!p)
      broken("the fixed payload does not parse");
    return std::move(p).value();
  }();
  return payload;
}

json_value document(json_value payload) {
  return event_document(event_fields{"poll.created", std::string_view{"user-42"}, "0192b9a4-6c5e-7d1a-8f00-000000000001",
                                     "0192b9a4-6c5e-7d1a-8f00-000000000002", "2026-11-23T10:00:00.123Z"},
                        std::move(payload));
}

void check_error_position(const expression_error& e, std::string_view text) {
  if (e.position > text.size())
    broken("expression_error position beyond the end of the text");
  (void)e.to_string();
}

void run_text_template(std::string_view expr, text_escaping escaping, const json_value& doc) {
  auto t = text_template::parse(expr, escaping);
  if (!t) {
    check_error_position(t.error(), expr);
    return;
  }
  auto once = t->render(doc);
  if (t->render(doc) != once)
    broken("text_template::render is not deterministic");
  (void)t->sole_path();
}

void run_json_template(const json_value& shape, const json_value& doc) {
  auto t = json_template::parse(shape);
  if (!t) {
    (void)t.error().error.to_string();
    return;
  }
  auto out = t->render(doc).to_json();
  auto again = json_value::parse(out);
  if (!again)
    broken("a rendered json_template is not valid JSON");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input{reinterpret_cast<const char*>(data), size};
  std::string_view expr = input;
  json_value payload = default_payload();
  if (auto sep = input.find("\n===\n"); sep != std::string_view::npos) {
    expr = input.substr(0, sep);
    auto given = json_value::parse(input.substr(sep + 5));
    if (given && given->is_object())
      payload = std::move(given).value();
  }
  const json_value doc = document(std::move(payload));
  static const json_value null_doc; // what routing passes when it has no event

  if (auto c = condition::parse(expr)) {
    bool m = c->matches(doc);
    if (c->matches(doc) != m)
      broken("condition::matches is not deterministic");
    (void)c->matches(null_doc);
  } else {
    check_error_position(c.error(), expr);
  }

  run_text_template(expr, text_escaping::plain, doc);
  run_text_template(expr, text_escaping::discord_markdown, doc);
  run_text_template(expr, text_escaping::slack_mrkdwn, doc);

  if (auto s = sql_statement::parse(expr)) {
    auto params = s->bind(doc);
    if (params.size() != s->parameters().size())
      broken("sql_statement::bind gives a different number of values than parameters");
  } else {
    check_error_position(s.error(), expr);
  }

  if (auto shape = json_value::parse(expr))
    run_json_template(*shape, doc);
  else
    run_json_template(json_value{std::string{expr}}, doc);
  return 0;
}
