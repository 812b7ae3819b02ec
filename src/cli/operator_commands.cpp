#include "cli/operator_commands.hpp"

#include "cli/argument_reader.hpp"

#include "core/duration.hpp"

#include <algorithm>
#include <array>

namespace txrelay::cli {

namespace {

/// The options each command takes beyond the common ones (--url, --json,
/// --timeout, --ca-file, --help). Query options become query parameters
/// under their own name; --all is a switch.
struct command_spec {
  std::string_view group;
  std::string_view action;
  std::string_view target; // what the one positional argument names; empty: none
  std::vector<std::string_view> query_options;
  bool pages = false; // answers in pages: --all is accepted
};

const std::vector<command_spec>& specs() {
  static const std::vector<command_spec> all{
    {"events", "get", "an event id", {}, false},
    {"events", "search", "", {"topic", "key", "status", "sink", "since", "until", "limit", "cursor"}, true},
    {"sinks", "list", "", {}, false},
    {"sinks", "pause", "a sink name", {}, false},
    {"sinks", "resume", "a sink name", {}, false},
    {"sinks", "replay", "a sink name", {}, false},
    {"dead", "list", "a sink name", {"limit", "after"}, true},
  };
  return all;
}

const command_spec* find_spec(std::string_view group, std::string_view action) {
  for (const auto& s : specs())
    if (s.group == group && s.action == action)
      return &s;
  return nullptr;
}

std::string actions_of(std::string_view group) {
  std::string out;
  for (const auto& s : specs())
    if (s.group == group)
      out += (out.empty() ? "" : ", ") + std::string{s.action};
  return out;
}

/// Whether `flag` is --NAME for a query option of any command (which
/// command takes it is checked once the command is known).
bool is_query_option(std::string_view flag) {
  if (flag.substr(0, 2) != "--")
    return false;
  for (const auto& s : specs())
    for (auto option : s.query_options)
      if (flag.substr(2) == option)
        return true;
  return false;
}

bool is_whole_positive(std::string_view s) {
  if (s.empty() || s.size() > 9)
    return false;
  if (!std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return false;
  return std::stoi(std::string{s}) >= 1;
}

/// Checks that are certain on this side: a bad value is a usage error (2),
/// not a round trip that comes back 400. Ranges the server owns (the largest
/// limit) stay with the server.
std::optional<std::string> check_query_value(std::string_view name, std::string_view value) {
  if (name == "status") {
    static constexpr std::array<std::string_view, 4> statuses{"pending", "delivered", "dead", "rejected"};
    if (std::find(statuses.begin(), statuses.end(), value) == statuses.end())
      return "--status must be pending, delivered, dead or rejected";
  } else if (name == "since" || name == "until") {
    if (!parse_rfc3339(value))
      return "--" + std::string{name} + " must be an RFC 3339 instant, e.g. 2026-12-01T16:00:00Z";
  } else if (name == "limit") {
    if (!is_whole_positive(value))
      return "--limit must be a whole number of at least 1";
  } else if (value.empty()) {
    return "--" + std::string{name} + " needs a non-empty value";
  }
  return std::nullopt;
}

} // namespace

int exit_code_for_status(int status) {
  if (status >= 200 && status < 300)
    return exit_code::ok;
  if (status == 404)
    return exit_code::not_found;
  if (status == 401 || status == 403)
    return exit_code::unauthorized;
  if (status >= 500)
    return exit_code::unavailable;
  return exit_code::refused;
}

bool is_operator_group(std::string_view word) { return word == "events" || word == "sinks" || word == "dead"; }

result<operator_command, std::string> parse_operator_command(const std::vector<std::string>& args) {
  operator_command cmd;
  if (args.empty() || !is_operator_group(args[0]))
    return unexpected{std::string{"expected events, sinks or dead"}};
  cmd.group = args[0];
  std::vector<std::string> positional;
  std::vector<std::pair<std::string, std::string>> options; // query options, checked once the command is known
  for (argument_reader reader{args}; !reader.done();) {
    auto arg = reader.next();
    const auto& flag = arg.name;
    if (flag.rfind("-", 0) != 0 || flag == "-") {
      positional.push_back(flag);
      continue;
    }
    auto no_value = [&]() -> std::optional<std::string> {
      if (arg.inline_value)
        return flag + " takes no value";
      return std::nullopt;
    };
    if (flag == "--help" || flag == "-h") {
      cmd.help = true;
      continue;
    }
    if (flag == "--json" || flag == "--all") {
      if (auto e = no_value())
        return unexpected{*e};
      (flag == "--json" ? cmd.json : cmd.all) = true;
      continue;
    }
    if (flag == "--api-key" || flag == "--token")
      return unexpected{"there is no " + flag + " option: set TXRELAY_API_KEY (a flag would show in ps)"};
    bool common = flag == "--url" || flag == "--ca-file" || flag == "--timeout";
    if (!common && !is_query_option(flag))
      return unexpected{"unknown option \"" + flag + "\" (txrelay help)"};
    auto v = reader.value_of(arg);
    if (!v)
      return unexpected{v.error()};
    if (flag == "--url") {
      cmd.url = *v;
    } else if (flag == "--ca-file") {
      cmd.ca_file = *v;
    } else if (flag == "--timeout") {
      auto d = parse_duration(*v);
      if (!d || d->count() <= 0)
        return unexpected{std::string{"--timeout must be a duration such as 10s or 500ms"}};
      cmd.timeout = *d;
    } else {
      options.emplace_back(flag.substr(2), *v); // checked against the command below
    }
  }
  if (positional.empty()) {
    if (cmd.help)
      return cmd;
    return unexpected{cmd.group + " needs a command: " + actions_of(cmd.group)};
  }
  cmd.action = positional[0];
  const auto* spec = find_spec(cmd.group, cmd.action);
  if (!spec)
    return unexpected{"unknown command \"" + cmd.group + " " + cmd.action + "\" (" + cmd.group + ": " +
                      actions_of(cmd.group) + ")"};
  if (cmd.help)
    return cmd;
  const auto name = cmd.group + " " + cmd.action;
  if (!spec->target.empty()) {
    if (positional.size() < 2)
      return unexpected{name + " needs " + std::string{spec->target}};
    cmd.target = positional[1];
    if (cmd.target.empty())
      return unexpected{name + " needs " + std::string{spec->target}};
  }
  if (positional.size() > (spec->target.empty() ? 1u : 2u))
    return unexpected{"unexpected argument \"" + positional.back() + "\" for " + name};
  if (cmd.all && !spec->pages)
    return unexpected{std::string{"--all is for commands that answer in pages (events search, dead list)"}};
  for (const auto& given : options) {
    const auto& [option, value] = given;
    const auto& allowed = spec->query_options;
    if (std::find(allowed.begin(), allowed.end(), option) == allowed.end())
      return unexpected{"unknown option \"--" + option + "\" for " + name + " (txrelay help)"};
    bool repeated = std::any_of(cmd.query.begin(), cmd.query.end(), [&](const auto& q) { return q.first == given.first; });
    if (repeated)
      return unexpected{"--" + option + " is given twice"};
    if (auto problem = check_query_value(option, value))
      return unexpected{*problem};
    cmd.query.emplace_back(option, value);
  }
  return cmd;
}

std::string resolve_api_url(const std::optional<std::string>& flag, const std::optional<std::string>& env) {
  if (flag && !flag->empty())
    return *flag;
  if (env && !env->empty())
    return *env;
  return std::string{default_api_url};
}

std::string percent_encode(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 0xf];
    }
  }
  return out;
}

