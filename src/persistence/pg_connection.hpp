#pragma once
// A thin, owning wrapper over one libpq connection. Blocking: only the
// persistence actor's own (detached) thread and start-up code call it.
#include "core/result.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct pg_conn;
struct pg_result;

namespace txrelay::pg {

struct pg_error {
  std::string sqlstate; // five characters, empty when the server sent none
  std::string message;
  bool connection_lost = false;

  /// Class 23: integrity constraint violation (unique, foreign key, check).
  bool is_integrity_violation() const { return sqlstate.rfind("23", 0) == 0; }
  /// Class 22: data exception (bad input value).
  bool is_data_exception() const { return sqlstate.rfind("22", 0) == 0; }
};

/// libpq's first line without its "ERROR:  " prefix: what went wrong, not
/// the DETAIL lines, which can quote row values (a unique violation quotes
/// the key). What leaves txrelay (API answers, a delivery's last error) is
/// this; the log keeps the whole message.
std::string primary_message(const std::string& message);

class result_set {
public:
  result_set() = default;
  explicit result_set(pg_result* res);
  int rows() const;
  int columns() const;
  bool is_null(int row, int col) const;
  std::string_view get(int row, int col) const;
  std::optional<std::string> get_optional(int row, int col) const;
  long long get_int(int row, int col) const;
  long long affected_rows() const;

private:
  std::shared_ptr<pg_result> res_;
};

/// How long a connection may wait on PostgreSQL. A database that stops
/// answering (a network partition drops packets; nothing refuses the
/// connection) must not freeze the thread that waits: every wait is bounded.
struct connection_limits {
  // Opening a connection, TLS and authentication included.
  std::chrono::milliseconds connect_timeout{5'000};
  // Set as the session's statement_timeout: the server cancels a statement
  // that runs longer. Zero: the server's own setting.
  std::chrono::milliseconds statement_timeout{30'000};
  // Client side: no answer this long after the statement timeout would have
  // fired means the server cannot be reached, and the connection is closed
  // (its thread is free again; the next use reconnects).
  std::chrono::milliseconds answer_grace{10'000};
};

using param = std::optional<std::string_view>; // nullopt = SQL NULL

/// Parameters viewing `values` (which must outlive them); nullopt = NULL.
std::vector<param> params_of(const std::vector<std::optional<std::string>>& values);

class connection {
public:
  /// Opens a connection with TCP keepalives and the limits' timeouts; any of
  /// them set in `conninfo` (connect_timeout=, keepalives_idle=, ...) wins.
  static result<connection, pg_error> open(const std::string& conninfo, const connection_limits& limits = {});

  connection(connection&&) noexcept = default;
  connection& operator=(connection&&) noexcept = default;

  /// One statement (or several, without parameters).
  result<result_set, pg_error> exec(const std::string& sql);
  /// One statement with text parameters.
  result<result_set, pg_error> exec(const std::string& sql, const std::vector<param>& params);
  /// Prepares `sql` under `name` the first time it is seen on this connection.
  result<result_set, pg_error> exec_prepared(const std::string& name, const std::string& sql,
                                             const std::vector<param>& params);
  /// The same with every parameter in binary format (e.g. binary_array),
  /// sent as is: neither copied nor NUL-terminated.
  result<result_set, pg_error> exec_prepared_binary(const std::string& name, const std::string& sql,
                                                    const std::vector<std::string_view>& params);

  bool healthy() const;

  /// The payloads of notifications on the channels this connection LISTENs
  /// to. Waits up to `timeout` for the first when none has arrived (0: does
  /// not wait). Between statements only: nothing else may be under way.
  result<std::vector<std::string>, pg_error> take_notifications(std::chrono::milliseconds timeout);

  /// A statement may take this long from sending it to its last result
  /// (0: no client-side limit). A statement that overruns closes the
  /// connection: the caller's error says the connection was lost.
  void set_answer_deadline(std::chrono::milliseconds d) { answer_deadline_ = d; }
  std::chrono::milliseconds answer_deadline() const { return answer_deadline_; }

private:
  explicit connection(pg_conn* c);
  result<result_set, pg_error> check(pg_result* res);
  /// Prepares `sql` under `name` unless this connection already has.
  std::optional<pg_error> prepare_once(const std::string& name, const std::string& sql);

  /// Sends with `send` (libpq's PQsend* call), then waits for every result
  /// within the answer deadline, as PQexec would without one. Defined (and
  /// instantiated) in pg_connection.cpp only.
  template <class Send>
  result<result_set, pg_error> run(const Send& send);
  result<result_set, pg_error> await_results();
  pg_error lose(std::string why);

  std::unique_ptr<pg_conn, void (*)(pg_conn*)> conn_{nullptr, nullptr};
  std::chrono::milliseconds answer_deadline_{0};
  std::vector<std::string> prepared_;
};

} // namespace txrelay::pg
