#include "core/delivery.hpp"

namespace txrelay {

const char* to_string(delivery_status s) {
  switch (s) {
    case delivery_status::pending: return "pending";
    case delivery_status::delivered: return "delivered";
    case delivery_status::dead: return "dead";
  }
  return "pending";
}

const char* to_string(failure_reason reason) {
  switch (reason) {
    case failure_reason::other: return "other";
    case failure_reason::status: return "status";
    case failure_reason::rate_limited: return "rate_limited";
    case failure_reason::timeout: return "timeout";
    case failure_reason::connect: return "connect";
    case failure_reason::tls: return "tls";
  }
  return "other";
}

} // namespace txrelay