bool is_paged(const operator_command& cmd) {
  const auto* spec = find_spec(cmd.group, cmd.action);
  return spec && spec->pages;
}

std::string_view page_items_member(const operator_command& cmd) { return cmd.group == "dead" ? "dead" : "events"; }

api_request request_for(const operator_command& cmd, const std::optional<std::string>& page) {
  api_request req{"GET", "", ""};
  if (cmd.group == "events")
    req.target = cmd.action == "get" ? "/v1/events/" + percent_encode(cmd.target) : "/v1/events";
  else if (cmd.group == "dead")
    req.target = "/v1/sinks/" + percent_encode(cmd.target) + "/dead";
  else if (cmd.action == "list")
    req.target = "/v1/sinks";
  else {
    req.method = "POST";
    req.target = "/v1/sinks/" + percent_encode(cmd.target) + "/" + cmd.action;
    req.body = "{}";
  }
  // A following page's cursor replaces the one the command line gave.
  const std::string cursor_name = cmd.group == "dead" ? "after" : "cursor";
  auto query = cmd.query;
  if (page) {
    std::erase_if(query, [&](const auto& q) { return q.first == cursor_name; });
    query.emplace_back(cursor_name, *page);
  }
  char sep = '?';
  for (const auto& [name, value] : query) {
    req.target += sep + name + "=" + percent_encode(value);
    sep = '&';
  }
  return req;
}

} // namespace txrelay::cli
