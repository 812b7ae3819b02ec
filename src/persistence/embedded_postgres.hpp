#pragma once
// The embedded default: with no database configured, txrelay runs a private
// PostgreSQL from the system's server binaries. Its data lives in
// <data_dir>/pg, it listens only on a unix socket in <data_dir>/run, and it is
// stopped when txrelay stops. A server left running by a txrelay that was
// killed is reused, not started twice. PostgreSQL refuses to run as root, so
// as root the server runs as the unprivileged `postgres` user (created if
// missing), and every directory above <data_dir> is given search permission
// (o+x, never read) so that user can reach its data.
#include "core/result.hpp"

#include <functional>
#include <memory>
#include <string>

namespace txrelay {

class embedded_postgres {
public:
  using log_fn = std::function<void(const std::string&)>;

  /// initdb on first use, then start (or reuse) the server and create the
  /// `txrelay` database. Blocking (seconds on first use). Errors say which step
  /// failed and where the log is.
  static result<std::unique_ptr<embedded_postgres>, std::string> start(const std::string& data_dir, log_fn log);

  ~embedded_postgres(); // stop()
  embedded_postgres(const embedded_postgres&) = delete;
  embedded_postgres& operator=(const embedded_postgres&) = delete;

  /// libpq keyword form: host=<socket dir> port=... dbname=txrelay user=txrelay
  std::string connection_url() const;
  /// The absolute data directory.
  const std::string& data_dir() const { return data_dir_; }

  /// Stops the server (fast shutdown: open sessions are rolled back). Idempotent.
  void stop();

private:
  embedded_postgres(std::string data_dir, std::string bindir, bool as_postgres_user, log_fn log);

  std::string data_dir_;
  std::string bindir_;
  bool as_postgres_user_;
  log_fn log_;
  bool running_ = false;
};

} // namespace txrelay
