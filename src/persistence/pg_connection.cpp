#include "persistence/pg_connection.hpp"

#include "core/utf8.hpp"

#include <libpq-fe.h>

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

namespace txrelay::pg {

std::string primary_message(const std::string& message) {
  auto line = message.substr(0, message.find('\n'));
  for (const char* prefix : {"ERROR:  ", "FATAL:  "})
    if (line.rfind(prefix, 0) == 0)
      line = line.substr(std::string_view{prefix}.size());
  return one_line_excerpt(line, 300);
}

namespace {

std::string trim_message(const char* msg) {
  std::string s = msg ? msg : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
    s.pop_back();
  return s;
}

} // namespace

result_set::result_set(pg_result* res) : res_(res, PQclear) {}

int result_set::rows() const { return res_ ? PQntuples(res_.get()) : 0; }
int result_set::columns() const { return res_ ? PQnfields(res_.get()) : 0; }
bool result_set::is_null(int row, int col) const { return PQgetisnull(res_.get(), row, col) != 0; }

std::string_view result_set::get(int row, int col) const {
  return {PQgetvalue(res_.get(), row, col),
          static_cast<std::size_t>(PQgetlength(res_.get(), row, col))};
}

std::optional<std::string> result_set::get_optional(int row, int col) const {
  if (is_null(row, col))
    return std::nullopt;
  return std::string{get(row, col)};
}

long long result_set::get_int(int row, int col) const {
  return std::strtoll(PQgetvalue(res_.get(), row, col), nullptr, 10);
}

long long result_set::affected_rows() const {
  const char* n = PQcmdTuples(res_.get());
  return n && *n ? std::strtoll(n, nullptr, 10) : 0;
}

connection::connection(pg_conn* c) : conn_(c, PQfinish) {}

result<connection, pg_error> connection::open(const std::string& conninfo, const connection_limits& limits) {
  // Defaults first: with expand_dbname, what the connection string itself
  // sets overrides them. Keepalives find a peer that vanished while the
  // connection sat idle; tcp_user_timeout one that stopped acknowledging
  // what was sent. libpq counts connect_timeout in whole seconds, at least 2.
  auto seconds = std::max<long long>(2, (limits.connect_timeout.count() + 999) / 1000);
  const std::string connect_timeout = std::to_string(seconds);
  const char* keywords[] = {"connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval",
                            "keepalives_count", "tcp_user_timeout", "dbname", nullptr};
  const char* values[] = {connect_timeout.c_str(), "1", "30", "10", "3", "30000", conninfo.c_str(), nullptr};
  pg_conn* c = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (c == nullptr)
    return unexpected{pg_error{"", "out of memory allocating a connection", true}};
  if (PQstatus(c) != CONNECTION_OK) {
    // libpq's message names host and port, never the password.
    pg_error err{"", "cannot connect to PostgreSQL: " + trim_message(PQerrorMessage(c)), true};
    PQfinish(c);
    return unexpected{std::move(err)};
  }
  // Non-blocking: a request that does not fit the socket is flushed by run(),
  // which waits within the deadline instead of blocking in send().
  PQsetnonblocking(c, 1);
  connection conn{c};
  // Bounded from the first statement: a server that authenticated and then
  // went silent must not hold the opening thread either.
  conn.set_answer_deadline(limits.connect_timeout + limits.answer_grace);
  if (limits.statement_timeout.count() > 0) {
    auto set = conn.exec("SET statement_timeout = " + std::to_string(limits.statement_timeout.count()));
    if (!set)
      return unexpected{set.error()};
    conn.set_answer_deadline(limits.statement_timeout + limits.answer_grace);
  }
  return conn;
}

bool connection::healthy() const { return conn_ && PQstatus(conn_.get()) == CONNECTION_OK; }

result<result_set, pg_error> connection::check(pg_result* res) {
  result_set rs{res};
  auto status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)
    return rs;
  pg_error err;
  if (res != nullptr) {
    const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    err.sqlstate = state ? state : "";
    err.message = trim_message(PQresultErrorMessage(res));
  }
  if (err.message.empty())
    err.message = conn_ ? trim_message(PQerrorMessage(conn_.get())) : "the connection to PostgreSQL was closed";
  err.connection_lost = !conn_ || PQstatus(conn_.get()) != CONNECTION_OK;
  return unexpected{std::move(err)};
}

pg_error connection::lose(std::string why) {
  prepared_.clear();
  conn_.reset(); // PQfinish: the socket is closed; the server ends the session when it notices
  return pg_error{"08006", std::move(why), true};
}

template <class Send>
result<result_set, pg_error> connection::run(const Send& send) {
  if (!conn_)
    return unexpected{pg_error{"08003", "the connection to PostgreSQL was closed", true}};
  if (send(conn_.get()) == 0)
    return check(nullptr);
  return await_results();
}

result<std::vector<std::string>, pg_error> connection::take_notifications(std::chrono::milliseconds timeout) {
  pg_conn* c = conn_.get();
  if (c == nullptr)
    return unexpected{pg_error{"08003", "the connection to PostgreSQL was closed", true}};
  std::vector<std::string> payloads;
  auto collect = [&]() -> bool {
    if (PQconsumeInput(c) == 0)
      return false;
    while (PGnotify* n = PQnotifies(c)) {
      payloads.emplace_back(n->extra);
      PQfreemem(n);
    }
    return true;
  };
  if (!collect())
    return unexpected{check(nullptr).error()};
  if (payloads.empty() && timeout.count() > 0) {
    pollfd fd{PQsocket(c), POLLIN, 0};
    if (::poll(&fd, 1, static_cast<int>(timeout.count())) > 0 && !collect())
      return unexpected{check(nullptr).error()};
  }
  return payloads;
}

