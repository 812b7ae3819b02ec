// Loads txrelay.yaml into a txrelay_config. Every value goes through
// interpolate_env before it is interpreted; keys never do. Every error names
// the key path (e.g. "sinks[1].retry.base") and never a secret's value.
#include "config/config.hpp"

#include "core/duration.hpp"
#include "core/event_parser.hpp"
#include "core/standard_webhooks.hpp"
#include "expr/event_document.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <algorithm>
#include <map>
#include <optional>
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

/// Edits (insert, delete, replace a character) between two short strings.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

/// The allowed key a misspelt one most likely meant: at most a third of its
/// letters away (so "url" is not offered for "tag"), the closest first.
std::optional<std::string> nearest_key(std::string_view key, const std::vector<std::string_view>& allowed) {
  std::optional<std::string> best;
  std::size_t best_distance = std::max<std::size_t>(1, key.size() / 3) + 1;
  for (auto candidate : allowed) {
    auto d = edit_distance(key, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = std::string{candidate};
    }
  }
  return best;
}

/// A mapping whose keys are all plain strings from `allowed`, each once:
/// a misspelt key is an error rather than a silently ignored setting.
void check_keys(const YAML::Node& node, const std::string& path, const std::vector<std::string_view>& allowed) {
  if (!node.IsMap())
    fail(path, "expected a mapping, got " + describe(node));
  std::set<std::string> seen;
  for (const auto& entry : node) {
    if (!entry.first.IsScalar())
      fail(path, "keys must be plain strings, got " + describe(entry.first));
    const std::string& key = entry.first.Scalar();
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string expected;
      for (auto a : allowed)
        expected += (expected.empty() ? "" : ", ") + std::string{a};
      auto nearest = nearest_key(key, allowed);
      fail(child_path(path, key), "unknown key" + (nearest ? "; did you mean \"" + *nearest + "\"?" : std::string{}) +
                                    " (expected one of: " + expected + ")");
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

  millis duration(const YAML::Node& node, const std::string& key, millis min, millis max) const {
    auto d = duration(node, key);
    if (d < min || d > max)
      fail(key, "must be from " + format_duration(min) + " to " + format_duration(max));
    return d;
  }

private:
  const env_lookup& env_;
};

/// A YAML tree as JSON, for JSON templates (a webhook body, Slack blocks, a
/// compensation payload). Plain scalars follow YAML's core schema (null,
/// true/false, integers, floats); quoted ones are always strings. String
/// values go through interpolate_env like every other value.
json_value yaml_to_json(const value_reader& r, const YAML::Node& node, const std::string& path) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return json_value{};
    case YAML::NodeType::Sequence: {
      json_value::array_t items;
      for (std::size_t i = 0; i < node.size(); ++i)
        items.push_back(yaml_to_json(r, node[i], item_path(path, i)));
      return json_value{std::move(items)};
    }
    case YAML::NodeType::Map: {
      json_value::object_t members;
      for (const auto& entry : node) {
        if (!entry.first.IsScalar())
          fail(path, "keys must be plain strings, got " + describe(entry.first));
        const auto& key = entry.first.Scalar();
        for (const auto& [k, v] : members)
          if (k == key)
            fail(child_path(path, key), "duplicate key");
        members.emplace_back(key, yaml_to_json(r, entry.second, child_path(path, key)));
      }
      return json_value{std::move(members)};
    }
    case YAML::NodeType::Scalar:
      break;
  }
  auto text = r.text(node, path);
  if (node.Tag() == "?") { // plain (unquoted) style
    if (text == "null" || text == "~" || text.empty())
      return json_value{};
    if (text == "true")
      return json_value{true};
    if (text == "false")
      return json_value{false};
    if (auto parsed = json_value::parse(text); parsed && parsed->is_number())
      return std::move(*parsed);
  }
  return json_value{std::move(text)};
}

text_template load_text_template(const value_reader& r, const YAML::Node& node, const std::string& key,
                                 text_escaping escaping) {
  auto parsed = text_template::parse(r.text(node, key, "a template string"), escaping);
  if (!parsed)
    fail(key, "invalid template " + parsed.error().to_string());
  return std::move(*parsed);
}

json_template load_json_template(const value_reader& r, const YAML::Node& node, const std::string& key) {
  auto parsed = json_template::parse(yaml_to_json(r, node, key));
  if (!parsed) {
    const auto& where = parsed.error().where;
    auto at = where.empty() ? key : where.front() == '[' ? key + where : key + "." + where;
    fail(at, "invalid template " + parsed.error().error.to_string());
  }
  return std::move(*parsed);
}

condition load_condition(const value_reader& r, const YAML::Node& node, const std::string& key) {
  auto parsed = condition::parse(r.text(node, key, "a condition"));
  if (!parsed)
    fail(key, "invalid condition " + parsed.error().to_string());
  return std::move(*parsed);
}

