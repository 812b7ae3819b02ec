#pragma once
// Who may make which request: every endpoint needs one of four kinds of
// access, and each API key role grants some of them.
#include "core/api_key.hpp"
#include "http/message.hpp"

#include <string_view>

namespace txrelay {

enum class access {
  open,    // GET /healthz, GET /ui/...: no key needed (load balancers, service managers; the console's files)
  produce, // POST /v1/events, /v1/events:batch
  receipt, // GET /v1/events/{id}: readers, and a producer for the events it posted
  identify, // GET /v1/whoami: any key, about itself (the console learns what its key may do)
  read,    // every other GET, /metrics included (and unknown paths: a key is needed to learn they are unknown)
  admin,   // pause, resume, replay: changes what txrelay does
};

/// The access a request needs, from its method and path alone.
access required_access(std::string_view method, std::string_view path);

/// Whether a key of `role` may make a request that needs `needed`.
bool permits(api_role role, access needed);

/// The host part of a Host header ("example.com:8080" -> "example.com",
/// "[::1]:8080" -> "::1"), lowercased.
std::string host_of(std::string_view host_header);

} // namespace txrelay
