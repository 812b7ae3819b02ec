// Loads txrelay.yaml into a txrelay_config. Every value goes through
// interpolate_env before it is interpreted; keys never do. Every error names
// the key path (e.g. "sinks[1].retry.base") and never a secret's value.
#include "config/config.hpp"

#include "core/duration.hpp"
#include "core/event_parser.hpp"
#include "core/standard_webhooks.hpp"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <map>
#include <set>
#include <sstream>

namespace txrelay {
namespace {

/// Thrown inside this file only, so the tree walk can stop at the first
/// problem without threading a result through every level; load_config_text
/// turns it into a config_error.
struct load_failure {
  std::string key;
  std::string problem;
};

[[noreturn]] void fail(std::string key, std::string problem) {
  throw load_failure{std::move(key), std::move(problem)};
}

std::string child_path(const std::string& path, std::string_view key) {
  return path.empty() ? std::string{key} : path + "." + std::string{key};
}

std::string item_path(const std::string& path, std::size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null: return "no value";
    case YAML::NodeType::Scalar: return "a scalar";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Undefined: break;
  }
  return "nothing";
}

/// A mapping whose keys are all plain strings from `allowed`, each once:
/// a misspelt key is an error rather than a silently ignored setting.
void check_keys(const YAML::Node& node, const std::string& path, std::initializer_list<std::string_view> allowed) {
  if (!node.IsMap())
    fail(path, "expected a mapping, got " + describe(node));
  std::set<std::string> seen;
  for (const auto& entry : node) {
    if (!entry.first.IsScalar())
      fail(path, "keys must be plain strings, got " + describe(entry.first));
    const std::string& key = entry.first.Scalar();
    bool known = false;
    for (auto a : allowed)
      known = known || a == key;
    if (!known) {
      std::string expected;
      for (auto a : allowed)
        expected += (expected.empty() ? "" : ", ") + std::string{a};
      fail(child_path(path, key), "unknown key (expected one of: " + expected + ")");
    }
    if (!seen.insert(key).second)
      fail(child_path(path, key), "duplicate key");
  }
}

/// Reads scalar values, interpolated. Values are strings after interpolation
/// whatever their YAML style, so `8` and "8" are the same integer: that is what
/// lets a number come from the environment ("${MAX_IN_FLIGHT:-8}").
class value_reader {
public:
  explicit value_reader(const env_lookup& env) : env_(env) {}

  std::string text(const YAML::Node& node, const std::string& key, const char* expected = "a string") const {
    if (!node.IsScalar())
      fail(key, std::string{"expected "} + expected + ", got " + describe(node));
    auto value = interpolate_env(node.Scalar(), env_);
    if (!value)
      fail(key, value.error());
    return std::move(*value);
  }

  long long integer(const YAML::Node& node, const std::string& key, long long min, long long max) const {
    auto t = text(node, key, "an integer");
    long long v = 0;
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (t.empty() || ec == std::errc::invalid_argument || end != t.data() + t.size())
      fail(key, "expected an integer, got \"" + t + "\"");
    if (ec == std::errc::result_out_of_range || v < min || v > max)
      fail(key, "must be from " + std::to_string(min) + " to " + std::to_string(max) + ", got " + t);
    return v;
  }

  double number(const YAML::Node& node, const std::string& key, double min, double max) const {
    auto t = text(node, key, "a number");
    double v = 0;
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (t.empty() || ec != std::errc{} || end != t.data() + t.size() || !std::isfinite(v))
      fail(key, "expected a number, got \"" + t + "\"");
    if (v < min || v > max)
      fail(key, "must be from " + std::to_string(min) + " to " + std::to_string(max) + ", got " + t);
    return v;
  }

  bool boolean(const YAML::Node& node, const std::string& key) const {
    auto t = text(node, key, "true or false");
    if (t == "true" || t == "True" || t == "TRUE" || t == "yes" || t == "on")
      return true;
    if (t == "false" || t == "False" || t == "FALSE" || t == "no" || t == "off")
      return false;
    fail(key, "expected true or false, got \"" + t + "\"");
  }

