// PostgreSQL itself crashes (an immediate shutdown: no checkpoint, crash
// recovery at the next start) and comes back, twice, while clients post:
// txrelay rides it out without a restart of its own, every event it
// answered 201 is delivered, and new events are taken afterwards.
#include "process/txrelay_process.hpp"
#include "support/http_test_client.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <mutex>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace txrelay::testing;

namespace {

/// A port nothing listens on now (the kernel's pick for a bound socket). A
/// fixed range would collide with the ephemeral ports of other connections.
std::string free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  std::string port = "0";
  if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = std::to_string(ntohs(addr.sin_port));
  if (fd >= 0)
    ::close(fd);
  return port;
}

/// A private, durable PostgreSQL (a 201 must survive its crash), driven by
/// scripts/test-postgres.sh.
class private_postgres {
public:
  private_postgres()
    : dir_(::testing::TempDir() + "txrelay-pg-restart-" + std::to_string(::getpid())),
      port_(free_port()) {}
  ~private_postgres() {
    run("stop");
    std::system(("rm -rf '" + dir_ + "'").c_str());
  }
  bool start() {
    // The port was free a moment ago; another process may have taken it since.
    for (int attempt = 0; attempt < 3; ++attempt, port_ = free_port())
      if (run("start"))
        return true;
    return false;
  }
  bool crash() { return run("crash"); }
  std::string url() const { return "postgresql://postgres@127.0.0.1:" + port_ + "/postgres"; }

private:
  bool run(const std::string& what) {
    auto cmd = "TXRELAY_TEST_PG_DURABLE=1 TXRELAY_TEST_PG_DIR='" + dir_ + "' TXRELAY_TEST_PG_PORT=" + port_ +
               " bash " TXRELAY_SOURCE_DIR "/scripts/test-postgres.sh " + what + " >/dev/null";
    return std::system(cmd.c_str()) == 0;
  }
  std::string dir_;
  std::string port_;
};

TEST(postgres_restart, txrelay_rides_out_two_postgresql_crashes_without_losing_an_acknowledged_event) {
  if (std::system("test -x /usr/lib/postgresql/15/bin/pg_ctl") != 0)
    GTEST_SKIP() << "PostgreSQL 15 server binaries are not installed";
  private_postgres pg;
  ASSERT_TRUE(pg.start());
  fake_sink_server sink;
  auto config = write_temp_config("pg-restart", "database: {connect_timeout: 2s}\n"
                                                "sinks:\n"
                                                "  - name: hook\n"
                                                "    kind: webhook\n"
                                                "    url: \"" + sink.url() + "\"\n"
                                                "    retry: {max_attempts: 100, base: 10ms, cap: 500ms}\n"
                                                "routes:\n"
                                                "  - topic: feedback\n"
                                                "    sinks: [hook]\n");
  child_process txrelay{serve_args(config, pg.url())};
  auto port = listening_port(txrelay);
  ASSERT_NE(port, 0);

  std::set<std::string> acknowledged;
  std::mutex mutex;
  std::atomic<bool> stop_posting{false};
  std::atomic<int> refused{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&, c] {
      for (int i = c; !stop_posting; i += 4) {
        auto res = post_json(port, "/v1/events",
                             R"({"topic":"feedback","key":"k","payload":{"n":)" + std::to_string(i) + "}}");
        if (res.status == 201) {
          std::lock_guard guard{mutex};
          acknowledged.insert(*json_string_at(res.body, "/id"));
        } else {
          refused.fetch_add(1);
          std::this_thread::sleep_for(std::chrono::milliseconds{20});
        }
      }
    });
  }
  for (int round = 0; round < 2; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds{1500});
    ASSERT_TRUE(pg.crash());
    std::this_thread::sleep_for(std::chrono::milliseconds{1000});
    ASSERT_TRUE(pg.start());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds{1500});
  stop_posting = true;
  for (auto& t : clients)
    t.join();

  // After the second recovery a new event is accepted and delivered.
  test_response fresh;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{30};
  do {
    fresh = post_json(port, "/v1/events", R"({"topic":"feedback","key":"k","payload":{"n":-1}})");
  } while (fresh.status != 201 && std::chrono::steady_clock::now() < deadline &&
           (std::this_thread::sleep_for(std::chrono::milliseconds{100}), true));
  ASSERT_EQ(fresh.status, 201) << fresh.body;
  acknowledged.insert(*json_string_at(fresh.body, "/id"));

  auto received = wait_for_events(sink, acknowledged, std::chrono::seconds{60}, [] { return true; });
  EXPECT_EQ(missing_from(acknowledged, received), 0u) << "acknowledged events never delivered";
  std::cout << "[postgres_restart] " << acknowledged.size() << " events acknowledged, " << refused.load()
            << " refused while PostgreSQL was down or recovering, " << received_twice(received)
            << " delivered more than once\n";
  EXPECT_GT(refused.load(), 0) << "the crashes happened while clients posted";
  txrelay.kill(SIGTERM);
  int status = txrelay.wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the same process ran throughout";
}

} // namespace
