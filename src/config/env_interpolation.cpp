// ${VAR}, ${VAR:-default}, ${VAR:+word} and $$, with shell meanings:
//   ${VAR}          VAR's value; an error when VAR is unset (set but empty gives "").
//   ${VAR:-default} VAR's value, or `default` when VAR is unset or empty.
//   ${VAR:+word}    `word` when VAR is set and non-empty, else "".
// `default` and `word` are themselves interpolated, only when used, so
// "${A:-${B:-x}}" works and an unset B does not matter while A is set.
// A '$' not followed by '{' or '$' is kept as it is ("pa$word"): only the
// braced form expands, so plain dollar signs in values stay harmless.
// Error messages name variables but never echo values or defaults, since
// either may be a secret.
#include "config/config.hpp"

namespace txrelay {
namespace {

bool is_name_start(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }

/// Index of the '}' closing the "${" whose body starts at `from`, skipping
/// nested "${...}" and "$$"; npos when there is none.
std::size_t matching_brace(std::string_view text, std::size_t from) {
  int depth = 1;
  for (std::size_t i = from; i < text.size(); ++i) {
    if (text[i] == '$' && i + 1 < text.size() && (text[i + 1] == '$' || text[i + 1] == '{')) {
      if (text[i + 1] == '{')
        ++depth;
      ++i;
    } else if (text[i] == '}' && --depth == 0) {
      return i;
    }
  }
  return std::string_view::npos;
}

result<std::string, std::string> expand(std::string_view text, const env_lookup& env, int depth) {
  // Nesting comes from the file, not the environment (values are not
  // re-expanded), so this only guards against absurd hand-written input.
  if (depth > 16)
    return unexpected{std::string{"${...} is nested too deeply"}};
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c != '$' || i + 1 >= text.size() || (text[i + 1] != '$' && text[i + 1] != '{')) {
      out += c;
      continue;
    }
    if (text[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    auto close = matching_brace(text, i + 2);
    if (close == std::string_view::npos)
      return unexpected{std::string{"\"${\" has no closing \"}\" (write $$ for a literal $)"}};
    auto body = text.substr(i + 2, close - i - 2);
    std::size_t name_end = 0;
    if (!body.empty() && is_name_start(body[0]))
      while (name_end < body.size() && is_name_char(body[name_end]))
        ++name_end;
    if (name_end == 0)
      return unexpected{std::string{"\"${\" must be followed by an environment variable name "
                                    "([A-Za-z_][A-Za-z0-9_]*; write $$ for a literal $)"}};
    std::string name{body.substr(0, name_end)};
    auto rest = body.substr(name_end);
    auto value = env(name);
    bool non_empty = value && !value->empty();
    if (rest.empty()) {
      if (!value)
        return unexpected{"environment variable " + name + " is not set (write ${" + name +
                          ":-default} to give a default)"};
      out += *value;
    } else if (rest.substr(0, 2) == ":-" || rest.substr(0, 2) == ":+") {
      bool use_word = rest[1] == '-' ? !non_empty : non_empty;
      if (use_word) {
        auto word = expand(rest.substr(2), env, depth + 1);
        if (!word)
          return word;
        out += *word;
      } else if (rest[1] == '-') {
        out += *value;
      }
    } else {
      return unexpected{"unsupported form after ${" + name + " (use ${" + name + "}, ${" + name + ":-default} or ${" +
                        name + ":+word})"};
    }
    i = close;
  }
  return out;
}

} // namespace

result<std::string, std::string> interpolate_env(std::string_view text, const env_lookup& env) {
  return expand(text, env, 0);
}

} // namespace txrelay