  millis duration(const YAML::Node& node, const std::string& key) const {
    auto d = parse_duration(text(node, key, "a duration"));
    if (!d)
      fail(key, d.error());
    return *d;
  }

private:
  const env_lookup& env_;
};

void load_server(const value_reader& r, const YAML::Node& node, server_config& out) {
  check_keys(node, "server", {"listen", "max_body_bytes"});
  if (const auto listen = node["listen"]) {
    auto addr = parse_listen_address(r.text(listen, "server.listen"));
    if (!addr)
      fail("server.listen", addr.error());
    out.listen = *addr;
  }
  // Bodies are buffered whole before parsing, so the ceiling is a memory bound.
  if (const auto max = node["max_body_bytes"])
    out.max_body_bytes = static_cast<std::size_t>(r.integer(max, "server.max_body_bytes", 1, 1LL << 30));
}

void load_database(const value_reader& r, const YAML::Node& node, database_config& out) {
  check_keys(node, "database", {"url"});
  // Not validated here (libpq accepts URLs and key=value strings, and says
  // what is wrong at connect time); never echoed, since it may hold a password.
  if (const auto url = node["url"])
    out.url = r.text(url, "database.url");
}

void load_retry(const value_reader& r, const YAML::Node& node, const std::string& path, retry_policy& out) {
  check_keys(node, path, {"max_attempts", "base", "cap", "max_age"});
  if (const auto n = node["max_attempts"])
    out.max_attempts = static_cast<int>(r.integer(n, path + ".max_attempts", 1, 100));
  if (const auto n = node["base"])
    out.base = r.duration(n, path + ".base");
  if (const auto n = node["cap"])
    out.cap = r.duration(n, path + ".cap");
  if (out.base.count() <= 0)
    fail(path + ".base", "must be greater than 0");
  if (out.cap < out.base)
    fail(path + ".cap", "must be at least base (" + std::to_string(out.base.count()) + "ms)");
  if (const auto n = node["max_age"]) {
    out.max_age = r.duration(n, path + ".max_age");
    if (out.max_age->count() <= 0)
      fail(path + ".max_age", "must be greater than 0");
  }
}

void load_circuit(const value_reader& r, const YAML::Node& node, const std::string& path, circuit_policy& out) {
  check_keys(node, path, {"failure_threshold", "probe_interval"});
  if (const auto n = node["failure_threshold"])
    out.failure_threshold = static_cast<int>(r.integer(n, path + ".failure_threshold", 0, 1'000'000));
  if (const auto n = node["probe_interval"])
    out.probe_interval = r.duration(n, path + ".probe_interval");
  if (out.probe_interval.count() <= 0)
    fail(path + ".probe_interval", "must be greater than 0");
}

delivery_ordering load_ordering(const value_reader& r, const YAML::Node& node, const std::string& path) {
  auto text = r.text(node, path);
  if (text == "none")
    return delivery_ordering::none;
  if (text == "per_key")
    return delivery_ordering::per_key;
  fail(path, "unknown ordering \"" + text + "\" (expected none or per_key)");
}

void load_rate_limit(const value_reader& r, const YAML::Node& node, const std::string& path, rate_limit& out) {
  check_keys(node, path, {"per_second", "burst"});
  if (const auto n = node["per_second"])
    out.per_second = r.number(n, path + ".per_second", 0.001, 1e6);
  if (const auto n = node["burst"])
    out.burst = r.number(n, path + ".burst", 1, 1e6);
}

void load_supervision(const value_reader& r, const YAML::Node& node, const std::string& path,
                      supervision_policy& out) {
  check_keys(node, path, {"max_restarts", "restart_window"});
  if (const auto n = node["max_restarts"])
    out.max_restarts = static_cast<int>(r.integer(n, path + ".max_restarts", 0, 1000));
  if (const auto n = node["restart_window"])
    out.restart_window = r.duration(n, path + ".restart_window");
  if (out.restart_window.count() <= 0)
    fail(path + ".restart_window", "must be greater than 0");
}

bool valid_sink_name(const std::string& name) {
  if (name.empty() || name.size() > 64)
    return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return false;
  return true;
}

struct loaded_sink {
  sink_config sink;
  bool disabled = false; // optional webhook whose url is empty
};

/// Every key is checked even for a sink that ends up disabled, so a typo in
/// an optional sink shows up before the day its url is set.
void load_webhook_parts(const value_reader& r, const YAML::Node& node, const std::string& path, bool optional,
                        loaded_sink& out) {
  const auto url_node = node["url"];
  if (!url_node)
    fail(path + ".url", std::string{"is required for a "} + to_string(out.sink.kind) + " sink");
  auto url_text = r.text(url_node, path + ".url");
  if (url_text.empty()) {
    if (!optional)
      fail(path + ".url", "is empty (set it, or mark the sink `optional: true` to disable it while the url is empty)");
    out.disabled = true;
  } else {
    auto parsed = parse_url(url_text); // its errors never echo the path, which may be a credential
    if (!parsed)
      fail(path + ".url", parsed.error());
    out.sink.endpoint = std::move(*parsed);
  }

  const auto secret = node["secret"];
  const auto secrets = node["secrets"];
  if (secret && secrets)
    fail(path + ".secrets", "give either secret or secrets, not both");
  std::vector<std::pair<std::string, std::string>> candidates; // key path, value
  if (secret)
    candidates.emplace_back(path + ".secret", r.text(secret, path + ".secret"));
  if (secrets) {
    if (!secrets.IsSequence())
      fail(path + ".secrets", "expected a list of whsec_ secrets, got " + describe(secrets));
    for (std::size_t i = 0; i < secrets.size(); ++i) {
      auto key = item_path(path + ".secrets", i);
      candidates.emplace_back(key, r.text(secrets[i], key));
    }
  }
  for (auto& [key, value] : candidates) {
    // Empty means "no secret": `secret: "${HOOK_SECRET:-}"` leaves the sink
    // unsigned until the variable is set.
    if (value.empty())
      continue;
    auto decoded = decode_webhook_secret(value); // its errors never echo the secret
    if (!decoded)
      fail(key, "is not a valid whsec_ secret: " + decoded.error());
    out.sink.secrets.push_back(std::move(value));
  }

  if (const auto timeout = node["timeout"]) {
    out.sink.request_timeout = r.duration(timeout, path + ".timeout");
    if (out.sink.request_timeout.count() <= 0)
      fail(path + ".timeout", "must be greater than 0");
  }
}

loaded_sink load_sink(const value_reader& r, const YAML::Node& node, const std::string& path) {
  check_keys(node, path,
             {"name", "kind", "url", "optional", "secret", "secrets", "timeout", "max_in_flight", "retry",
              "supervision", "rate_limit", "circuit", "ordering"});
  loaded_sink out;
  const auto name = node["name"];
  if (!name)
    fail(path + ".name", "is required");
  out.sink.name = r.text(name, path + ".name");
  if (!valid_sink_name(out.sink.name))
    fail(path + ".name", "\"" + out.sink.name + "\" is not a valid sink name (1 to 64 of a-z, 0-9, _ and -)");

  const auto kind = node["kind"];
  if (!kind)
    fail(path + ".kind", "is required (webhook, discord, slack or log)");
  auto kind_text = r.text(kind, path + ".kind");
  if (kind_text == "webhook")
    out.sink.kind = sink_kind::webhook;
  else if (kind_text == "discord")
    out.sink.kind = sink_kind::discord;
  else if (kind_text == "slack")
    out.sink.kind = sink_kind::slack;
  else if (kind_text == "log")
    out.sink.kind = sink_kind::log;
  else
    fail(path + ".kind", "unknown sink kind \"" + kind_text + "\" (expected webhook, discord, slack or log)");
  out.sink.rate = default_rate_limit(out.sink.kind); // `rate_limit` below overrides what it sets

  bool optional = false;
  if (const auto n = node["optional"])
    optional = r.boolean(n, path + ".optional");

  if (out.sink.kind == sink_kind::log) {
    // These only mean something for an HTTP sink; accepting them on a log sink
    // would hide a sink declared with the wrong kind.
    for (const char* key : {"url", "secret", "secrets", "optional", "timeout"})
      if (node[key])
        fail(path + "." + key, std::string{"a log sink takes no "} + key + " (it only applies to HTTP sinks)");
  } else {
    // Discord and Slack authenticate by the token in the url's path; they
    // would ignore a webhook-signature header, so a secret there is a mistake.
    if (out.sink.kind != sink_kind::webhook)
      for (const char* key : {"secret", "secrets"})
        if (node[key])
          fail(path + "." + key, std::string{"a "} + to_string(out.sink.kind) + " sink takes no " + key +
                                   " (its url carries the credential; signing only applies to webhook sinks)");
    load_webhook_parts(r, node, path, optional, out);
  }

  if (const auto n = node["max_in_flight"])
    out.sink.max_in_flight = static_cast<int>(r.integer(n, path + ".max_in_flight", 1, 1024));
  if (const auto n = node["retry"])
    load_retry(r, n, path + ".retry", out.sink.retry);
  if (const auto n = node["supervision"])
    load_supervision(r, n, path + ".supervision", out.sink.supervision);
  if (const auto n = node["rate_limit"])
    load_rate_limit(r, n, path + ".rate_limit", out.sink.rate);
  if (const auto n = node["circuit"])
    load_circuit(r, n, path + ".circuit", out.sink.circuit);
  if (const auto n = node["ordering"])
    out.sink.ordering = load_ordering(r, n, path + ".ordering");
  return out;
}

void load_sinks(const value_reader& r, const YAML::Node& node, txrelay_config& config,
                std::map<std::string, std::string>& declared) {
  if (!node.IsSequence())
    fail("sinks", "expected a list of sinks, got " + describe(node));
  for (std::size_t i = 0; i < node.size(); ++i) {
    auto path = item_path("sinks", i);
    auto loaded = load_sink(r, node[i], path);
    auto [previous, inserted] = declared.emplace(loaded.sink.name, path);
    if (!inserted)
      fail(path + ".name", "sink \"" + loaded.sink.name + "\" is already declared by " + previous->second);
    if (loaded.disabled)
      config.disabled_sinks.push_back(loaded.sink.name);
    else
      config.sinks.push_back(std::move(loaded.sink));
  }
}

void load_routes(const value_reader& r, const YAML::Node& node, txrelay_config& config,
                 const std::map<std::string, std::string>& declared) {
  if (!node.IsSequence())
    fail("routes", "expected a list of routes, got " + describe(node));
  const std::size_t max_topic = event_limits{}.max_topic_length;
  for (std::size_t i = 0; i < node.size(); ++i) {
    auto path = item_path("routes", i);
    const auto route = node[i];
    check_keys(route, path, {"topic", "sinks"});
    route_rule rule;
    const auto topic = route["topic"];
    if (!topic)
      fail(path + ".topic", "is required");
    rule.topic = r.text(topic, path + ".topic");
    if (rule.topic.empty())
      fail(path + ".topic", "must not be empty");
    if (rule.topic.size() > max_topic)
      fail(path + ".topic", "is longer than " + std::to_string(max_topic) + " characters, so no event can match it");

    const auto names = route["sinks"];
    if (!names)
      fail(path + ".sinks", "is required (a list of sink names)");
    if (!names.IsSequence() || names.size() == 0)
      fail(path + ".sinks", "expected a non-empty list of sink names, got " +
                              (names.IsSequence() ? std::string{"an empty list"} : describe(names)));
    for (std::size_t k = 0; k < names.size(); ++k) {
      auto key = item_path(path + ".sinks", k);
      auto name = r.text(names[k], key);
      if (declared.count(name) == 0) {
        std::string known;
        for (const auto& [n, where] : declared)
          known += (known.empty() ? "" : ", ") + n;
        fail(key, "no sink named \"" + name + "\" is declared" +
                    (known.empty() ? std::string{" (no sinks are declared)"} : " (declared: " + known + ")"));
      }
      for (const auto& earlier : rule.sinks)
        if (earlier == name)
          fail(key, "sink \"" + name + "\" is listed twice in this route");
      // A disabled optional sink stays in the rule on purpose: the rule then
      // reads as written, and routing_table skips names that are not among
      // the enabled sinks, so nothing is ever routed to it.
      rule.sinks.push_back(std::move(name));
    }
    config.routes.push_back(std::move(rule));
  }
}

txrelay_config load(const YAML::Node& root, const env_lookup& env) {
  txrelay_config config;
  if (!root || root.IsNull())
    return config; // an empty file: all defaults, nothing routed
  value_reader r{env};
  check_keys(root, "", {"server", "database", "sinks", "routes"});
  if (const auto n = root["server"])
    load_server(r, n, config.server);
  if (const auto n = root["database"])
    load_database(r, n, config.database);
  std::map<std::string, std::string> declared; // sink name -> key path, disabled sinks included
  if (const auto n = root["sinks"])
    load_sinks(r, n, config, declared);
  if (const auto n = root["routes"])
    load_routes(r, n, config, declared);
  return config;
}

std::string yaml_problem(const YAML::Exception& e) {
  if (e.mark.is_null())
    return "invalid YAML: " + e.msg;
  return "invalid YAML at line " + std::to_string(e.mark.line + 1) + ", column " + std::to_string(e.mark.column + 1) +
         ": " + e.msg;
}

} // namespace

result<txrelay_config, config_error> load_config_text(const std::string& text, const std::string& file_name,
                                                      const env_lookup& env) {
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    return unexpected{config_error{file_name, "", yaml_problem(e)}};
  }
  if (documents.size() > 1)
    return unexpected{config_error{file_name, "", "expected one YAML document, found " +
                                                    std::to_string(documents.size()) + " (separated by ---)"}};
  try {
    auto config = load(documents.empty() ? YAML::Node{} : documents.front(), env);
    config.source_file = file_name;
    return config;
  } catch (const load_failure& f) {
    return unexpected{config_error{file_name, f.key, f.problem}};
  } catch (const YAML::Exception& e) { // not expected: the walk above checks node types first
    return unexpected{config_error{file_name, "", yaml_problem(e)}};
  }
}

result<txrelay_config, config_error> load_config_file(const std::string& path, const env_lookup& env) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    return unexpected{config_error{path, "", "cannot read the config file: it is a directory"}};
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return unexpected{config_error{path, "", std::string{"cannot read the config file: "} + std::strerror(errno)}};
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad())
    return unexpected{config_error{path, "", "cannot read the config file: read error"}};
  return load_config_text(buffer.str(), path, env);
}

} // namespace txrelay
