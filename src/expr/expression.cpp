#include "expr/expression.hpp"

#include "core/utf8.hpp"

#include <charconv>
#include <optional>
#include <utility>

namespace txrelay::expr_detail {

namespace {

// -- lexing --------------------------------------------------------------------

enum class token_kind {
  end,
  name,     // identifiers and the words true, false, null, in, exists, len
  number,   // value in token::literal
  string,   // value in token::literal
  invalid,  // message in token::text
  dot,
  comma,
  lparen,
  rparen,
  lbracket,
  rbracket,
  equal,
  not_equal,
  less,
  less_equal,
  greater,
  greater_equal,
  and_and,
  or_or,
  bang,
  pipe,
};

struct token {
  token_kind kind = token_kind::end;
  std::size_t position = 0;
  std::string text; // the name, or what is wrong for `invalid`
  json_value literal;
};

bool is_name_start(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

// Splits text[begin, end) into tokens one at a time; never reads outside the range.
class lexer {
public:
  lexer(std::string_view text, std::size_t begin, std::size_t end) : text_(text.substr(0, end)), at_(begin) {}

  token next() {
    while (at_ < text_.size() && is_space(text_[at_]))
      ++at_;
    token t;
    t.position = at_;
    if (at_ >= text_.size())
      return t;
    char c = text_[at_];
    if (is_name_start(c)) {
      std::size_t start = at_;
      while (at_ < text_.size() && is_name_char(text_[at_]))
        ++at_;
      t.kind = token_kind::name;
      t.text = std::string{text_.substr(start, at_ - start)};
      return t;
    }
    if (is_digit(c) || (c == '-' && at_ + 1 < text_.size() && is_digit(text_[at_ + 1])))
      return number(std::move(t));
    if (c == '"')
      return string(std::move(t));
    return punctuation(std::move(t));
  }

private:
  token invalid(token t, std::string message) {
    t.kind = token_kind::invalid;
    t.text = std::move(message);
    return t;
  }

  bool next_is(std::string_view s) const { return text_.substr(at_).starts_with(s); }

  // JSON number syntax: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
  token number(token t) {
    std::size_t start = at_;
    if (text_[at_] == '-')
      ++at_;
    auto digits = [&] {
      std::size_t from = at_;
      while (at_ < text_.size() && is_digit(text_[at_]))
        ++at_;
      return at_ > from;
    };
    digits();
    bool integral = true;
    if (at_ < text_.size() && text_[at_] == '.') {
      ++at_;
      integral = false;
      if (!digits())
        return invalid(std::move(t), "expected digits after '.' in the number");
    }
    if (at_ < text_.size() && (text_[at_] == 'e' || text_[at_] == 'E')) {
      ++at_;
      integral = false;
      if (at_ < text_.size() && (text_[at_] == '+' || text_[at_] == '-'))
        ++at_;
      if (!digits())
        return invalid(std::move(t), "expected digits in the number's exponent");
    }
    if (at_ < text_.size() && is_name_char(text_[at_]))
      return invalid(std::move(t), "a number is not a name; names start with a letter or '_'");
    const char* first = text_.data() + start;
    const char* last = text_.data() + at_;
    t.kind = token_kind::number;
    if (integral) {
      std::int64_t i = 0;
      if (auto [p, ec] = std::from_chars(first, last, i); ec == std::errc{} && p == last) {
        t.literal = json_value{i};
        return t;
      }
      // Beyond int64: keep the magnitude as a double, as json_value::parse does.
    }
    double d = 0;
    if (auto [p, ec] = std::from_chars(first, last, d); ec != std::errc{} || p != last)
      return invalid(std::move(t), "the number is out of range");
    t.literal = json_value{d};
    return t;
  }

  // A double-quoted string with JSON escapes.
  token string(token t) {
    ++at_; // the opening quote
    std::string value;
    while (at_ < text_.size()) {
      char c = text_[at_];
      if (c == '"') {
        ++at_;
        t.kind = token_kind::string;
        t.literal = json_value{std::move(value)};
        return t;
      }
      if (c != '\\') {
        value += c;
        ++at_;
        continue;
      }
      std::size_t escape_at = at_;
      if (++at_ >= text_.size())
        break;
      char e = text_[at_++];
      switch (e) {
      case '"': value += '"'; break;
      case '\\': value += '\\'; break;
      case '/': value += '/'; break;
      case 'b': value += '\b'; break;
      case 'f': value += '\f'; break;
      case 'n': value += '\n'; break;
      case 'r': value += '\r'; break;
      case 't': value += '\t'; break;
      case 'u': {
        auto cp = code_point();
        if (!cp) {
          t.position = escape_at;
          return invalid(std::move(t), "invalid \\u escape in the string");
        }
        append_utf8(value, *cp);
        break;
      }
      default:
        t.position = escape_at;
        return invalid(std::move(t), std::string{"unknown escape '\\"} + e + "' in the string");
      }
    }
    return invalid(std::move(t), "unterminated string");
  }

  std::optional<std::uint32_t> hex4() {
    if (at_ + 4 > text_.size())
      return std::nullopt;
    std::uint32_t v = 0;
    auto [p, ec] = std::from_chars(text_.data() + at_, text_.data() + at_ + 4, v, 16);
    if (ec != std::errc{} || p != text_.data() + at_ + 4)
      return std::nullopt;
    at_ += 4;
    return v;
  }

  // After "\u": one code point, joining a surrogate pair.
  std::optional<std::uint32_t> code_point() {
    auto high = hex4();
    if (!high || (*high >= 0xdc00 && *high <= 0xdfff))
      return std::nullopt;
    if (*high < 0xd800 || *high > 0xdbff)
      return high;
    if (!next_is("\\u"))
      return std::nullopt;
    at_ += 2;
    auto low = hex4();
    if (!low || *low < 0xdc00 || *low > 0xdfff)
      return std::nullopt;
    return 0x10000 + ((*high - 0xd800) << 10) + (*low - 0xdc00);
  }

  token punctuation(token t) {
    struct symbol {
      std::string_view text;
      token_kind kind;
    };
    // Longest first, so "<=" is not read as "<".
    static constexpr symbol symbols[] = {
        {"==", token_kind::equal},      {"!=", token_kind::not_equal},   {"<=", token_kind::less_equal},
        {">=", token_kind::greater_equal}, {"&&", token_kind::and_and},  {"||", token_kind::or_or},
        {"<", token_kind::less},        {">", token_kind::greater},      {"!", token_kind::bang},
        {"|", token_kind::pipe},        {".", token_kind::dot},          {",", token_kind::comma},
        {"(", token_kind::lparen},      {")", token_kind::rparen},       {"[", token_kind::lbracket},
        {"]", token_kind::rbracket},
    };
    if (next_is("==="))
      return invalid(std::move(t), "'===' is not an operator; use '=='");
    if (next_is("!=="))
      return invalid(std::move(t), "'!==' is not an operator; use '!='");
    for (const auto& s : symbols)
      if (next_is(s.text)) {
        at_ += s.text.size();
        t.kind = s.kind;
        return t;
      }
    char c = text_[at_];
    if (c == '=')
      return invalid(std::move(t), "'=' is not an operator; use '==' to compare");
    if (c == '&')
      return invalid(std::move(t), "'&' is not an operator; use '&&'");
    if (c == '\'')
      return invalid(std::move(t), "strings are written in double quotes");
    return invalid(std::move(t), "unexpected character '" + std::string(1, c) + "'");
  }

  std::string_view text_;
  std::size_t at_;
};

// -- parsing -------------------------------------------------------------------

const char* describe(const token& t) {
  switch (t.kind) {
  case token_kind::end: return "the end";
  case token_kind::name: return "a name";
  case token_kind::number: return "a number";
  case token_kind::string: return "a string";
  case token_kind::invalid: return "an invalid token";
  case token_kind::dot: return "'.'";
  case token_kind::comma: return "','";
  case token_kind::lparen: return "'('";
  case token_kind::rparen: return "')'";
  case token_kind::lbracket: return "'['";
  case token_kind::rbracket: return "']'";
  case token_kind::equal: return "'=='";
  case token_kind::not_equal: return "'!='";
  case token_kind::less: return "'<'";
  case token_kind::less_equal: return "'<='";
  case token_kind::greater: return "'>'";
  case token_kind::greater_equal: return "'>='";
  case token_kind::and_and: return "'&&'";
  case token_kind::or_or: return "'||'";
  case token_kind::bang: return "'!'";
  case token_kind::pipe: return "'|'";
  }
  return "?";
}

// Deep enough for any real condition; stops a hostile one from exhausting the stack.
constexpr int max_depth = 64;

// Recursive descent over the grammar in condition.hpp. The first error stops
// the parse: every method returns nullptr / false once error_ is set.
class parser {
public:
  parser(std::string_view text, std::size_t begin, std::size_t end) : lexer_(text, begin, end) { advance(); }

  node_ptr parse_or() {
    if (++depth_ > max_depth)
      return fail(current_.position, "the expression is nested too deeply");
    auto first = parse_and();
    if (!first)
      return nullptr;
    if (current_.kind != token_kind::or_or) {
      --depth_;
      return first;
    }
    auto n = std::make_shared<node>();
    n->kind = node_kind::any_of;
    n->operands.push_back(std::move(first));
    while (current_.kind == token_kind::or_or) {
      advance();
      auto next = parse_and();
      if (!next)
        return nullptr;
      n->operands.push_back(std::move(next));
    }
    --depth_;
    return n;
  }

  /// `("|" filter)*` after an insertion's value.
  bool parse_filters(std::vector<filter_call>& out) {
    while (current_.kind == token_kind::pipe) {
      advance();
      if (current_.kind != token_kind::name)
        return fail_bool(current_.position, "expected a filter name after '|'");
      filter_call f;
      f.name = current_.text;
      f.position = current_.position;
      advance();
      if (current_.kind == token_kind::lparen) {
        advance();
        if (!parse_literals(f.arguments, token_kind::rparen, "expected ')' after the filter's arguments"))
          return false;
      }
      out.push_back(std::move(f));
    }
    return true;
  }

  /// Fails unless every token was used.
  bool expect_end() {
    if (current_.kind == token_kind::end)
      return true;
    if (current_.kind == token_kind::invalid)
      return fail_bool(current_.position, current_.text);
    if (is_comparison(current_.kind))
      return fail_bool(current_.position, std::string{"a comparison cannot be compared again: "} + describe(current_) +
                                              " here needs parentheses or '&&'");
    if (current_.kind == token_kind::pipe)
      return fail_bool(current_.position, "filters ('|') belong in templates; use '||' for or");
    return fail_bool(current_.position, std::string{"unexpected "} + describe(current_) + " after the expression");
  }

  expression_error take_error() { return std::move(*error_); }
  bool failed() const { return error_.has_value(); }

private:
  static bool is_comparison(token_kind k) {
    return k == token_kind::equal || k == token_kind::not_equal || k == token_kind::less ||
           k == token_kind::less_equal || k == token_kind::greater || k == token_kind::greater_equal;
  }

  static node_kind comparison_kind(token_kind k) {
    switch (k) {
    case token_kind::equal: return node_kind::equal;
    case token_kind::not_equal: return node_kind::not_equal;
    case token_kind::less: return node_kind::less;
    case token_kind::less_equal: return node_kind::less_equal;
    case token_kind::greater: return node_kind::greater;
    default: return node_kind::greater_equal;
    }
  }

  void advance() { current_ = lexer_.next(); }

  node_ptr fail(std::size_t position, std::string message) {
    if (!error_)
      error_ = expression_error{position, std::move(message)};
    return nullptr;
  }
  bool fail_bool(std::size_t position, std::string message) {
    fail(position, std::move(message));
    return false;
  }
  // An error at the current token: its own message when the lexer rejected it.
  node_ptr fail_here(std::string message) {
    if (current_.kind == token_kind::invalid)
      return fail(current_.position, current_.text);
    return fail(current_.position, std::move(message));
  }

  node_ptr parse_and() {
    auto first = parse_not();
    if (!first || current_.kind != token_kind::and_and)
      return first;
    auto n = std::make_shared<node>();
    n->kind = node_kind::all_of;
    n->operands.push_back(std::move(first));
    while (current_.kind == token_kind::and_and) {
      advance();
      auto next = parse_not();
      if (!next)
        return nullptr;
      n->operands.push_back(std::move(next));
    }
    return n;
  }

  node_ptr parse_not() {
    if (current_.kind != token_kind::bang)
      return parse_comparison();
    if (++depth_ > max_depth)
      return fail(current_.position, "the expression is nested too deeply");
    advance();
    auto operand = parse_not();
    if (!operand)
      return nullptr;
    --depth_;
    auto n = std::make_shared<node>();
    n->kind = node_kind::negation;
    n->operands.push_back(std::move(operand));
    return n;
  }

  node_ptr parse_comparison() {
    auto left = parse_value();
    if (!left)
      return nullptr;
    if (is_comparison(current_.kind)) {
      auto n = std::make_shared<node>();
      n->kind = comparison_kind(current_.kind);
      advance();
      auto right = parse_value();
      if (!right)
        return nullptr;
      n->operands = {std::move(left), std::move(right)};
      return n;
    }
    if (current_.kind == token_kind::name && current_.text == "in") {
      advance();
      if (current_.kind != token_kind::lbracket)
        return fail_here("expected a list '[...]' after 'in'");
      advance();
      auto n = std::make_shared<node>();
      n->kind = node_kind::one_of;
      n->operands.push_back(std::move(left));
      if (!parse_literals(n->list, token_kind::rbracket, "expected ']' after the list"))
        return nullptr;
      return n;
    }
    return left;
  }

  node_ptr parse_value() {
    switch (current_.kind) {
    case token_kind::number:
    case token_kind::string: {
      auto n = std::make_shared<node>();
      n->literal = std::move(current_.literal);
      advance();
      return n;
    }
    case token_kind::lparen: {
      advance();
      auto inner = parse_or();
      if (!inner)
        return nullptr;
      if (current_.kind != token_kind::rparen)
        return fail_here("expected ')'");
      advance();
      return inner;
    }
    case token_kind::name:
      return parse_name();
    case token_kind::end:
      return fail_here("expected a value at the end");
    default:
      return fail_here(std::string{"expected a value, not "} + describe(current_));
    }
  }

  // A keyword literal, a call or a path.
  node_ptr parse_name() {
    const std::string& word = current_.text;
    if (word == "true" || word == "false" || word == "null") {
      auto n = std::make_shared<node>();
      if (word != "null")
        n->literal = json_value{word == "true"};
      advance();
      return n;
    }
    token name = current_;
    advance();
    if (current_.kind == token_kind::lparen)
      return parse_call(name);
    auto n = std::make_shared<node>();
    n->kind = node_kind::path;
    if (!parse_path_rest(name, n->path))
      return nullptr;
    return n;
  }

  // After the first name of a path: (. name)*
  bool parse_path_rest(const token& first, std::vector<std::string>& path) {
    // The event document's top-level names (event_document.hpp; sink and
    // error exist for on_dead templates): a typo such as `paylaod.x` would
    // otherwise be a path that is always missing, so a silently dead route.
    static constexpr std::string_view roots[] = {"topic", "key", "event_id", "delivery_id", "created_at",
                                                 "payload", "sink", "error"};
    bool known = false;
    for (auto r : roots)
      known = known || r == first.text;
    if (!known) {
      fail(first.position, "unknown name '" + first.text +
                             "' (a path starts with payload, topic, key, event_id, delivery_id or created_at)");
      return false;
    }
    path.push_back(first.text);
    while (current_.kind == token_kind::dot) {
      advance();
      if (current_.kind != token_kind::name) {
        fail_here("expected a name after '.'");
        return false;
      }
      path.push_back(current_.text);
      advance();
    }
    return true;
  }

  node_ptr parse_call(const token& name) {
    if (name.text != "exists" && name.text != "len")
      return fail(name.position, "unknown function '" + name.text + "'; there are exists() and len()");
    advance(); // '('
    auto n = std::make_shared<node>();
    if (name.text == "exists") {
      n->kind = node_kind::exists;
      if (current_.kind != token_kind::name || current_.text == "true" || current_.text == "false" ||
          current_.text == "null")
        return fail_here("exists() takes a path");
      token first = current_;
      advance();
      if (!parse_path_rest(first, n->path))
        return nullptr;
    } else {
      n->kind = node_kind::len;
      if (++depth_ > max_depth)
        return fail(current_.position, "the expression is nested too deeply");
      auto operand = parse_or();
      if (!operand)
        return nullptr;
      --depth_;
      n->operands.push_back(std::move(operand));
    }
    if (current_.kind != token_kind::rparen)
      return fail_here("expected ')' after the argument of " + name.text + "()");
    advance();
    return n;
  }

  // literal ("," literal)* closing; the opening bracket is already read.
  bool parse_literals(std::vector<json_value>& out, token_kind closing, const char* unclosed) {
    if (current_.kind == closing) {
      advance();
      return true;
    }
    while (true) {
      auto literal = parse_literal();
      if (!literal)
        return false;
      out.push_back(std::move(*literal));
      if (current_.kind == token_kind::comma) {
        advance();
        continue;
      }
      if (current_.kind == closing) {
        advance();
        return true;
      }
      fail_here(unclosed);
      return false;
    }
  }

  std::optional<json_value> parse_literal() {
    json_value v;
    if (current_.kind == token_kind::number || current_.kind == token_kind::string) {
      v = std::move(current_.literal);
    } else if (current_.kind == token_kind::name && (current_.text == "true" || current_.text == "false")) {
      v = json_value{current_.text == "true"};
    } else if (current_.kind == token_kind::name && current_.text == "null") {
      v = json_value{};
    } else {
      fail_here(std::string{"expected a literal (a string, number, true, false or null), not "} + describe(current_));
      return std::nullopt;
    }
    advance();
    return v;
  }

  lexer lexer_;
  token current_;
  std::optional<expression_error> error_;
  int depth_ = 0;
};

// -- evaluating ------------------------------------------------------------------

// <, <=, >, >= : the sign of a - b when both are numbers or both strings.
std::optional<int> order(const json_value& a, const json_value& b) noexcept {
  using kind = json_value::kind;
  if (a.type() == kind::integer && b.type() == kind::integer) {
    auto x = a.as_integer(), y = b.as_integer();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.is_number() && b.is_number()) {
    double x = a.as_double(), y = b.as_double();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.is_string() && b.is_string()) {
    int c = a.as_string().compare(b.as_string());
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  return std::nullopt;
}

value_ref computed(json_value v) noexcept {
  value_ref r;
  r.computed = std::move(v);
  return r;
}

json_value length(const json_value& v) noexcept {
  switch (v.type()) {
  case json_value::kind::string:
    return json_value{static_cast<std::int64_t>(count_code_points(v.as_string()))};
  case json_value::kind::array:
    return json_value{static_cast<std::int64_t>(v.as_array().size())};
  case json_value::kind::object:
    return json_value{static_cast<std::int64_t>(v.as_object().size())};
  default:
    return json_value{};
  }
}

bool evaluate_bool(const node& n, const json_value& event) noexcept;

bool compare(const node& n, const json_value& event) noexcept {
  auto left = evaluate(*n.operands[0], event);
  auto right = evaluate(*n.operands[1], event);
  const json_value& a = left.get();
  const json_value& b = right.get();
  switch (n.kind) {
  case node_kind::equal: return json_equal(a, b);
  case node_kind::not_equal: return !json_equal(a, b);
  default: break;
  }
  auto sign = order(a, b);
  if (!sign)
    return false;
  switch (n.kind) {
  case node_kind::less: return *sign < 0;
  case node_kind::less_equal: return *sign <= 0;
  case node_kind::greater: return *sign > 0;
  default: return *sign >= 0;
  }
}

bool evaluate_bool(const node& n, const json_value& event) noexcept {
  switch (n.kind) {
  case node_kind::negation:
    return !evaluate_bool(*n.operands[0], event);
  case node_kind::all_of:
    for (const auto& operand : n.operands)
      if (!evaluate_bool(*operand, event))
        return false;
    return true;
  case node_kind::any_of:
    for (const auto& operand : n.operands)
      if (evaluate_bool(*operand, event))
        return true;
    return false;
  case node_kind::equal:
  case node_kind::not_equal:
  case node_kind::less:
  case node_kind::less_equal:
  case node_kind::greater:
  case node_kind::greater_equal:
    return compare(n, event);
  case node_kind::one_of: {
    auto left = evaluate(*n.operands[0], event);
    for (const auto& item : n.list)
      if (json_equal(left.get(), item))
        return true;
    return false;
  }
  case node_kind::exists: {
    const json_value* v = event.at(n.path);
    return v && !v->is_null();
  }
  default:
    return truthy(evaluate(n, event).get());
  }
}

} // namespace

// -- public ----------------------------------------------------------------------

result<node_ptr, expression_error> parse_expression(std::string_view text, std::size_t begin, std::size_t end) {
  parser p(text, begin, end);
  auto root = p.parse_or();
  if (!root || !p.expect_end())
    return unexpected{p.take_error()};
  return root;
}

result<insertion, expression_error> parse_insertion(std::string_view text, std::size_t begin, std::size_t end) {
  parser p(text, begin, end);
  insertion out;
  out.value = p.parse_or();
  if (!out.value || !p.parse_filters(out.filters) || !p.expect_end())
    return unexpected{p.take_error()};
  return out;
}

value_ref evaluate(const node& n, const json_value& event) noexcept {
  switch (n.kind) {
  case node_kind::literal: {
    value_ref r;
    r.borrowed = &n.literal;
    return r;
  }
  case node_kind::path: {
    value_ref r;
    r.borrowed = event.at(n.path);
    return r;
  }
  case node_kind::len:
    return computed(length(evaluate(*n.operands[0], event).get()));
  default:
    return computed(json_value{evaluate_bool(n, event)});
  }
}

bool truthy(const json_value& v) noexcept {
  switch (v.type()) {
  case json_value::kind::null: return false;
  case json_value::kind::boolean: return v.as_bool();
  case json_value::kind::integer: return v.as_integer() != 0;
  case json_value::kind::number: return v.as_double() != 0.0;
  case json_value::kind::string: return !v.as_string().empty();
  default: return true; // arrays and objects, even empty ones, as in JSON-minded languages
  }
}

bool json_equal(const json_value& a, const json_value& b) noexcept {
  if (a.type() == json_value::kind::integer && b.type() == json_value::kind::integer)
    return a.as_integer() == b.as_integer(); // exact beyond 2^53, where doubles are not
  return a == b;
}

} // namespace txrelay::expr_detail
