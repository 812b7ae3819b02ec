#include "config/config.hpp"

#include "core/duration.hpp"
#include "core/standard_webhooks.hpp"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

namespace txrelay {

std::string config_error::to_string() const {
  std::string out = file;
  if (!key.empty())
    out += ": " + key;
  return out + ": " + problem;
}

const char* to_string(sink_kind k) {
  switch (k) {
    case sink_kind::webhook: return "webhook";
    case sink_kind::log: return "log";
  }
  return "log";
}

env_lookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    if (const char* v = std::getenv(name.c_str()))
      return std::string{v};
    return std::nullopt;
  };
}

result<std::string, std::string> interpolate_env(std::string_view text, const env_lookup& env) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c != '$') {
      out += c;
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    if (i + 1 >= text.size() || text[i + 1] != '{') {
      out += c;
      continue;
    }
    auto close = text.find('}', i + 2);
    if (close == std::string_view::npos)
      return unexpected{std::string{"unterminated ${...}"}};
    auto inner = text.substr(i + 2, close - i - 2);
    std::string_view name = inner;
    std::optional<std::string_view> fallback;
    std::optional<std::string_view> alternative;
    if (auto op = inner.find(":-"); op != std::string_view::npos) {
      name = inner.substr(0, op);
      fallback = inner.substr(op + 2);
    } else if (auto alt = inner.find(":+"); alt != std::string_view::npos) {
      name = inner.substr(0, alt);
      alternative = inner.substr(alt + 2);
    }
    static const std::regex valid_name{"[A-Za-z_][A-Za-z0-9_]*"};
    if (!std::regex_match(name.begin(), name.end(), valid_name))
      return unexpected{"\"${" + std::string{inner} + "}\" does not name an environment variable"};
    auto value = env(std::string{name});
    bool set = value && !value->empty();
    if (alternative) {
      if (set)
        out += *alternative;
    } else if (set) {
      out += *value;
    } else if (fallback) {
      out += *fallback;
    } else if (value) {
      // Set but empty, with no default: the empty string.
    } else {
      return unexpected{"environment variable " + std::string{name} + " is not set (use ${" + std::string{name} +
                        ":-default} for a default)"};
    }
    i = close;
  }
  return out;
}

result<listen_address, std::string> parse_listen_address(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == text.size())
    return unexpected{"expected HOST:PORT, got \"" + std::string{text} + "\""};
  listen_address addr;
  addr.host = std::string{text.substr(0, colon)};
  if (addr.host.size() >= 2 && addr.host.front() == '[' && addr.host.back() == ']')
    addr.host = addr.host.substr(1, addr.host.size() - 2);
  if (addr.host.empty())
    return unexpected{"expected HOST:PORT, the host is empty in \"" + std::string{text} + "\""};
  unsigned long port = 0;
  for (char c : text.substr(colon + 1)) {
    if (c < '0' || c > '9' || port > 65535)
      return unexpected{"the port in \"" + std::string{text} + "\" must be a number from 0 to 65535"};
    port = port * 10 + static_cast<unsigned long>(c - '0');
  }
  if (port > 65535)
    return unexpected{"the port in \"" + std::string{text} + "\" must be a number from 0 to 65535"};
  addr.port = static_cast<std::uint16_t>(port);
  return addr;
}

namespace {

/// Walks the YAML tree with the path of the node in hand, so every error
/// can name its key. Errors are thrown inside the loader only, as this
/// type, and turned into a config_error at its boundary.
struct load_failure {
  std::string key;
  std::string problem;
};

class reader {
public:
  reader(const env_lookup& env) : env_(env) {}

  [[noreturn]] static void fail(const std::string& key, std::string problem) {
    throw load_failure{key, std::move(problem)};
  }

  static std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

  /// Refuses keys outside `allowed`, so typos are caught.
  static void only_keys(const YAML::Node& node, const std::string& path, std::set<std::string> allowed) {
    if (!node.IsMap())
      fail(path, "expected a mapping");
    for (const auto& kv : node) {
      auto key = kv.first.as<std::string>();
      if (allowed.count(key) == 0) {
        std::string known;
        for (const auto& a : allowed)
          known += (known.empty() ? "" : ", ") + a;
        fail(join(path, key), "unknown key (expected one of: " + known + ")");
      }
    }
  }

  std::string text(const YAML::Node& node, const std::string& key) const {
    if (!node.IsScalar())
      fail(key, "expected a string");
    auto value = interpolate_env(node.Scalar(), env_);
    if (!value)
      fail(key, value.error());
    return *value;
  }

