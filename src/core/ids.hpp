#pragma once
// Identifiers for events and deliveries: UUIDv7 (RFC 9562), time-ordered so
// that keyset paging by id follows commit order and index inserts stay local.
#include "core/clock.hpp"

#include <random>
#include <string>
#include <string_view>

namespace txrelay {

std::string new_uuid_v7(time_point now, std::mt19937_64& rng);

/// Canonical 8-4-4-4-12 lowercase or uppercase hex.
bool is_uuid(std::string_view s);

} // namespace txrelay
