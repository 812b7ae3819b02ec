#pragma once
// The operator commands (`txrelay events|sinks|dead ...`): what the command
// line asks for, as a plain struct, and the HTTP request each one makes.
// Everything here is pure (no environment, no I/O), so it is unit-tested.
#include "core/clock.hpp"
#include "core/result.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace txrelay::cli {

/// Where the server is when neither --url nor TXRELAY_URL says.
inline constexpr std::string_view default_api_url = "http://127.0.0.1:8080";
/// Connect + request + answer, unless --timeout says otherwise.
inline constexpr millis default_api_timeout{30'000};

/// What each outcome exits with; `txrelay help` and README.md list them.
namespace exit_code {
inline constexpr int ok = 0;
inline constexpr int refused = 1;      // 4xx (other than below), or an answer that is not what was asked
inline constexpr int usage = 2;        // the command line itself is wrong
inline constexpr int not_found = 3;    // 404: no such event, sink or endpoint
inline constexpr int unauthorized = 4; // 401 or 403: no key, an unknown key, or a role that may not
inline constexpr int unavailable = 5;  // cannot connect, timed out, TLS refused, or a 5xx
} // namespace exit_code

/// The exit code for an HTTP status the server answered with.
int exit_code_for_status(int status);

struct operator_command {
  std::string group;  // events | sinks | dead
  std::string action; // events: get, search; sinks: list, pause, resume, replay; dead: list
  std::string target; // the event id (events get) or the sink name (sinks pause/resume/replay, dead list)
  /// Query parameters in the order given, values not yet encoded
  /// (events search: topic, key, status, sink, since, until, limit, cursor;
  /// dead list: limit, after).
  std::vector<std::pair<std::string, std::string>> query;
  bool all = false;  // follow `next` until the last page (events search, dead list)
  bool json = false; // print the server's JSON instead of tables
  bool help = false; // --help after the command: print the usage, do nothing else
  std::optional<std::string> url;  // --url; else TXRELAY_URL; else default_api_url
  std::optional<millis> timeout;   // --timeout
  std::optional<std::string> ca_file; // --ca-file: extra trust anchors for https
};

/// Whether `word` starts an operator command (the first argument after `txrelay`).
bool is_operator_group(std::string_view word);

/// Parses the arguments after `txrelay` (args[0] is events, sinks or dead).
/// Options may come before, between or after the positional words, as
/// `--name value` or `--name=value`. The error is one line for people.
result<operator_command, std::string> parse_operator_command(const std::vector<std::string>& args);

/// The base URL in force: --url, else TXRELAY_URL, else default_api_url.
std::string resolve_api_url(const std::optional<std::string>& flag, const std::optional<std::string>& env);

struct api_request {
  std::string method; // GET or POST
  std::string target; // path and percent-encoded query, relative to the base URL's path
  std::string body;   // POSTs send "{}" as application/json (admin requests require that type)
  friend bool operator==(const api_request&, const api_request&) = default;
};

/// The request for `cmd`; `page` is the cursor of a following page (the
/// previous answer's `next`), replacing any --cursor / --after given.
api_request request_for(const operator_command& cmd, const std::optional<std::string>& page = std::nullopt);

/// Whether `cmd` answers in pages that --all follows, and the name of its
/// list member ("events", "dead").
bool is_paged(const operator_command& cmd);
std::string_view page_items_member(const operator_command& cmd);

/// RFC 3986 percent-encoding: everything but unreserved characters.
std::string percent_encode(std::string_view text);

} // namespace txrelay::cli
