#include "support/test_database.hpp"

#include <libpq-fe.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <random>
#include <stdexcept>

namespace txrelay::testing {

namespace {

using conn_ptr = std::unique_ptr<PGconn, void (*)(PGconn*)>;

conn_ptr connect(const std::string& url) {
  conn_ptr c{PQconnectdb(url.c_str()), PQfinish};
  if (PQstatus(c.get()) != CONNECTION_OK)
    throw std::runtime_error("test database: cannot connect: " + std::string{PQerrorMessage(c.get())});
  return c;
}

std::vector<std::vector<std::string>> run(const std::string& url, const std::string& sql) {
  auto c = connect(url);
  std::unique_ptr<PGresult, void (*)(PGresult*)> res{PQexec(c.get(), sql.c_str()), PQclear};
  auto status = PQresultStatus(res.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    std::string message = PQresultErrorMessage(res.get());
    while (!message.empty() && (message.back() == '\n' || message.back() == ' '))
      message.pop_back();
    throw std::runtime_error("test database: " + message + " in: " + sql);
  }
  std::vector<std::vector<std::string>> rows;
  for (int r = 0; r < PQntuples(res.get()); ++r) {
    std::vector<std::string> row;
    for (int f = 0; f < PQnfields(res.get()); ++f)
      row.emplace_back(PQgetisnull(res.get(), r, f) ? "" : PQgetvalue(res.get(), r, f));
    rows.push_back(std::move(row));
  }
  return rows;
}

/// The admin URL with its database replaced, in libpq keyword form.
std::string with_dbname(const std::string& url, const std::string& dbname) {
  char* err = nullptr;
  std::unique_ptr<PQconninfoOption, void (*)(PQconninfoOption*)> opts{PQconninfoParse(url.c_str(), &err),
                                                                        PQconninfoFree};
  if (!opts) {
    std::string msg = err ? err : "unparseable";
    PQfreemem(err);
    throw std::runtime_error("TXRELAY_TEST_DATABASE_URL: " + msg);
  }
  std::string out;
  for (auto* o = opts.get(); o->keyword; ++o) {
    std::string key = o->keyword;
    if (key == "dbname" || !o->val || !*o->val)
      continue;
    std::string val = o->val;
    std::string quoted;
    for (char c : val) {
      if (c == '\'' || c == '\\')
        quoted += '\\';
      quoted += c;
    }
    out += key + "='" + quoted + "' ";
  }
  return out + "dbname=" + dbname;
}

} // namespace

std::string test_server_url() {
  const char* v = std::getenv("TXRELAY_TEST_DATABASE_URL");
  return v ? v : "";
}

test_database::test_database() {
  auto admin = test_server_url();
  if (admin.empty())
    throw std::runtime_error("TXRELAY_TEST_DATABASE_URL is not set");
  std::random_device rd;
  std::mt19937_64 rng{(static_cast<std::uint64_t>(rd()) << 32) ^ rd()};
  static constexpr char hex[] = "0123456789abcdef";
  name_ = "txrelay_test_";
  for (int i = 0; i < 12; ++i)
    name_ += hex[rng() % 16];
  // FILE_COPY copies the tiny template directly: faster than the default
  // WAL_LOG when fsync is off, as on the throwaway test server.
  run(admin, "CREATE DATABASE " + name_ + " STRATEGY = FILE_COPY");
  url_ = with_dbname(admin, name_);
}

test_database::~test_database() {
  try {
    run(test_server_url(), "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  } catch (...) {
    // A leftover database in a throwaway server is harmless.
  }
}

void test_database::drop() { run(test_server_url(), "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)"); }

std::vector<std::vector<std::string>> test_database::query(const std::string& sql) const { return run(url_, sql); }

std::string test_database::scalar(const std::string& sql) const {
  auto rows = query(sql);
  if (rows.size() != 1 || rows[0].size() != 1)
    throw std::runtime_error("test database: expected one value from: " + sql);
  return rows[0][0];
}

} // namespace txrelay::testing
