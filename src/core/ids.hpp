#pragma once
// Identifiers for events and deliveries: UUIDv7 (RFC 9562), time-ordered so
// that keyset paging by id follows commit order and index inserts stay local.
#include "core/clock.hpp"

#include <cstdint>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>

namespace txrelay {

std::string new_uuid_v7(time_point now, std::mt19937_64& rng);

/// UUIDv7s that strictly increase across calls, even within one millisecond
/// or when the wall clock steps back (RFC 9562, method 1: the 12-bit rand_a
/// field is a counter). Senders page pending rows by id, so an id smaller
/// than one already handed out could be skipped by a sweep.
class uuid_v7_generator {
public:
  explicit uuid_v7_generator(std::uint64_t seed) : rng_(seed) {}
  std::string next(time_point now);

private:
  std::mt19937_64 rng_;
  std::uint64_t last_ms_ = 0;
  std::uint32_t counter_ = 0; // 12 bits
};

/// One id generator for every thread that creates events: ids stay strictly
/// increasing across threads (ingest writers and the ledger), so an event committed
/// after another was acknowledged always sorts after it (per-key order and
/// the senders' keyset paging rely on that).
class shared_uuid_v7_generator {
public:
  explicit shared_uuid_v7_generator(std::uint64_t seed) : ids_(seed) {}
  std::string next(time_point now) {
    std::lock_guard lock{mutex_};
    return ids_.next(now);
  }

private:
  std::mutex mutex_;
  uuid_v7_generator ids_;
};

/// Canonical 8-4-4-4-12 lowercase or uppercase hex.
bool is_uuid(std::string_view s);

/// The smallest UUIDv7 of the millisecond `t`: every id made before `t`
/// sorts below it (ids are compared as PostgreSQL compares uuid: bytewise).
std::string uuid_v7_floor(time_point t);

/// When a UUIDv7 was made (its 48-bit millisecond timestamp); nullopt for
/// anything that is not a version-7 UUID. A delivery's id tells its age
/// without another column.
std::optional<time_point> uuid_v7_time(std::string_view id);

} // namespace txrelay
