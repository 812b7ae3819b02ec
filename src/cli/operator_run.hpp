#pragma once
// Running an operator command: the environment (TXRELAY_URL,
// TXRELAY_API_KEY), the calls to the server (page after page for --all),
// what goes to stdout and stderr, and the exit code.
#include <string>
#include <vector>

namespace txrelay::cli {

/// The operator commands' part of `txrelay help`.
const char* operator_usage();

/// Runs `txrelay <args...>` where args[0] is events, sinks or dead; returns
/// the exit code (cli::exit_code).
int run_operator_command(const std::vector<std::string>& args);

} // namespace txrelay::cli
