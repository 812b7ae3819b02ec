#pragma once
// Versioned schema migrations, applied at start in one transaction under an
// advisory lock, so two txrelay processes starting together do not race.
#include "persistence/pg_connection.hpp"

#include <string>
#include <vector>

namespace txrelay::pg {

struct migration {
  int version;
  std::string description;
  std::string sql;
};

/// Every migration txrelay knows, in version order.
const std::vector<migration>& schema_migrations();

/// Applies the migrations not yet applied; returns the schema version now in force.
/// Refuses a database whose schema is newer than this binary knows.
result<int, pg_error> migrate(connection& conn);

} // namespace txrelay::pg
