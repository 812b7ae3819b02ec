#include "cli/operator_run.hpp"

#include "cli/table.hpp"

#include "cli/api_client.hpp"
#include "cli/operator_commands.hpp"
#include "cli/operator_views.hpp"
#include "core/json_value.hpp"

#include <cstdlib>
#include <iostream>
#include <set>

namespace txrelay::cli {

namespace {

constexpr const char* usage_text = R"(operator commands (over the HTTP API):
  txrelay events get ID                  the event, its deliveries and their failed attempts
  txrelay events search [--topic T] [--key K] [--status pending|delivered|dead|rejected]
                        [--sink NAME] [--since RFC3339] [--until RFC3339] [--limit N]
                        [--cursor C] [--all]           newest first, a page at a time
  txrelay sinks list                     every sink's state, backlog and last error
  txrelay sinks pause|resume|replay NAME
  txrelay dead list SINK [--limit N] [--after ID] [--all]

  Every one also takes:
    --url URL          the server (default $TXRELAY_URL, else http://127.0.0.1:8080)
    --json             print the server's JSON as it is, for scripts; with --all, one
                       document: every page's items in one list, {"events"|"dead": [...], "next": null}
    --timeout DURATION connecting, asking and reading the answer (default 30s)
    --ca-file FILE     https: trust these certificates too
  The API key comes from $TXRELAY_API_KEY only, never from a flag: a flag would show in ps.

exit codes:
  0 done; 1 the server refused (a 4xx not below) or gave an unexpected answer; 2 usage error;
  3 not found (404); 4 unauthorised or forbidden (401, 403); 5 the server cannot be reached,
  did not answer in time, or failed (5xx). Errors go to stderr as "txrelay: CODE: message".
)";

std::optional<std::string> env(const char* name) {
  if (const char* v = std::getenv(name); v && *v)
    return std::string{v};
  return std::nullopt;
}

int report(const std::string& code, const std::string& message, int exit) {
  std::cerr << "txrelay: " << code << ": " << message << '\n';
  return exit;
}

int report_failure(const api_failure& f) {
  return report(f.code, f.message, f.code == "bad_response" ? exit_code::refused : exit_code::unavailable);
}

int report_refusal(const api_answer& a, bool has_key) {
  auto e = summarize_error(a.status, a.body);
  if (a.status == 401 && !has_key)
    e.message += " (TXRELAY_API_KEY is not set)";
  return report(e.code, e.message, exit_code_for_status(a.status));
}

/// Calls once; the parsed answer, or the exit code of what went wrong (reported).
result<json_value, int> ask(api_client& client, const api_request& request, bool has_key) {
  auto answer = client.call(request);
  if (!answer)
    return unexpected{report_failure(answer.error())};
  if (exit_code_for_status(answer->status) != exit_code::ok)
    return unexpected{report_refusal(*answer, has_key)};
  auto parsed = json_value::parse(answer->body);
  if (!parsed || !parsed->is_object())
    return unexpected{report("bad_response", "the answer is not a JSON object (is --url a txrelay server?)",
                             exit_code::refused)};
  return std::move(*parsed);
}

/// A page's `next`, when there is a page after it.
std::optional<std::string> next_of(const json_value& page) {
  const auto* next = page.find("next");
  if (next && next->is_string() && !next->as_string().empty())
    return next->as_string();
  return std::nullopt;
}

int print(const operator_command& cmd, const json_value& answer) {
  if (cmd.json) {
    std::cout << answer.to_json() << '\n';
    return exit_code::ok;
  }
  auto text = render_answer(cmd, answer);
  if (!text)
    return report("bad_response", text.error(), exit_code::refused);
  std::cout << *text;
  return exit_code::ok;
}

/// --all: every page, merged into one answer of the same shape whose next is null.
int run_all_pages(const operator_command& cmd, api_client& client, bool has_key) {
  const std::string member{page_items_member(cmd)};
  json_value::array_t items;
  std::optional<std::string> page;
  std::set<std::string> seen; // a server repeating a cursor must not keep us here forever
  for (;;) {
    auto answer = ask(client, request_for(cmd, page), has_key);
    if (!answer)
      return answer.error();
    auto* list = answer->find(member);
    if (!list || !list->is_array())
      return report("bad_response", "the answer has no \"" + member + "\" list (an older server?)", exit_code::refused);
    for (const auto& item : list->as_array())
      items.push_back(item);
    page = next_of(*answer);
    if (!page || !seen.insert(*page).second)
      break;
  }
  json_value merged{json_value::object_t{}};
  merged.set(member, std::move(items));
  merged.set("next", nullptr);
  return print(cmd, merged);
}

int run_once(const operator_command& cmd, api_client& client, bool has_key) {
  auto request = request_for(cmd);
  if (cmd.json) {
    // As the server wrote it, byte for byte (once it is known to be JSON).
    auto answer = client.call(request);
    if (!answer)
      return report_failure(answer.error());
    if (exit_code_for_status(answer->status) != exit_code::ok)
      return report_refusal(*answer, has_key);
    if (!json_value::parse(answer->body))
      return report("bad_response", "the answer is not JSON (is --url a txrelay server?)", exit_code::refused);
    std::cout << answer->body;
    if (answer->body.empty() || answer->body.back() != '\n')
      std::cout << '\n';
    return exit_code::ok;
  }
  auto answer = ask(client, request, has_key);
  if (!answer)
    return answer.error();
  int code = print(cmd, *answer);
  if (code == exit_code::ok && is_paged(cmd))
    if (auto next = next_of(*answer))
      std::cout << "more: add " << (cmd.group == "dead" ? "--after " : "--cursor ") << table_cell(*next, 64) // the server's text: no escape sequences reach the terminal
                << " for the next page, or --all for every page\n";
  return code;
}

} // namespace

const char* operator_usage() { return usage_text; }

int run_operator_command(const std::vector<std::string>& args) {
  auto cmd = parse_operator_command(args);
  if (!cmd)
    return report("usage", cmd.error() + " (txrelay help)", exit_code::usage);
  if (cmd->help) {
    std::cout << usage_text;
    return exit_code::ok;
  }
  auto base_text = resolve_api_url(cmd->url, env("TXRELAY_URL"));
  auto base = parse_url(base_text);
  if (!base)
    return report("usage", (cmd->url ? "--url: " : "TXRELAY_URL: ") + base.error(), exit_code::usage);
  api_client_options options;
  options.timeout = cmd->timeout.value_or(default_api_timeout);
  options.api_key = env("TXRELAY_API_KEY");
  options.ca_file = cmd->ca_file.value_or("");
  const bool has_key = options.api_key.has_value();
  auto client = api_client::create(std::move(*base), std::move(options));
  if (!client)
    return report("usage", client.error(), exit_code::usage);
  int code = cmd->all ? run_all_pages(*cmd, **client, has_key) : run_once(*cmd, **client, has_key);
  std::cout.flush();
  return code;
}

} // namespace txrelay::cli
