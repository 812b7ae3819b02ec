#pragma once
// What the operator commands print for people: the server's JSON answers as
// tables (pure functions of the parsed answer, unit-tested), and the
// one-line form of an error answer.
#include "cli/operator_commands.hpp"
#include "core/json_value.hpp"
#include "core/result.hpp"

#include <string>

namespace txrelay::cli {

/// The tables for a successful answer to `cmd`. For a paged command `answer`
/// holds every item to show (one page, or all pages merged). The error says
/// the answer is not the shape the command expects (a server too old for
/// it, or not txrelay at all).
result<std::string, std::string> render_answer(const operator_command& cmd, const json_value& answer);

struct error_summary {
  std::string code;    // the server's error.code, or "http_<status>" when the body has none
  std::string message; // the server's error.message, or a short excerpt of the body
};

/// The `{"error": {"code", "message"}}` in an error answer's body, if it has one.
error_summary summarize_error(int status, const std::string& body);

} // namespace txrelay::cli
