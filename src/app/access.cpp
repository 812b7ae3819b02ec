#include "app/access.hpp"

#include "app/console.hpp"

#include <algorithm>
#include <cctype>

namespace txrelay {

access required_access(std::string_view method, std::string_view path) {
  if (path == "/healthz")
    return access::open;
  // The console's files hold no data: the page asks the API for it with the
  // operator's key. (Other methods there fall to the rules below.)
  if (method == "GET" && is_console_path(path))
    return access::open;
  if (path == "/v1/whoami" && method == "GET")
    return access::identify;
  bool post = method == "POST";
  if (path == "/v1/events" || path == "/v1/events:batch")
    return post ? access::produce : access::read;
  // Everything else that changes state is an operator's action.
  if (post)
    return access::admin;
  if (path.rfind("/v1/events/", 0) == 0 && path.find('/', 11) == std::string_view::npos && method == "GET")
    return access::receipt;
  return access::read;
}

bool permits(api_role role, access needed) {
  switch (needed) {
    case access::open: return true;
    case access::produce: return role == api_role::producer || role == api_role::admin;
    case access::receipt: return true; // a producer sees only its own (the API filters)
    case access::identify: return true;
    case access::read: return role == api_role::reader || role == api_role::admin;
    case access::admin: return role == api_role::admin;
  }
  return false;
}

std::string host_of(std::string_view host) {
  std::string_view name = host;
  if (!name.empty() && name.front() == '[') {
    auto close = name.find(']');
    name = close == std::string_view::npos ? name.substr(1) : name.substr(1, close - 1);
  } else if (auto colon = name.rfind(':'); colon != std::string_view::npos) {
    name = name.substr(0, colon);
  }
  std::string out{name};
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

} // namespace txrelay
