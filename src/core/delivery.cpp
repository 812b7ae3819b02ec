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

} // namespace txrelay
