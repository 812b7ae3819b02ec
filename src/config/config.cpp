#include "config/config.hpp"

#include "core/partition.hpp"

#include <algorithm>
#include <cstdlib>

namespace txrelay {

std::string config_error::to_string() const {
  // A file-level problem (unreadable file, YAML syntax) has no key.
  std::string out = file;
  if (!key.empty())
    out += ": " + key;
  return out + ": " + problem;
}

const char* to_string(sink_kind k) {
  switch (k) {
    case sink_kind::webhook: return "webhook";
    case sink_kind::log: return "log";
    case sink_kind::discord: return "discord";
    case sink_kind::slack: return "slack";
    case sink_kind::notion: return "notion";
    case sink_kind::sql: return "sql";
  }
  return "unknown";
}

rate_limit default_rate_limit(sink_kind k) {
  switch (k) {
    case sink_kind::discord: return {2.5, 5};
    case sink_kind::slack: return {1, 3};
    case sink_kind::notion: return {3, 3}; // "an average of 3 requests per second", short bursts
    case sink_kind::sql:
    case sink_kind::webhook:
    case sink_kind::log: break;
  }
  return {}; // unlimited
}

std::vector<sink_config> sink_instances(const std::vector<sink_config>& sinks) {
  std::vector<sink_config> out;
  for (const auto& sink : sinks) {
    if (sink.partitions <= 1) {
      out.push_back(sink);
      continue;
    }
    for (int i = 0; i < sink.partitions; ++i) {
      auto part = sink;
      part.name = partition_name(sink.name, i);
      part.partition_of = sink.name;
      part.rate.per_second = sink.rate.per_second / sink.partitions;
      part.rate.burst = std::max(1.0, sink.rate.burst / sink.partitions);
      out.push_back(std::move(part));
    }
  }
  return out;
}

int default_max_in_flight(sink_kind k) {
  switch (k) {
    case sink_kind::discord:
    case sink_kind::slack:
    case sink_kind::notion: return 1;
    case sink_kind::webhook:
    case sink_kind::log:
    case sink_kind::sql: break;
  }
  return 8;
}

env_lookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    if (const char* value = std::getenv(name.c_str()))
      return std::string{value};
    return std::nullopt;
  };
}

namespace {

bool is_plain_host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
         c == '_';
}

bool is_ipv6_char(char c) {
  // Hex digits, ':' and '.' (an embedded IPv4 tail); '%' and a zone name ("fe80::1%eth0").
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' || c == '.' ||
         c == '%';
}

const std::string host_port_hint = " (expected HOST:PORT such as 127.0.0.1:8080 or [::1]:8080)";

} // namespace

result<listen_address, std::string> parse_listen_address(std::string_view text) {
  listen_address addr;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos)
      return unexpected{"\"" + std::string{text} + "\" has no closing ']'" + host_port_hint};
    auto host = text.substr(1, close - 1);
    if (host.empty() || host.find(':') == std::string_view::npos)
      return unexpected{"\"" + std::string{text} + "\" has no IPv6 address between [ and ]" + host_port_hint};
    for (char c : host)
      if (!is_ipv6_char(c))
        return unexpected{"\"" + std::string{text} + "\" has an invalid IPv6 address" + host_port_hint};
    if (close + 1 >= text.size() || text[close + 1] != ':')
      return unexpected{"\"" + std::string{text} + "\" has no :PORT after the IPv6 address" + host_port_hint};
    addr.host = std::string{host};
    port_text = text.substr(close + 2);
  } else {
    auto colon = text.find(':');
    if (colon == std::string_view::npos)
      return unexpected{"\"" + std::string{text} + "\" has no port" + host_port_hint};
    if (text.find(':', colon + 1) != std::string_view::npos)
      return unexpected{"\"" + std::string{text} + "\" is ambiguous: write an IPv6 host in brackets, as in [::1]:8080"};
    auto host = text.substr(0, colon);
    if (host.empty())
      return unexpected{"\"" + std::string{text} + "\" has no host" + host_port_hint};
    for (char c : host)
      if (!is_plain_host_char(c))
        return unexpected{"\"" + std::string{text} + "\" has an invalid host" + host_port_hint};
    addr.host = std::string{host};
    port_text = text.substr(colon + 1);
  }
  if (port_text.empty())
    return unexpected{"\"" + std::string{text} + "\" has an empty port" + host_port_hint};
  unsigned port = 0;
  for (char c : port_text) {
    if (c < '0' || c > '9')
      return unexpected{"the port in \"" + std::string{text} + "\" is not a number"};
    port = port * 10 + static_cast<unsigned>(c - '0');
    if (port > 65535)
      return unexpected{"the port in \"" + std::string{text} + "\" is out of range (0 to 65535; 0 picks a free port)"};
  }
  addr.port = static_cast<std::uint16_t>(port);
  return addr;
}

} // namespace txrelay

namespace txrelay {

std::vector<std::string> routed_topics(const txrelay_config& config) {
  std::vector<std::string> topics;
  for (const auto& route : config.routes)
    topics.push_back(route.topic);
  std::sort(topics.begin(), topics.end());
  topics.erase(std::unique(topics.begin(), topics.end()), topics.end());
  return topics;
}

} // namespace txrelay

namespace txrelay {

bool is_loopback_host(std::string_view host) {
  if (host == "localhost" || host == "::1" || host == "[::1]")
    return true;
  // 127.0.0.0/8
  if (host.rfind("127.", 0) != 0)
    return false;
  int dots = 0;
  for (char c : host) {
    if (c == '.')
      ++dots;
    else if (c < '0' || c > '9')
      return false;
  }
  return dots == 3;
}

std::optional<std::string> exposure_problem(const listen_address& listen, const auth_config& auth) {
  if (auth.disabled || !auth.keys.empty() || is_loopback_host(listen.host))
    return std::nullopt;
  return "listening on " + listen.host + ":" + std::to_string(listen.port) +
         " would let anyone who reaches it post events, read payloads and replay deliveries: add API keys "
         "(auth: {keys: [{name: ..., role: producer|reader|admin, key: \"${...}\"}]}), listen on a loopback "
         "address, or set auth: {disabled: true} for a private network";
}

} // namespace txrelay