void load_server(const value_reader& r, const YAML::Node& node, server_config& out) {
  check_keys(node, "server", {"listen", "max_body_bytes", "max_json_depth", "max_connections", "read_timeout",
                              "max_queued_events", "allowed_hosts", "shutdown_grace"});
  if (const auto listen = node["listen"]) {
    auto addr = parse_listen_address(r.text(listen, "server.listen"));
    if (!addr)
      fail("server.listen", addr.error());
    out.listen = *addr;
  }
  // Bodies are buffered whole before parsing, so the ceiling is a memory bound.
  if (const auto max = node["max_body_bytes"])
    out.max_body_bytes = static_cast<std::size_t>(r.integer(max, "server.max_body_bytes", 1, 1LL << 30));
  if (const auto n = node["max_json_depth"])
    out.max_json_depth = static_cast<int>(r.integer(n, "server.max_json_depth", 2, 1024));
  if (const auto n = node["max_connections"])
    out.max_connections = static_cast<std::size_t>(r.integer(n, "server.max_connections", 1, 1'000'000));
  if (const auto n = node["read_timeout"])
    out.read_timeout = r.duration(n, "server.read_timeout", millis{100}, millis{600'000});
  if (const auto n = node["shutdown_grace"])
    out.shutdown_grace = r.duration(n, "server.shutdown_grace", millis{0}, millis{600'000});
  if (const auto n = node["max_queued_events"])
    out.max_queued_events = static_cast<std::size_t>(r.integer(n, "server.max_queued_events", 1000, 10'000'000));
  if (const auto hosts = node["allowed_hosts"]) {
    if (!hosts.IsSequence())
      fail("server.allowed_hosts", "expected a list of host names, got " + describe(hosts));
    for (std::size_t i = 0; i < hosts.size(); ++i) {
      auto path = item_path("server.allowed_hosts", i);
      auto host = r.text(hosts[i], path);
      if (host.empty() || host.find_first_of(" /@") != std::string::npos)
        fail(path, "expected a host name (no port, scheme or path), got \"" + host + "\"");
      std::transform(host.begin(), host.end(), host.begin(), [](unsigned char c) { return std::tolower(c); });
      out.allowed_hosts.push_back(std::move(host));
    }
  }
}

void load_auth(const value_reader& r, const YAML::Node& node, auth_config& out) {
  check_keys(node, "auth", {"disabled", "keys"});
  if (const auto n = node["disabled"])
    out.disabled = r.boolean(n, "auth.disabled");
  const auto keys = node["keys"];
  if (!keys)
    return;
  if (!keys.IsSequence())
    fail("auth.keys", "expected a list of keys, got " + describe(keys));
  std::map<std::string, std::string> names;  // name -> path
  std::map<key_digest, std::string> digests; // the same key twice, under two names
  for (std::size_t i = 0; i < keys.size(); ++i) {
    auto path = item_path("auth.keys", i);
    const auto entry = keys[i];
    check_keys(entry, path, {"name", "role", "key", "key_sha256"});
    api_key key;
    const auto name = entry["name"];
    if (!name)
      fail(path + ".name", "every key needs a name (it is logged with admin actions; the key never is)");
    key.name = r.text(name, path + ".name");
    if (key.name.empty() || key.name.size() > 100 ||
        !std::all_of(key.name.begin(), key.name.end(), [](unsigned char c) { return std::isalnum(c) || c == '-' || c == '_' || c == '.'; }))
      fail(path + ".name", "expected 1 to 100 letters, digits, '-', '_' or '.'");
    if (auto [previous, inserted] = names.emplace(key.name, path); !inserted)
      fail(path + ".name", "key name \"" + key.name + "\" is already used by " + previous->second);
    const auto role = entry["role"];
    if (!role)
      fail(path + ".role", "missing: producer, reader or admin");
    auto parsed_role = parse_api_role(r.text(role, path + ".role"));
    if (!parsed_role)
      fail(path + ".role", "expected producer, reader or admin");
    key.role = *parsed_role;
    const auto plain = entry["key"];
    const auto hashed = entry["key_sha256"];
    if (plain && hashed)
      fail(path, "give key or key_sha256, not both");
    if (plain) {
      // Never echoed: the value is a secret.
      auto value = r.text(plain, path + ".key");
      if (value.empty())
        fail(path + ".key", "is empty (an unset environment variable?)");
      if (value.size() < 16)
        fail(path + ".key", "is shorter than 16 characters: too easy to guess");
      key.digest = sha256_of(value);
    } else if (hashed) {
      auto digest = parse_key_digest(r.text(hashed, path + ".key_sha256"));
      if (!digest)
        fail(path + ".key_sha256", "expected the key's SHA-256 as 64 hex digits (sha256sum)");
      key.digest = *digest;
    } else {
      fail(path, "missing key or key_sha256");
    }
    if (auto [previous, inserted] = digests.emplace(key.digest, path); !inserted)
      fail(path, "the same key as " + previous->second + ": every client needs a key of its own");
    out.keys.push_back(std::move(key));
  }
}

void load_publish(const value_reader& r, const YAML::Node& node, publish_config& out) {
  check_keys(node, "publish", {"poll_interval", "batch"});
  // Each poll is one index probe; below a millisecond it only burns a core,
  // and above a few seconds published events wait longer than anyone expects.
  if (const auto n = node["poll_interval"])
    out.poll_interval = r.duration(n, "publish.poll_interval", millis{1}, millis{10'000});
  if (const auto n = node["batch"])
    out.batch = static_cast<int>(r.integer(n, "publish.batch", 1, 10'000));
}

void load_retention(const value_reader& r, const YAML::Node& node, retention_config& out) {
  check_keys(node, "retention", {"delivered", "dead", "rejected", "interval", "batch"});
  for (auto [name, field] : {std::pair{"delivered", &out.delivered}, std::pair{"dead", &out.dead},
                             std::pair{"rejected", &out.rejected}}) {
    if (const auto n = node[name]) {
      auto key = std::string{"retention."} + name;
      *field = r.duration(n, key);
      // Shorter than an hour is a typo more often than a policy, and a
      // receipt a client is about to read must still be there.
      if (field->count() != 0 && *field < millis{3'600'000})
        fail(key, "must be 0 (keep forever) or at least 1h");
    }
  }
  if (const auto n = node["interval"])
    out.interval = r.duration(n, "retention.interval", millis{100}, millis{86'400'000});
  if (const auto n = node["batch"])
    out.batch = static_cast<int>(r.integer(n, "retention.batch", 1, 100'000));
}

void load_node(const value_reader& r, const YAML::Node& node, txrelay_config& out) {
  check_keys(node, "node", {"id"});
  if (const auto n = node["id"]) {
    out.node_id = r.text(n, "node.id", "a node id");
    if (out.node_id.empty() || out.node_id.size() > 100)
      fail("node.id", "must be 1 to 100 characters");
  }
}

void load_database(const value_reader& r, const YAML::Node& node, database_config& out) {
  check_keys(node, "database", {"url", "connect_timeout", "statement_timeout"});
  // Not validated here (libpq accepts URLs and key=value strings, and says
  // what is wrong at connect time); never echoed, since it may hold a password.
  if (const auto url = node["url"])
    out.url = r.text(url, "database.url");
  for (auto [key, value] : {std::pair{"connect_timeout", &out.connect_timeout},
                            std::pair{"statement_timeout", &out.statement_timeout}}) {
    if (const auto n = node[key]) {
      auto path = std::string{"database."} + key;
      *value = r.duration(n, path);
      if (value->count() < 1'000 || *value > millis{3'600'000})
        fail(path, "must be between 1s and 1h");
    }
  }
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

/// An optional sink's credential or target may be empty (its variable is
/// not set): the sink is then disabled, like one whose url is empty.
void empty_value(const std::string& key, bool optional, loaded_sink& out) {
  if (!optional)
    fail(key, "is empty (set it, or mark the sink `optional: true` to disable it while it is empty)");
  out.disabled = true;
}

/// The url of an HTTP sink. Every key is checked even for a sink that ends up
/// disabled, so a typo in an optional sink shows up before the day its url is set.
void load_endpoint(const value_reader& r, const YAML::Node& node, const std::string& path, bool optional,
                   loaded_sink& out) {
  const auto url_node = node["url"];
  std::string url_text;
  if (url_node)
    url_text = r.text(url_node, path + ".url");
  else if (out.sink.kind == sink_kind::notion)
    url_text = "https://api.notion.com"; // the API's base; a test points it at a fake
  else
    fail(path + ".url", std::string{"is required for a "} + to_string(out.sink.kind) + " sink");
  if (url_text.empty()) {
    empty_value(path + ".url", optional, out);
    return;
  }
  auto parsed = parse_url(url_text); // its errors never echo the path, which may be a credential
  if (!parsed)
    fail(path + ".url", parsed.error());
  out.sink.endpoint = std::move(*parsed);
}

void load_http_parts(const value_reader& r, const YAML::Node& node, const std::string& path, loaded_sink& out) {
  if (const auto timeout = node["timeout"]) {
    out.sink.request_timeout = r.duration(timeout, path + ".timeout");
    if (out.sink.request_timeout.count() <= 0)
      fail(path + ".timeout", "must be greater than 0");
  }
  if (const auto timeout = node["connect_timeout"]) {
    out.sink.connect_timeout = r.duration(timeout, path + ".connect_timeout");
    if (out.sink.connect_timeout.count() <= 0)
      fail(path + ".connect_timeout", "must be greater than 0");
  }
  if (const auto tls = node["tls"]) {
    auto tls_path = path + ".tls";
    check_keys(tls, tls_path, {"ca_file", "verify"});
    if (const auto n = tls["ca_file"]) {
      out.sink.tls.ca_file = r.text(n, tls_path + ".ca_file");
      std::error_code ec;
      if (!out.sink.tls.ca_file.empty() && !std::filesystem::is_regular_file(out.sink.tls.ca_file, ec))
        fail(tls_path + ".ca_file", "\"" + out.sink.tls.ca_file + "\" is not a readable file");
    }
    if (const auto n = tls["verify"])
      out.sink.tls.verify = r.boolean(n, tls_path + ".verify");
  }
}

void load_secrets(const value_reader& r, const YAML::Node& node, const std::string& path, loaded_sink& out) {
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
}

constexpr std::string_view notion_property_types[] = {"title", "rich_text", "date",  "number",
                                                      "select", "email",    "url",   "checkbox"};

/// `properties: {Name: {title: "{{ payload.user_name }}"}, Contact: {rich_text: "...", when: "..."}}`
void load_notion(const value_reader& r, const YAML::Node& node, const std::string& path, bool optional,
                 loaded_sink& out) {
  notion_config notion;
  const auto token = node["token"];
  if (!token)
    fail(path + ".token", "is required for a notion sink (the integration's secret)");
  notion.token = r.text(token, path + ".token"); // never echoed
  if (notion.token.empty())
    empty_value(path + ".token", optional, out);
  if (const auto n = node["notion_version"])
    notion.version = r.text(n, path + ".notion_version");
  const auto database = node["database_id"];
  const auto data_source = node["data_source_id"];
  if (database && data_source)
    fail(path + ".data_source_id", "give either database_id or data_source_id, not both");
  if (!database && !data_source)
    fail(path + ".database_id", "is required for a notion sink (or data_source_id)");
  notion.data_source = static_cast<bool>(data_source);
  auto parent_key = path + (data_source ? ".data_source_id" : ".database_id");
  notion.parent_id = r.text(data_source ? data_source : database, parent_key);
  if (notion.parent_id.empty())
    empty_value(parent_key, optional, out);

  const auto props = node["properties"];
  if (!props)
    fail(path + ".properties", "is required for a notion sink (at least the title property)");
  if (!props.IsMap() || props.size() == 0)
    fail(path + ".properties", "expected a mapping of property names, got " + describe(props));
  int titles = 0;
  for (const auto& entry : props) {
    if (!entry.first.IsScalar())
      fail(path + ".properties", "property names must be plain strings");
    notion_property_config property;
    property.name = entry.first.Scalar();
    auto key = path + ".properties." + property.name;
    const auto& spec = entry.second;
    if (!spec.IsMap())
      fail(key, "expected a mapping such as {rich_text: \"{{ payload.content }}\"}, got " + describe(spec));
    for (const auto& field : spec) {
      const auto& name = field.first.Scalar();
      if (name == "when") {
        property.when = load_condition(r, field.second, key + ".when");
        continue;
      }
      bool known = false;
      for (auto t : notion_property_types)
        known = known || t == name;
      if (!known)
        fail(key + "." + name, "unknown property type (expected title, rich_text, date, number, select, email, "
                               "url or checkbox, plus an optional when)");
      if (!property.type.empty())
        fail(key + "." + name, "a property has one type, and this one already is " + property.type);
      property.type = name;
      property.value = load_text_template(r, field.second, key + "." + name, text_escaping::plain);
    }
    if (property.type.empty())
      fail(key, "has no type (title, rich_text, date, number, select, email, url or checkbox)");
    titles += property.type == "title";
    notion.properties.push_back(std::move(property));
  }
  if (titles != 1)
    fail(path + ".properties", "a Notion page has exactly one title property, found " + std::to_string(titles));
  out.sink.notion = std::move(notion);
}

void load_sql(const value_reader& r, const YAML::Node& node, const std::string& path, loaded_sink& out) {
  sql_sink_config sql;
  const auto statement = node["statement"];
  if (!statement)
    fail(path + ".statement", "is required for a sql sink");
  auto parsed = sql_statement::parse(r.text(statement, path + ".statement"));
  if (!parsed)
    fail(path + ".statement", "invalid statement " + parsed.error().to_string());
  sql.statement = std::move(*parsed);
  if (const auto n = node["phase"]) {
    auto phase = r.text(n, path + ".phase");
    if (phase == "after_commit")
      sql.phase = sql_phase::after_commit;
    else if (phase == "in_transaction")
      sql.phase = sql_phase::in_transaction;
    else
      fail(path + ".phase", "unknown phase \"" + phase + "\" (expected after_commit or in_transaction)");
  }
  out.sink.sql = std::move(sql);
}

compensation_config load_on_dead(const value_reader& r, const YAML::Node& node, const std::string& path) {
  check_keys(node, path, {"publish"});
  const auto publish = node["publish"];
  if (!publish)
    fail(path + ".publish", "is required");
  auto pub_path = path + ".publish";
  check_keys(publish, pub_path, {"topic", "key", "payload"});
  const auto topic = publish["topic"];
  if (!topic)
    fail(pub_path + ".topic", "is required");
  auto topic_text = r.text(topic, pub_path + ".topic");
  if (topic_text.empty())
    fail(pub_path + ".topic", "must not be empty");
  std::optional<text_template> key;
  if (const auto n = publish["key"])
    key = load_text_template(r, n, pub_path + ".key", text_escaping::plain);
  const auto payload = publish["payload"];
  if (!payload)
    fail(pub_path + ".payload", "is required (a mapping; its strings are templates on the dead delivery's event)");
  if (!payload.IsMap())
    fail(pub_path + ".payload", "expected a mapping, got " + describe(payload));
  return compensation_config{std::move(topic_text), std::move(key), load_json_template(r, payload, pub_path + ".payload")};
}

/// Keys every sink takes, whatever its kind.
const std::vector<std::string_view> common_sink_keys = {
    "name", "kind", "max_in_flight", "retry", "supervision", "rate_limit", "circuit", "ordering", "on_dead",
    "safety_sweep", "partitions"};

constexpr sink_kind every_sink_kind[] = {sink_kind::webhook, sink_kind::discord, sink_kind::slack,
                                         sink_kind::notion,  sink_kind::sql,     sink_kind::log};

/// Keys a sink of each kind takes besides the common ones: the one list
/// both the unknown-key check and the wrong-kind message read.
std::vector<std::string_view> kind_keys(sink_kind kind) {
  std::vector<std::string_view> http = {"url", "optional", "timeout", "connect_timeout", "tls"};
  auto with = [&](std::initializer_list<std::string_view> more) {
    auto keys = http;
    keys.insert(keys.end(), more);
    return keys;
  };
  switch (kind) {
    case sink_kind::log: return {};
    case sink_kind::webhook: return with({"secret", "secrets", "body"});
    case sink_kind::discord: return with({"content", "username", "avatar_url", "embeds", "thread_id"});
    case sink_kind::slack: return with({"text", "blocks"});
    case sink_kind::notion: return with({"token", "notion_version", "database_id", "data_source_id", "properties"});
    case sink_kind::sql: return {"statement", "phase", "timeout"};
  }
  return {};
}

/// Every kind's own keys, once each, in a stable order.
std::vector<std::string_view> any_kind_keys() {
  std::vector<std::string_view> keys;
  for (auto k : every_sink_kind)
    for (auto key : kind_keys(k))
      if (std::find(keys.begin(), keys.end(), key) == keys.end())
        keys.push_back(key);
  return keys;
}

/// What a Discord message can carry besides its content: the author's name
/// and picture, embeds, and the thread of a forum channel it goes to (a
/// query parameter of the webhook url).
void load_discord_extras(const value_reader& r, const YAML::Node& node, const std::string& path, loaded_sink& out) {
  auto& t = out.sink.templates;
  if (const auto n = node["username"])
    t.username = load_text_template(r, n, path + ".username", text_escaping::plain);
  if (const auto n = node["avatar_url"])
    t.avatar_url = load_text_template(r, n, path + ".avatar_url", text_escaping::plain);
  if (const auto n = node["embeds"]) {
    if (!n.IsSequence() || n.size() == 0 || n.size() > 10)
      fail(path + ".embeds", "expected a list of 1 to 10 embed objects (Discord takes at most 10), got " +
                               (n.IsSequence() ? std::to_string(n.size()) + " items" : describe(n)));
    for (std::size_t i = 0; i < n.size(); ++i)
      if (!n[i].IsMap())
        fail(item_path(path + ".embeds", i), "expected an embed object such as {title: ..., description: ...}, got " +
                                                describe(n[i]));
    t.embeds = load_json_template(r, n, path + ".embeds");
  }
  if (const auto n = node["thread_id"]) {
    auto id = r.text(n, path + ".thread_id");
    if (id.empty() || id.size() > 20 || !std::all_of(id.begin(), id.end(), [](unsigned char c) { return std::isdigit(c); }))
      fail(path + ".thread_id", "expected a Discord thread id (its digits), got \"" + id + "\"");
    if (out.sink.endpoint)
      out.sink.endpoint->target += (out.sink.endpoint->target.find('?') == std::string::npos ? "?" : "&") +
                                   std::string{"thread_id="} + id;
  }
}

loaded_sink load_sink(const value_reader& r, const YAML::Node& node, const std::string& path) {
  const auto kind_specific = any_kind_keys();
  auto allowed = common_sink_keys;
  allowed.insert(allowed.end(), kind_specific.begin(), kind_specific.end());
  check_keys(node, path, allowed);
  loaded_sink out;
  out.sink.fingerprint = YAML::Dump(node);
  const auto name = node["name"];
  if (!name)
    fail(path + ".name", "is required");
  out.sink.name = r.text(name, path + ".name");
  if (!valid_sink_name(out.sink.name))
    fail(path + ".name", "\"" + out.sink.name + "\" is not a valid sink name (1 to 64 of a-z, 0-9, _ and -)");

  const char* kinds = "webhook, discord, slack, notion, sql or log";
  const auto kind = node["kind"];
  if (!kind)
    fail(path + ".kind", std::string{"is required ("} + kinds + ")");
  auto kind_text = r.text(kind, path + ".kind");
  bool known_kind = false;
  for (auto k : every_sink_kind)
    if (kind_text == to_string(k)) {
      out.sink.kind = k;
      known_kind = true;
    }
  if (!known_kind)
    fail(path + ".kind", "unknown sink kind \"" + kind_text + "\" (expected " + kinds + ")");
  out.sink.rate = default_rate_limit(out.sink.kind); // `rate_limit` below overrides what it sets
  out.sink.max_in_flight = default_max_in_flight(out.sink.kind);

  // A key that belongs to another kind would be silently ignored: refuse it.
  const auto accepted = kind_keys(out.sink.kind);
  for (auto key : kind_specific) {
    if (!node[std::string{key}] || std::find(accepted.begin(), accepted.end(), key) != accepted.end())
      continue;
    std::string takers;
    for (auto k : every_sink_kind) {
      auto ks = kind_keys(k);
      if (std::find(ks.begin(), ks.end(), key) != ks.end())
        takers += (takers.empty() ? "" : ", ") + std::string{to_string(k)};
    }
    fail(path + "." + std::string{key}, std::string{"a "} + to_string(out.sink.kind) + " sink takes no " +
                                            std::string{key} + " (only " + takers + " sinks do)");
  }

  bool optional = false;
  if (const auto n = node["optional"])
    optional = r.boolean(n, path + ".optional");
  if (out.sink.kind != sink_kind::log && out.sink.kind != sink_kind::sql) {
    load_endpoint(r, node, path, optional, out);
    load_http_parts(r, node, path, out);
  }
  switch (out.sink.kind) {
    case sink_kind::webhook:
      load_secrets(r, node, path, out);
      if (const auto n = node["body"])
        out.sink.templates.body = load_json_template(r, n, path + ".body");
      break;
    case sink_kind::discord:
      if (const auto n = node["content"])
        out.sink.templates.content = load_text_template(r, n, path + ".content", text_escaping::discord_markdown);
      load_discord_extras(r, node, path, out);
      break;
    case sink_kind::slack:
      if (const auto n = node["text"])
        out.sink.templates.text = load_text_template(r, n, path + ".text", text_escaping::slack_mrkdwn);
      if (const auto n = node["blocks"]) {
        if (!n.IsSequence())
          fail(path + ".blocks", "expected a list of Block Kit blocks, got " + describe(n));
        out.sink.templates.blocks = load_json_template(r, n, path + ".blocks");
      }
      break;
    case sink_kind::notion:
      load_notion(r, node, path, optional, out);
      break;
    case sink_kind::sql:
      load_sql(r, node, path, out);
      if (const auto timeout = node["timeout"]) { // the statement's statement_timeout
        out.sink.request_timeout = r.duration(timeout, path + ".timeout");
        if (out.sink.request_timeout.count() <= 0)
          fail(path + ".timeout", "must be greater than 0");
        if (out.sink.request_timeout > millis{24 * 3'600'000})
          fail(path + ".timeout", "must be at most 24h (it becomes the statement's statement_timeout)");
      }
      break;
    case sink_kind::log:
      break;
  }

  // An in_transaction statement runs once, inside the client's request:
  // there is nothing to retry, throttle, order or supervise.
  if (out.sink.runs_in_transaction())
    for (const char* key :
         {"max_in_flight", "retry", "supervision", "rate_limit", "circuit", "ordering", "timeout", "partitions"})
      if (node[key])
        fail(path + "." + key, std::string{"an in_transaction sql sink takes no "} + key +
                                 " (its statement runs once, inside the ingest transaction)");
  if (const auto n = node["max_in_flight"])
    out.sink.max_in_flight = static_cast<int>(r.integer(n, path + ".max_in_flight", 1, 1024));
  if (const auto n = node["partitions"])
    out.sink.partitions = static_cast<int>(r.integer(n, path + ".partitions", 1, 64));
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
  if (const auto n = node["safety_sweep"]) {
    out.sink.safety_sweep = r.duration(n, path + ".safety_sweep");
    if (out.sink.safety_sweep.count() < 0)
      fail(path + ".safety_sweep", "must not be negative (0 turns the periodic sweep off)");
  }
  if (const auto n = node["on_dead"]) {
    if (out.sink.runs_in_transaction())
      fail(path + ".on_dead", "an in_transaction sql sink never has dead deliveries: its failure refuses the event");
    out.sink.on_dead = load_on_dead(r, n, path + ".on_dead");
  }
  return out;
}

void load_sinks(const value_reader& r, const YAML::Node& node, txrelay_config& config,
                std::map<std::string, std::string>& declared) {
  if (!node.IsSequence())
    fail("sinks", "expected a list of sinks, got " + describe(node));
  for (std::size_t i = 0; i < node.size(); ++i) {
    auto path = item_path("sinks", i);
    loaded_sink loaded;
    try {
      loaded = load_sink(r, node[i], path);
    } catch (load_failure& f) {
      // The index alone makes a reader count entries: name the sink too.
      if (node[i].IsMap() && node[i]["name"] && node[i]["name"].IsScalar() && f.key != path + ".name")
        f.problem += " (sink \"" + node[i]["name"].Scalar() + "\")";
      throw;
    }
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
    check_keys(route, path, {"topic", "when", "sinks"});
    route_rule rule;
    if (const auto when = route["when"])
      rule.when = load_condition(r, when, path + ".when");
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

/// `topics: {feedback: {payload: {content: {type: string, required: true, max_length: 800}}}}`
void load_topics(const value_reader& r, const YAML::Node& node, txrelay_config& config) {
  if (!node.IsMap())
    fail("topics", "expected a mapping of topic names, got " + describe(node));
  for (const auto& entry : node) {
    if (!entry.first.IsScalar())
      fail("topics", "topic names must be plain strings");
    topic_config topic;
    topic.topic = entry.first.Scalar();
    auto path = "topics." + topic.topic;
    check_keys(entry.second, path, {"payload"});
    const auto fields = entry.second["payload"];
    if (!fields)
      continue;
    if (!fields.IsMap())
      fail(path + ".payload", "expected a mapping of field names, got " + describe(fields));
    for (const auto& field : fields) {
      if (!field.first.IsScalar())
        fail(path + ".payload", "field names must be plain strings");
      const auto& name = field.first.Scalar();
      auto key = path + ".payload." + name;
      field_rule rule;
      std::size_t start = 0;
      for (;;) { // "user.name" is a nested field
        auto dot = name.find('.', start);
        rule.path.push_back(name.substr(start, dot - start));
        if (rule.path.back().empty())
          fail(key, "empty segment in the field name");
        if (dot == std::string::npos)
          break;
        start = dot + 1;
      }
      const auto& spec = field.second;
      check_keys(spec, key, {"type", "required", "not_blank", "min_length", "max_length", "minimum", "maximum", "one_of"});
      if (const auto n = spec["type"]) {
        auto type = parse_field_type(r.text(n, key + ".type"));
        if (!type)
          fail(key + ".type", "unknown type (expected string, number, integer, boolean, object, array or any)");
        rule.type = *type;
      }
      if (const auto n = spec["required"])
        rule.required = r.boolean(n, key + ".required");
      if (const auto n = spec["not_blank"])
        rule.not_blank = r.boolean(n, key + ".not_blank");
      if (const auto n = spec["min_length"])
        rule.min_length = static_cast<std::size_t>(r.integer(n, key + ".min_length", 0, 1LL << 30));
      if (const auto n = spec["max_length"])
        rule.max_length = static_cast<std::size_t>(r.integer(n, key + ".max_length", 0, 1LL << 30));
      if (rule.min_length && rule.max_length && *rule.min_length > *rule.max_length)
        fail(key + ".max_length", "must be at least min_length");
      if (const auto n = spec["minimum"])
        rule.minimum = r.number(n, key + ".minimum", -1e300, 1e300);
      if (const auto n = spec["maximum"])
        rule.maximum = r.number(n, key + ".maximum", -1e300, 1e300);
      if (const auto n = spec["one_of"]) {
        if (!n.IsSequence() || n.size() == 0)
          fail(key + ".one_of", "expected a non-empty list of allowed values");
        auto values = yaml_to_json(r, n, key + ".one_of");
        rule.one_of = values.as_array();
      }
      topic.schema.fields.push_back(std::move(rule));
    }
    config.topics.push_back(std::move(topic));
  }
}

/// Compensation events must go somewhere, and must not feed themselves: a
/// compensation routed (directly or through other sinks' on_dead) back to a
/// sink with on_dead would publish a new event for every death, forever,
/// against a sink that refuses everything.
void check_compensation_routes(const txrelay_config& config, const std::vector<std::string>& sink_paths) {
  auto index_of = [&](const std::string& name) -> std::optional<std::size_t> {
    for (std::size_t i = 0; i < config.sinks.size(); ++i)
      if (config.sinks[i].name == name)
        return i;
    return std::nullopt;
  };
  // The sinks a sink's compensation events can reach, whatever the conditions.
  auto targets = [&](std::size_t i) {
    std::vector<std::size_t> out;
    for (const auto& route : config.routes)
      if (route.topic == config.sinks[i].on_dead->topic)
        for (const auto& name : route.sinks)
          if (auto t = index_of(name))
            out.push_back(*t);
    return out;
  };
  for (std::size_t i = 0; i < config.sinks.size(); ++i) {
    const auto& sink = config.sinks[i];
    if (!sink.on_dead)
      continue;
    auto key = sink_paths[i] + ".on_dead.publish.topic";
    bool routed = false;
    for (const auto& route : config.routes)
      routed = routed || route.topic == sink.on_dead->topic;
    if (!routed)
      fail(key, "no route has topic \"" + sink.on_dead->topic + "\", so the compensation event would go nowhere");
    for (auto t : targets(i)) {
      const auto& target = config.sinks[t];
      if (target.runs_in_transaction())
        fail(key, "topic \"" + sink.on_dead->topic + "\" goes to sink \"" + target.name +
                    "\", whose statement runs in_transaction: a compensation is not ingested by a client, so route "
                    "it to an after_commit sql sink");
    }
    // Depth-first from this sink along on_dead edges; reaching it again is a loop.
    std::vector<std::size_t> path{i};
    std::vector<bool> seen(config.sinks.size(), false);
    std::function<void(std::size_t)> walk = [&](std::size_t at) {
      for (auto t : targets(at)) {
        if (t == i) {
          std::string loop;
          for (auto p : path)
            loop += config.sinks[p].name + " -> ";
          fail(key, "compensation loop: " + loop + sink.name +
                      " (a compensation event would be published for every death, forever)");
        }
        if (seen[t] || !config.sinks[t].on_dead)
          continue;
        seen[t] = true;
        path.push_back(t);
        walk(t);
        path.pop_back();
      }
    };
    walk(i);
  }
}

/// A schema for a topic nobody routes is a typo waiting to bite: the schema
/// the author meant would silently not apply.
void check_topics_are_routed(const txrelay_config& config) {
  for (const auto& topic : config.topics) {
    bool routed = false;
    for (const auto& route : config.routes)
      routed = routed || route.topic == topic.topic;
    if (!routed)
      fail("topics." + topic.topic, "no route has this topic, so its schema would never be checked");
  }
}

txrelay_config load(const YAML::Node& root, const env_lookup& env) {
  txrelay_config config;
  if (!root || root.IsNull())
    return config; // an empty file: all defaults, nothing routed
  value_reader r{env};
  check_keys(root, "", {"server", "auth", "database", "publish", "retention", "node", "sinks", "routes", "topics"});
  for (const char* section : {"server", "auth", "database", "publish", "retention", "node", "routes", "topics"})
    if (const auto n = root[section])
      config.section_fingerprints[section] = YAML::Dump(n);
  if (const auto n = root["server"])
    load_server(r, n, config.server);
  if (const auto n = root["auth"])
    load_auth(r, n, config.auth);
  if (auto exposed = exposure_problem(config.server.listen, config.auth))
    fail("server.listen", *exposed);
  if (const auto n = root["database"])
    load_database(r, n, config.database);
  if (const auto n = root["publish"])
    load_publish(r, n, config.publish);
  if (const auto n = root["retention"])
    load_retention(r, n, config.retention);
  if (const auto n = root["node"])
    load_node(r, n, config);
  std::map<std::string, std::string> declared; // sink name -> key path, disabled sinks included
  if (const auto n = root["sinks"])
    load_sinks(r, n, config, declared);
  if (const auto n = root["routes"])
    load_routes(r, n, config, declared);
  if (const auto n = root["topics"])
    load_topics(r, n, config);
  std::vector<std::string> sink_paths;
  for (const auto& sink : config.sinks)
    sink_paths.push_back(declared.at(sink.name));
  check_compensation_routes(config, sink_paths);
  check_topics_are_routed(config);
  return config;
}

std::string yaml_problem(const YAML::Exception& e) {
  if (e.mark.is_null())
    return "invalid YAML: " + e.msg;
  return "invalid YAML at line " + std::to_string(e.mark.line + 1) + ", column " + std::to_string(e.mark.column + 1) +
         ": " + e.msg;
}

/// Counts the documents in `text`, stopping at `limit`. yaml-cpp 0.7's
/// LoadAll never returns on some malformed input (a stream that starts with
/// ","; upstream issue 1040): the parser reports a new empty document
/// forever. Counting events with a bound cannot loop.
std::size_t count_documents(const std::string& text, std::size_t limit) {
  struct counter : YAML::EventHandler {
    void OnDocumentStart(const YAML::Mark&) override {}
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}
  } events;
  std::istringstream in{text};
  YAML::Parser parser{in};
  std::size_t n = 0;
  while (n < limit && parser.HandleNextDocument(events))
    ++n;
  return n;
}

} // namespace

result<txrelay_config, config_error> load_config_text(const std::string& text, const std::string& file_name,
                                                      const env_lookup& env) {
  std::vector<YAML::Node> documents;
  try {
    auto first = YAML::Load(text);
    if (count_documents(text, 2) > 1)
      return unexpected{config_error{file_name, "", "expected one YAML document, found more (separated by ---)"}};
    if (first)
      documents.push_back(first);
  } catch (const YAML::Exception& e) {
    return unexpected{config_error{file_name, "", yaml_problem(e)}};
  }
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
