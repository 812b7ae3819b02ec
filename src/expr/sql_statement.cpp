#include "expr/sql_statement.hpp"

#include <array>

namespace txrelay {

namespace {

bool ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool ident_char(char c) { return ident_start(c) || (c >= '0' && c <= '9'); }

constexpr std::array<std::string_view, 6> roots = {"payload", "topic", "key", "event_id", "delivery_id",
                                                   "created_at"};

} // namespace

result<sql_statement, expression_error> sql_statement::parse(std::string_view in) {
  sql_statement out;
  std::string& text = out.text_;
  std::size_t i = 0;
  auto copy_until = [&](std::size_t end) {
    text.append(in.substr(i, end - i));
    i = end;
  };
  while (i < in.size()) {
    char c = in[i];
    if (c == '\'' || c == '"') { // a string or a quoted identifier; doubled quotes escape
      // E'...' strings also take backslash escapes (E'it\'s').
      bool backslashes = c == '\'' && i > 0 && (in[i - 1] == 'E' || in[i - 1] == 'e') &&
                         (i == 1 || !ident_char(in[i - 2]));
      std::size_t j = i + 1;
      for (;;) {
        if (backslashes) {
          while (j < in.size() && in[j] != c) {
            if (in[j] == '\\')
              ++j;
            ++j;
          }
          if (j >= in.size())
            return unexpected{expression_error{i, "unterminated string"}};
        }
        j = in.find(c, j);
        if (j == std::string_view::npos)
          return unexpected{expression_error{i, std::string{"unterminated "} + (c == '\'' ? "string" : "quoted identifier")}};
        if (j + 1 < in.size() && in[j + 1] == c) {
          j += 2;
          continue;
        }
        break;
      }
      copy_until(j + 1);
    } else if (c == '-' && i + 1 < in.size() && in[i + 1] == '-') {
      auto end = in.find('\n', i);
      copy_until(end == std::string_view::npos ? in.size() : end);
    } else if (c == '/' && i + 1 < in.size() && in[i + 1] == '*') {
      auto end = in.find("*/", i + 2);
      if (end == std::string_view::npos)
        return unexpected{expression_error{i, "unterminated comment"}};
      copy_until(end + 2);
    } else if (c == '$') {
      std::size_t j = i + 1;
      while (j < in.size() && ident_char(in[j]))
        ++j;
      if (j < in.size() && in[j] == '$' && (j == i + 1 || ident_start(in[i + 1]))) {
        // $$ or $tag$: a dollar-quoted body up to the same tag.
        auto tag = in.substr(i, j - i + 1);
        auto end = in.find(tag, j + 1);
        if (end == std::string_view::npos)
          return unexpected{expression_error{i, "unterminated dollar-quoted string " + std::string{tag}}};
        copy_until(end + tag.size());
      } else if (j > i + 1 && !ident_start(in[i + 1])) {
        return unexpected{expression_error{i, "positional parameter " + std::string{in.substr(i, j - i)} +
                                                  " (name the field instead, e.g. $payload.id)"}};
      } else if (j == i + 1) {
        return unexpected{expression_error{i, "'$' must start a field such as $payload.id"}};
      } else {
        std::vector<std::string> path{std::string{in.substr(i + 1, j - i - 1)}};
        bool known = false;
        for (auto r : roots)
          known = known || r == path.front();
        if (!known)
          return unexpected{expression_error{i + 1, "unknown field \"" + path.front() +
                                                      "\" (expected payload.<name>, topic, key, event_id, "
                                                      "delivery_id or created_at)"}};
        while (j + 1 < in.size() && in[j] == '.' && ident_start(in[j + 1])) {
          std::size_t k = j + 1;
          while (k < in.size() && ident_char(in[k]))
            ++k;
          path.emplace_back(in.substr(j + 1, k - j - 1));
          j = k;
        }
        if (path.front() == "payload" && path.size() == 1)
          return unexpected{expression_error{i, "$payload needs a field: $payload.<name>"}};
        if (path.front() != "payload" && path.size() > 1)
          return unexpected{expression_error{i, "$" + path.front() + " has no fields"}};
        std::size_t index = 0;
        while (index < out.params_.size() && out.params_[index] != path)
          ++index;
        if (index == out.params_.size())
          out.params_.push_back(std::move(path));
        text += "$" + std::to_string(index + 1);
        i = j;
      }
    } else {
      text += c;
      ++i;
    }
  }
  auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos)
    return unexpected{expression_error{0, "the statement is empty"}};
  return out;
}

std::vector<std::optional<std::string>> sql_statement::bind(const json_value& event) const {
  std::vector<std::optional<std::string>> values;
  values.reserve(params_.size());
  for (const auto& path : params_) {
    const json_value* v = event.at(path);
    if (!v || v->is_null())
      values.emplace_back(std::nullopt);
    else
      values.emplace_back(v->to_text());
  }
  return values;
}

} // namespace txrelay