result<result_set, pg_error> connection::await_results() {
  pg_conn* c = conn_.get();
  using steady = std::chrono::steady_clock;
  const bool bounded = answer_deadline_.count() > 0;
  const auto deadline = steady::now() + answer_deadline_;
  // Waits until the socket is ready for `events`; false when the deadline passed.
  auto wait_for = [&](short events) {
    for (;;) {
      int timeout_ms = -1;
      if (bounded) {
        auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - steady::now()).count();
        if (left <= 0)
          return false;
        timeout_ms = static_cast<int>(std::min<long long>(left, 60'000));
      }
      pollfd fd{PQsocket(c), events, 0};
      int n = ::poll(&fd, 1, timeout_ms);
      if (n > 0)
        return true;
      if (n < 0 && errno != EINTR)
        return true; // let libpq report what is wrong with the socket
    }
  };
  auto overdue = [&] {
    return lose("no answer from PostgreSQL within " + std::to_string(answer_deadline_.count()) +
                " ms (statement_timeout plus grace); the connection was closed");
  };
  for (;;) { // the request may not fit the socket's buffer at once
    int flushed = PQflush(c);
    if (flushed == 0)
      break;
    if (flushed < 0)
      return check(nullptr);
    if (!wait_for(POLLOUT | POLLIN))
      return unexpected{overdue()};
    if (PQconsumeInput(c) == 0)
      return check(nullptr);
  }
  // As PQexec: the last result, unless one failed (then the first failure).
  pg_result* kept = nullptr;
  for (;;) {
    while (PQisBusy(c)) {
      if (!wait_for(POLLIN)) {
        if (kept)
          PQclear(kept);
        return unexpected{overdue()};
      }
      if (PQconsumeInput(c) == 0) {
        if (kept)
          PQclear(kept);
        return check(nullptr);
      }
    }
    pg_result* r = PQgetResult(c);
    if (r == nullptr)
      break;
    auto failed = [](pg_result* x) {
      auto st = PQresultStatus(x);
      return st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY;
    };
    if (kept && failed(kept)) {
      PQclear(r);
    } else {
      if (kept)
        PQclear(kept);
      kept = r;
    }
  }
  return check(kept);
}

result<result_set, pg_error> connection::exec(const std::string& sql) {
  return run([&](pg_conn* c) { return PQsendQuery(c, sql.c_str()); });
}

namespace {

struct param_arrays {
  std::vector<std::string> storage; // NUL-terminated copies
  std::vector<const char*> values;
  explicit param_arrays(const std::vector<param>& params) {
    storage.reserve(params.size());
    values.reserve(params.size());
    for (const auto& p : params)
      storage.emplace_back(p ? std::string{*p} : std::string{});
    for (std::size_t i = 0; i < params.size(); ++i)
      values.push_back(params[i] ? storage[i].c_str() : nullptr);
  }
};

} // namespace

result<result_set, pg_error> connection::exec(const std::string& sql, const std::vector<param>& params) {
  param_arrays p{params};
  return run([&](pg_conn* c) {
    return PQsendQueryParams(c, sql.c_str(), static_cast<int>(params.size()), nullptr, p.values.data(), nullptr,
                             nullptr, 0);
  });
}

std::optional<pg_error> connection::prepare_once(const std::string& name, const std::string& sql) {
  if (std::find(prepared_.begin(), prepared_.end(), name) != prepared_.end())
    return std::nullopt;
  auto prep = run([&](pg_conn* c) { return PQsendPrepare(c, name.c_str(), sql.c_str(), 0, nullptr); });
  if (!prep)
    return std::move(prep.error());
  prepared_.push_back(name);
  return std::nullopt;
}

result<result_set, pg_error> connection::exec_prepared(const std::string& name, const std::string& sql,
                                                       const std::vector<param>& params) {
  if (auto failed = prepare_once(name, sql))
    return unexpected{std::move(*failed)};
  param_arrays p{params};
  return run([&](pg_conn* c) {
    return PQsendQueryPrepared(c, name.c_str(), static_cast<int>(params.size()), p.values.data(), nullptr, nullptr,
                               0);
  });
}

result<result_set, pg_error> connection::exec_prepared_binary(const std::string& name, const std::string& sql,
                                                              const std::vector<std::string_view>& params) {
  if (auto failed = prepare_once(name, sql))
    return unexpected{std::move(*failed)};
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats(params.size(), 1);
  values.reserve(params.size());
  lengths.reserve(params.size());
  for (const auto& p : params) {
    values.push_back(p.data());
    lengths.push_back(static_cast<int>(p.size()));
  }
  return run([&](pg_conn* c) {
    return PQsendQueryPrepared(c, name.c_str(), static_cast<int>(params.size()), values.data(), lengths.data(),
                               formats.data(), 0);
  });
}

std::vector<param> params_of(const std::vector<std::optional<std::string>>& values) {
  std::vector<param> out;
  out.reserve(values.size());
  for (const auto& v : values)
    out.push_back(v ? param{*v} : param{});
  return out;
}

} // namespace txrelay::pg
