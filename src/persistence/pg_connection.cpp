#include "persistence/pg_connection.hpp"

#include "core/utf8.hpp"

#include <libpq-fe.h>

#include <algorithm>
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

result<connection, pg_error> connection::open(const std::string& conninfo) {
  pg_conn* c = PQconnectdb(conninfo.c_str());
  if (c == nullptr)
    return unexpected{pg_error{"", "out of memory allocating a connection", true}};
  if (PQstatus(c) != CONNECTION_OK) {
    // libpq's message names host and port, never the password.
    pg_error err{"", "cannot connect to PostgreSQL: " + trim_message(PQerrorMessage(c)), true};
    PQfinish(c);
    return unexpected{std::move(err)};
  }
  return connection{c};
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
    err.message = trim_message(PQerrorMessage(conn_.get()));
  err.connection_lost = PQstatus(conn_.get()) != CONNECTION_OK;
  return unexpected{std::move(err)};
}

result<result_set, pg_error> connection::exec(const std::string& sql) {
  return check(PQexec(conn_.get(), sql.c_str()));
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
  return check(PQexecParams(conn_.get(), sql.c_str(), static_cast<int>(params.size()), nullptr,
                            p.values.data(), nullptr, nullptr, 0));
}

std::optional<pg_error> connection::prepare_once(const std::string& name, const std::string& sql) {
  if (std::find(prepared_.begin(), prepared_.end(), name) != prepared_.end())
    return std::nullopt;
  auto prep = check(PQprepare(conn_.get(), name.c_str(), sql.c_str(), 0, nullptr));
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
  return check(PQexecPrepared(conn_.get(), name.c_str(), static_cast<int>(params.size()), p.values.data(),
                              nullptr, nullptr, 0));
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
  return check(PQexecPrepared(conn_.get(), name.c_str(), static_cast<int>(params.size()), values.data(),
                              lengths.data(), formats.data(), 0));
}

std::vector<param> params_of(const std::vector<std::optional<std::string>>& values) {
  std::vector<param> out;
  out.reserve(values.size());
  for (const auto& v : values)
    out.push_back(v ? param{*v} : param{});
  return out;
}

} // namespace txrelay::pg