  long long integer(const YAML::Node& node, const std::string& key, long long min, long long max) const {
    auto t = text(node, key);
    char* end = nullptr;
    errno = 0;
    auto v = std::strtoll(t.c_str(), &end, 10);
    if (t.empty() || *end != '\0' || errno == ERANGE)
      fail(key, "expected an integer, got \"" + t + "\"");
    if (v < min || v > max)
      fail(key, std::to_string(v) + " is out of range (" + std::to_string(min) + " to " + std::to_string(max) + ")");
    return v;
  }

  bool boolean(const YAML::Node& node, const std::string& key) const {
    auto t = text(node, key);
    if (t == "true" || t == "yes" || t == "on")
      return true;
    if (t == "false" || t == "no" || t == "off")
      return false;
    fail(key, "expected true or false, got \"" + t + "\"");
  }

  millis duration(const YAML::Node& node, const std::string& key) const {
    auto d = parse_duration(text(node, key));
    if (!d)
      fail(key, d.error());
    return *d;
  }

private:
  const env_lookup& env_;
};

listen_address parse_listen(const std::string& text, const std::string& key) {
  auto addr = parse_listen_address(text);
  if (!addr)
    reader::fail(key, addr.error());
  return *addr;
}

void load_server(const reader& r, const YAML::Node& node, server_config& out) {
  reader::only_keys(node, "server", {"listen", "max_body_bytes"});
  if (node["listen"])
    out.listen = parse_listen(r.text(node["listen"], "server.listen"), "server.listen");
  if (node["max_body_bytes"])
    out.max_body_bytes =
      static_cast<std::size_t>(r.integer(node["max_body_bytes"], "server.max_body_bytes", 1, 1LL << 30));
}

void load_database(const reader& r, const YAML::Node& node, database_config& out) {
  reader::only_keys(node, "database", {"url"});
  if (node["url"])
    out.url = r.text(node["url"], "database.url");
}

void load_retry(const reader& r, const YAML::Node& node, const std::string& path, retry_policy& out) {
  reader::only_keys(node, path, {"max_attempts", "base", "cap"});
  if (node["max_attempts"])
    out.max_attempts = static_cast<int>(r.integer(node["max_attempts"], path + ".max_attempts", 1, 100));
  if (node["base"])
    out.base = r.duration(node["base"], path + ".base");
  if (node["cap"])
    out.cap = r.duration(node["cap"], path + ".cap");
  if (out.base.count() <= 0)
    reader::fail(path + ".base", "must be greater than zero");
  if (out.cap < out.base)
    reader::fail(path + ".cap", "must be at least base");
}

/// Returns nullopt for an optional sink whose url came out empty.
std::optional<sink_config> load_sink(const reader& r, const YAML::Node& node, const std::string& path) {
  reader::only_keys(node, path,
                    {"name", "kind", "url", "optional", "secret", "secrets", "timeout", "max_in_flight", "retry"});
  sink_config sink;
  if (!node["name"])
    reader::fail(path + ".name", "is required");
  sink.name = r.text(node["name"], path + ".name");
  static const std::regex valid_name{"[a-z0-9_-]{1,64}"};
  if (!std::regex_match(sink.name, valid_name))
    reader::fail(path + ".name", "\"" + sink.name + "\" must be 1 to 64 of a-z, 0-9, _ and -");
  if (!node["kind"])
    reader::fail(path + ".kind", "is required (webhook or log)");
  auto kind = r.text(node["kind"], path + ".kind");
  if (kind == "webhook")
    sink.kind = sink_kind::webhook;
  else if (kind == "log")
    sink.kind = sink_kind::log;
  else
    reader::fail(path + ".kind", "unknown sink kind \"" + kind + "\" (webhook or log)");

  bool optional = node["optional"] ? r.boolean(node["optional"], path + ".optional") : false;
  if (sink.kind == sink_kind::log) {
    for (const char* key : {"url", "secret", "secrets"})
      if (node[key])
        reader::fail(path + "." + key, "a log sink takes no " + std::string{key});
  } else {
    if (!node["url"])
      reader::fail(path + ".url", "is required for a webhook sink");
    auto url_text = r.text(node["url"], path + ".url");
    if (url_text.empty()) {
      if (optional)
        return std::nullopt;
      reader::fail(path + ".url", "is empty (mark the sink `optional: true` to disable it when empty)");
    }
    auto parsed = parse_url(url_text);
    if (!parsed)
      reader::fail(path + ".url", parsed.error());
    if (parsed->scheme == "https")
      reader::fail(path + ".url", "https sinks are not supported yet (TLS arrives with the provider sinks)");
    sink.endpoint = *parsed;
    if (node["secret"] && node["secrets"])
      reader::fail(path + ".secrets", "give either secret or secrets, not both");
    std::vector<std::pair<std::string, std::string>> secrets; // key, value
    if (node["secret"])
      secrets.emplace_back(path + ".secret", r.text(node["secret"], path + ".secret"));
    if (node["secrets"]) {
      const auto& list = node["secrets"];
      if (!list.IsSequence())
        reader::fail(path + ".secrets", "expected a list of whsec_ secrets");
      for (std::size_t i = 0; i < list.size(); ++i) {
        auto key = path + ".secrets[" + std::to_string(i) + "]";
        secrets.emplace_back(key, r.text(list[i], key));
      }
    }
    for (auto& [key, value] : secrets) {
      if (value.empty())
        continue; // an unset ${SECRET:-} means "unsigned"
      auto decoded = decode_webhook_secret(value);
      if (!decoded)
        reader::fail(key, "is not a valid whsec_ secret: " + decoded.error());
      sink.secrets.push_back(std::move(value));
    }
  }
  if (node["timeout"])
    sink.request_timeout = r.duration(node["timeout"], path + ".timeout");
  if (sink.request_timeout.count() <= 0)
    reader::fail(path + ".timeout", "must be greater than zero");
  if (node["max_in_flight"])
    sink.max_in_flight = static_cast<int>(r.integer(node["max_in_flight"], path + ".max_in_flight", 1, 1024));
  if (node["retry"])
    load_retry(r, node["retry"], path + ".retry", sink.retry);
  return sink;
}

txrelay_config load(const YAML::Node& root, const env_lookup& env) {
  reader r{env};
  txrelay_config config;
  if (!root || root.IsNull())
    return config;
  reader::only_keys(root, "", {"server", "database", "sinks", "routes"});
  if (root["server"])
    load_server(r, root["server"], config.server);
  if (root["database"])
    load_database(r, root["database"], config.database);

  std::set<std::string> declared;
  if (const auto& sinks = root["sinks"]) {
    if (!sinks.IsSequence())
      reader::fail("sinks", "expected a list of sinks");
    for (std::size_t i = 0; i < sinks.size(); ++i) {
      auto path = "sinks[" + std::to_string(i) + "]";
      auto name_node = sinks[i].IsMap() ? sinks[i]["name"] : YAML::Node{};
      auto sink = load_sink(r, sinks[i], path);
      auto name = sink ? sink->name : r.text(name_node, path + ".name");
      if (!declared.insert(name).second)
        reader::fail(path + ".name", "sink \"" + name + "\" is declared twice");
      if (sink)
        config.sinks.push_back(std::move(*sink));
      else
        config.disabled_sinks.push_back(name);
    }
  }
  if (const auto& routes = root["routes"]) {
    if (!routes.IsSequence())
      reader::fail("routes", "expected a list of routes");
    for (std::size_t i = 0; i < routes.size(); ++i) {
      auto path = "routes[" + std::to_string(i) + "]";
      const auto& node = routes[i];
      reader::only_keys(node, path, {"topic", "sinks"});
      route_rule rule;
      if (!node["topic"])
        reader::fail(path + ".topic", "is required");
      rule.topic = r.text(node["topic"], path + ".topic");
      if (rule.topic.empty())
        reader::fail(path + ".topic", "must not be empty");
      const auto& names = node["sinks"];
      if (!names || !names.IsSequence() || names.size() == 0)
        reader::fail(path + ".sinks", "expected a non-empty list of sink names");
      for (std::size_t k = 0; k < names.size(); ++k) {
        auto key = path + ".sinks[" + std::to_string(k) + "]";
        auto name = r.text(names[k], key);
        if (declared.count(name) == 0)
          reader::fail(key, "no sink named \"" + name + "\" is declared");
        // A disabled optional sink stays in the rule; routing_table skips
        // names that are not enabled sinks.
        rule.sinks.push_back(std::move(name));
      }
      config.routes.push_back(std::move(rule));
    }
  }
  return config;
}

} // namespace

result<txrelay_config, config_error> load_config_text(const std::string& text, const std::string& file_name,
                                                      const env_lookup& env) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return unexpected{config_error{file_name, "",
                                   "invalid YAML at line " + std::to_string(e.mark.line + 1) + ", column " +
                                     std::to_string(e.mark.column + 1) + ": " + e.msg}};
  }
  try {
    auto config = load(root, env);
    config.source_file = file_name;
    return config;
  } catch (const load_failure& f) {
    return unexpected{config_error{file_name, f.key, f.problem}};
  } catch (const YAML::Exception& e) {
    return unexpected{config_error{file_name, "", "line " + std::to_string(e.mark.line + 1) + ": " + e.msg}};
  }
}

result<txrelay_config, config_error> load_config_file(const std::string& path, const env_lookup& env) {
  std::ifstream in{path};
  if (!in)
    return unexpected{config_error{path, "", std::string{"cannot read the file: "} + std::strerror(errno)}};
  std::stringstream buffer;
  buffer << in.rdbuf();
  return load_config_text(buffer.str(), path, env);
}

} // namespace txrelay
