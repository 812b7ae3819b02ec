// The embedded server runs the system's real PostgreSQL binaries (initdb,
// pg_ctl, postgres) in a temporary directory: a few seconds per test.
#include "persistence/embedded_postgres.hpp"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;
using txrelay::embedded_postgres;

namespace {

/// A fresh directory, removed afterwards; a server a failed test left running
/// in it is shut down first so it does not outlive the test.
class temp_dir {
public:
  temp_dir() {
    auto pattern = (fs::temp_directory_path() / "txrelay-embedded-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr)
      throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~temp_dir() {
    std::ifstream pid_file{path_ + "/pg/postmaster.pid"};
    pid_t pid = 0;
    if (pid_file >> pid && pid > 0)
      ::kill(pid, SIGINT); // fast shutdown
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

private:
  std::string path_;
};

/// The single value `sql` returns, or "error: <message>" (so a failure shows why).
std::string query_value(const std::string& conninfo, const std::string& sql) {
  std::unique_ptr<PGconn, void (*)(PGconn*)> conn{PQconnectdb(conninfo.c_str()), PQfinish};
  if (PQstatus(conn.get()) != CONNECTION_OK)
    return "error: " + std::string{PQerrorMessage(conn.get())};
  std::unique_ptr<PGresult, void (*)(PGresult*)> res{PQexec(conn.get(), sql.c_str()), PQclear};
  auto status = PQresultStatus(res.get());
  if (status == PGRES_COMMAND_OK)
    return "";
  if (status != PGRES_TUPLES_OK || PQntuples(res.get()) != 1)
    return "error: " + std::string{PQresultErrorMessage(res.get())};
  return PQgetvalue(res.get(), 0, 0);
}

struct captured_log {
  std::vector<std::string> lines;
  embedded_postgres::log_fn writer() {
    return [this](const std::string& line) { lines.push_back(line); };
  }
  bool mentions(const std::string& text) const {
    for (const auto& l : lines)
      if (l.find(text) != std::string::npos)
        return true;
    return false;
  }
};

} // namespace

TEST(embedded_postgres, starts_a_private_server_on_a_unix_socket_and_stops_it) {
  temp_dir dir;
  captured_log log;
  auto pg = embedded_postgres::start(dir.path(), log.writer());
  ASSERT_TRUE(pg) << pg.error();
  const auto url = (*pg)->connection_url();
  EXPECT_NE(url.find("host='" + fs::canonical(dir.path()).string() + "/run'"), std::string::npos) << url;

  EXPECT_EQ(query_value(url, "SELECT 1"), "1");
  EXPECT_EQ(query_value(url, "SELECT current_database() || '/' || current_user"), "txrelay/txrelay");
  EXPECT_EQ(query_value(url, "SHOW listen_addresses"), ""); // no TCP at all
  EXPECT_TRUE(fs::exists(dir.path() + "/pg/PG_VERSION"));
  EXPECT_TRUE(log.mentions("creating the cluster"));

  (*pg)->stop();
  EXPECT_EQ(PQping(url.c_str()), PQPING_NO_RESPONSE);
  EXPECT_FALSE(fs::exists(dir.path() + "/pg/postmaster.pid"));
  (*pg)->stop(); // idempotent
}

TEST(embedded_postgres, a_second_start_keeps_the_data_of_the_first) {
  temp_dir dir;
  {
    auto first = embedded_postgres::start(dir.path(), {});
    ASSERT_TRUE(first) << first.error();
    ASSERT_EQ(query_value((*first)->connection_url(), "CREATE TABLE kept AS SELECT 42 AS v"), "");
  } // the destructor stops the server

  captured_log log;
  auto second = embedded_postgres::start(dir.path(), log.writer());
  ASSERT_TRUE(second) << second.error();
  EXPECT_EQ(query_value((*second)->connection_url(), "SELECT v FROM kept"), "42");
  EXPECT_FALSE(log.mentions("creating the cluster"));
  EXPECT_TRUE(log.mentions("starting"));
}

TEST(embedded_postgres, reuses_the_server_of_an_owner_that_was_killed) {
  temp_dir dir;
  // The child starts the server and exits without running any destructor,
  // as a txrelay killed with SIGKILL would: the server keeps running.
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto pg = embedded_postgres::start(dir.path(), {});
    _exit(pg ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the child could not start the server";

  captured_log log;
  auto pg = embedded_postgres::start(dir.path(), log.writer());
  ASSERT_TRUE(pg) << pg.error();
  EXPECT_TRUE(log.mentions("reusing the server already running"));
  const auto url = (*pg)->connection_url();
  EXPECT_EQ(query_value(url, "SELECT 1"), "1");
  (*pg)->stop();
  EXPECT_EQ(PQping(url.c_str()), PQPING_NO_RESPONSE);
}

TEST(embedded_postgres, refuses_a_data_directory_too_long_for_a_unix_socket) {
  temp_dir dir;
  auto pg = embedded_postgres::start(dir.path() + "/" + std::string(120, 'd'), {});
  ASSERT_FALSE(pg);
  EXPECT_NE(pg.error().find("too long"), std::string::npos) << pg.error();
}
