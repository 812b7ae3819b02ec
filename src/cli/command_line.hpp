#pragma once
// The txrelay command line: argument parsing (pure, tested) and the commands.
#include "core/result.hpp"

#include <optional>
#include <string>
#include <vector>

namespace txrelay::cli {

struct options {
  std::string command; // serve | check-config | migrate | help | version
  std::string config_path;
  std::optional<std::string> listen;       // HOST:PORT, overrides server.listen
  std::optional<std::string> database_url; // overrides TXRELAY_DATABASE_URL and database.url
  std::optional<std::string> data_dir;     // the embedded PostgreSQL's home
};

result<options, std::string> parse_arguments(const std::vector<std::string>& args);

/// The database URL in force: --database-url, else TXRELAY_DATABASE_URL, else
/// database.url from the config; empty means the embedded PostgreSQL.
std::string resolve_database_url(const options& opts, const std::string& config_url,
                                 const std::optional<std::string>& env_url);

int run(int argc, char** argv);

} // namespace txrelay::cli
