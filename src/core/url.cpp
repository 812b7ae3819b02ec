#include "core/url.hpp"

#include <cctype>

namespace txrelay {

// Errors never quote the input beyond the scheme: a sink URL's path and query
// are often its credential, and config errors end up in logs.

namespace {

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

/// RFC 3986 scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
bool is_scheme(std::string_view s) {
  if (s.empty() || !is_alpha(s.front()))
    return false;
  for (char c : s)
    if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' && c != '.')
      return false;
  return true;
}

/// A registered name or IPv4 address: unreserved characters and %-escapes.
bool is_reg_name(std::string_view s) {
  for (char c : s)
    if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '.' && c != '_' && c != '~' && c != '%')
      return false;
  return true;
}

/// The inside of "[...]": hex, colons, dots (embedded IPv4), and a "%zone".
bool is_ipv6_literal(std::string_view s) {
  if (s.find(':') == std::string_view::npos)
    return false;
  auto zone = s.find('%');
  for (char c : s.substr(0, zone))
    if (!is_hex(c) && c != ':' && c != '.')
      return false;
  return zone == std::string_view::npos || is_reg_name(s.substr(zone + 1));
}

/// The request target goes verbatim into the HTTP request line, so anything
/// that could split or end that line is refused.
bool is_safe_target(std::string_view s) {
  for (unsigned char c : s)
    if (c <= 0x20 || c == 0x7f)
      return false;
  return true;
}

std::string lowercase(std::string_view s) {
  std::string out{s};
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

} // namespace

std::string url::redacted() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return scheme + "://" + h + ":" + std::to_string(port) + "/…";
}

result<url, std::string> parse_url(std::string_view text) {
  auto sep = text.find("://");
  if (sep == std::string_view::npos || !is_scheme(text.substr(0, sep)))
    return unexpected{std::string{"not a URL: expected http(s)://host[:port]/path"}};
  url u;
  u.scheme = lowercase(text.substr(0, sep));
  if (u.scheme != "http" && u.scheme != "https")
    return unexpected{"unsupported URL scheme \"" + u.scheme + "\": use http or https"};

  auto rest = text.substr(sep + 3);
  auto authority_end = rest.find_first_of("/?#");
  auto authority = rest.substr(0, authority_end);
  std::string_view target = authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end);
  if (authority.find('@') != std::string_view::npos)
    return unexpected{std::string{"credentials in the URL (user:password@host) are not supported; "
                                  "put them in the sink's headers instead"}};

  std::string_view host;
  std::string_view port;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos)
      return unexpected{std::string{"the URL's [IPv6] host has no closing ']'"}};
    host = authority.substr(1, close - 1);
    if (!host.empty() && !is_ipv6_literal(host))
      return unexpected{std::string{"the URL's [IPv6] host is not an IPv6 address"}};
    auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':')
        return unexpected{std::string{"unexpected characters after the URL's [IPv6] host"}};
      has_port = true;
      port = after.substr(1);
    }
  } else {
    auto colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      has_port = true;
      port = authority.substr(colon + 1);
    }
    if (!is_reg_name(host))
      return unexpected{std::string{"the URL's host contains characters that are not allowed"}};
  }
  if (host.empty())
    return unexpected{std::string{"the URL has no host"}};
  u.host = lowercase(host);

  if (!has_port) {
    u.port = u.scheme == "https" ? 443 : 80;
  } else {
    if (port.empty())
      return unexpected{std::string{"the URL has an empty port after ':'"}};
    unsigned long value = 0;
    for (char c : port) {
      if (!is_digit(c))
        return unexpected{std::string{"the URL's port is not a number"}};
      value = value * 10 + static_cast<unsigned long>(c - '0');
      if (value > 65535)
        break;
    }
    if (value == 0 || value > 65535)
      return unexpected{std::string{"the URL's port is out of range (1-65535)"}};
    u.port = static_cast<std::uint16_t>(value);
  }

  // The fragment never leaves the client, so it is dropped rather than sent.
  if (auto hash = target.find('#'); hash != std::string_view::npos)
    target = target.substr(0, hash);
  if (!is_safe_target(target))
    return unexpected{std::string{"the URL's path or query contains spaces or control characters"}};
  u.target = target.empty() ? "/" : std::string{target};
  if (u.target.front() == '?')
    u.target.insert(u.target.begin(), '/');
  return u;
}

} // namespace txrelay
