#include "sinks/chat_text.hpp"

#include "core/utf8.hpp"

namespace txrelay {

namespace {

bool is_json_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

void new_line(std::string& out, int depth) {
  out += '\n';
  out.append(static_cast<std::size_t>(depth) * 2, ' ');
}

/// The next character after `i` that is not JSON whitespace, or '\0'.
char next_significant(std::string_view json, std::size_t i) {
  for (++i; i < json.size(); ++i)
    if (!is_json_space(json[i]))
      return json[i];
  return '\0';
}

constexpr std::string_view fence_open = "\n```json\n";
constexpr std::string_view fence_close = "\n```";

} // namespace

std::string pretty_json_for_fence(std::string_view json) {
  bool escape_backticks = json.find("```") != std::string_view::npos;
  std::string out;
  out.reserve(json.size() + json.size() / 4);
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < json.size(); ++i) {
    char c = json[i];
    if (in_string) {
      if (c == '`' && escape_backticks) {
        out += "\\u0060";
        continue;
      }
      out += c;
      if (c == '\\' && i + 1 < json.size())
        out += json[++i]; // the escaped character, whatever it is
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (is_json_space(c))
      continue;
    switch (c) {
      case '"':
        in_string = true;
        out += c;
        break;
      case '{':
      case '[': {
        char close = c == '{' ? '}' : ']';
        if (next_significant(json, i) == close) { // an empty container stays on one line
          out += c;
          out += close;
          while (json[++i] != close) {
          }
          break;
        }
        out += c;
        new_line(out, ++depth);
        break;
      }
      case '}':
      case ']':
        new_line(out, --depth);
        out += c;
        break;
      case ',':
        out += c;
        new_line(out, depth);
        break;
      case ':':
        out += ": ";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string default_chat_text(const delivery_job& job, std::optional<std::size_t> max_code_points) {
  std::string heading = "topic: " + job.topic;
  if (job.key)
    heading += ", key: " + *job.key;
  auto payload = pretty_json_for_fence(job.payload_json);

  std::string text = heading;
  text += fence_open;
  text += payload;
  text += fence_close;
  if (!max_code_points || count_code_points(text) <= *max_code_points)
    return text;

  // Cut the payload so heading, fences and marker still fit.
  const std::string marker = "\n" + std::string{chat_truncation_marker};
  std::size_t frame = count_code_points(heading) + count_code_points(fence_open) + count_code_points(fence_close) +
                      count_code_points(marker);
  if (frame >= *max_code_points) // only with a limit far below any provider's: cut the text as it is
    return truncate_code_points(text, *max_code_points, chat_truncation_marker);
  std::string cut = heading;
  cut += fence_open;
  cut += prefix_code_points(payload, *max_code_points - frame);
  cut += fence_close;
  cut += marker;
  return cut;
}

} // namespace txrelay
