// The operator commands of the real binary against a real server: a sink
// that always fails leaves a dead letter, and `txrelay events|sinks|dead`
// run as child processes show it in tables and as JSON, change the sink
// (pause, resume, replay), and exit with the code that says what happened.
#include "process/txrelay_process.hpp"
#include "support/http_test_client.hpp"
#include "support/test_database.hpp"

#include <gtest/gtest.h>

#include <map>

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

using namespace txrelay::testing;
using namespace std::chrono_literals;

namespace {

const std::string reader_key = "reader-key-0123456789ab";
const std::string admin_key = "admin-key-0123456789abc";

struct cli_run {
  int exit_code = -1; // -1: did not exit normally (killed after the deadline)
  std::string out;
  std::string err;
};

std::ostream& operator<<(std::ostream& os, const cli_run& r) {
  return os << "exit " << r.exit_code << "\n--- stdout\n" << r.out << "--- stderr\n" << r.err;
}

/// Runs `txrelay <args...>` with stdout and stderr apart. The environment is
/// this process's without TXRELAY_URL and TXRELAY_API_KEY, plus `env`.
cli_run run_cli(const std::vector<std::string>& args, const std::map<std::string, std::string>& env = {}) {
  std::vector<std::string> env_text;
  for (char** e = environ; *e; ++e) {
    std::string_view entry{*e};
    if (entry.rfind("TXRELAY_URL=", 0) != 0 && entry.rfind("TXRELAY_API_KEY=", 0) != 0)
      env_text.emplace_back(entry);
  }
  for (const auto& [name, value] : env)
    env_text.push_back(name + "=" + value);
  std::vector<std::string> argv_text{TXRELAY_BINARY};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  auto pointers = [](std::vector<std::string>& v) {
    std::vector<char*> p;
    for (auto& s : v)
      p.push_back(s.data());
    p.push_back(nullptr);
    return p;
  };
  auto argv = pointers(argv_text);
  auto envp = pointers(env_text);

  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0)
    return {};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  pid_t pid = -1;
  int spawned = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  cli_run run;
  if (spawned != 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    return run;
  }
  // Read both until both end; a command that hangs is killed at the deadline.
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* into[2] = {&run.out, &run.err};
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  int open_fds = 2;
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || ::poll(fds, 2, static_cast<int>(left.count())) <= 0) {
      ::kill(pid, SIGKILL);
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0)
        continue;
      char buffer[4096];
      auto n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n > 0) {
        into[i]->append(buffer, static_cast<std::size_t>(n));
      } else {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0)
      ::close(f.fd);
  int status = 0;
  ::waitpid(pid, &status, 0);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

txrelay::http::header_list bearer(const std::string& key) { return {{"Authorization", "Bearer " + key}}; }

/// The lines of `text` that contain every one of `parts`.
std::size_t lines_with(const std::string& text, const std::vector<std::string>& parts) {
  std::size_t count = 0, start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    auto line = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    bool all = true;
    for (const auto& p : parts)
      all = all && line.find(p) != std::string::npos;
    count += all ? 1 : 0;
    if (end == std::string::npos)
      break;
    start = end + 1;
  }
  return count;
}

/// A real server with reader and admin keys whose sink `hook` answers 500
/// (until told otherwise) and gives up after two attempts.
class operator_cli : public ::testing::Test {
protected:
  void SetUp() override {
    TXRELAY_REQUIRE_DATABASE();
    db = std::make_unique<test_database>();
    sink = std::make_unique<fake_sink_server>([](const recorded_request&, std::size_t) {
      return fake_reply{500, {}, "{\"error\":\"down\"}"};
    });
    auto config = write_temp_config("operator-cli", "auth:\n"
                                                    "  keys:\n"
                                                    "    - {name: dashboards, role: reader, key: \"" + reader_key + "\"}\n"
                                                    "    - {name: ops, role: admin, key: \"" + admin_key + "\"}\n"
                                                    "sinks:\n"
                                                    "  - name: hook\n"
                                                    "    kind: webhook\n"
                                                    "    url: \"" + sink->url() + "\"\n"
                                                    "    retry: {max_attempts: 2, base: 5ms, cap: 10ms}\n"
                                                    "  - {name: audit, kind: log}\n"
                                                    "routes:\n"
                                                    "  - {topic: order.paid, sinks: [hook, audit]}\n");
    server = std::make_unique<child_process>(serve_args(config, db->url()));
    port = listening_port(*server);
    ASSERT_NE(port, 0);
    url = "http://127.0.0.1:" + std::to_string(port);
  }

  void TearDown() override {
    if (server) {
      server->kill(SIGTERM);
      server->wait();
    }
  }

  /// Posts an event and waits until its hook delivery is dead; returns the event's id.
  std::string dead_event(const std::string& key) {
    auto made = post_json(port, "/v1/events", R"({"topic":"order.paid","key":")" + key + R"(","payload":{"n":1}})",
                          bearer(admin_key));
    EXPECT_EQ(made.status, 201) << made.body;
    auto id = json_string_at(made.body, "/id").value_or("");
    EXPECT_TRUE(eventually([&] { return hook_delivery(id, "status") == "dead"; }, 30s)) << "no dead letter";
    return id;
  }

  /// A field of the event's delivery to hook, as GET /v1/events/{id} says.
  std::string hook_delivery(const std::string& event_id, const std::string& field) {
    auto res = http_call(port, "GET", "/v1/events/" + event_id, "", bearer(reader_key));
    for (int d = 0; d < json_array_size(res.body, "/deliveries"); ++d) {
      auto at = "/deliveries/" + std::to_string(d);
      if (json_string_at(res.body, at + "/sink") == "hook")
        return json_string_at(res.body, at + "/" + field).value_or("");
    }
    return "";
  }

  std::string sinks_field(const std::string& field) {
    return sink_field(http_call(port, "GET", "/v1/sinks", "", bearer(reader_key)).body, "hook", field);
  }

  cli_run as(const std::string& key, const std::vector<std::string>& args) {
    return run_cli(args, {{"TXRELAY_URL", url}, {"TXRELAY_API_KEY", key}});
  }

  std::unique_ptr<test_database> db;
  std::unique_ptr<fake_sink_server> sink;
  std::unique_ptr<child_process> server;
  std::uint16_t port = 0;
  std::string url;
};

TEST_F(operator_cli, reads_events_sinks_and_dead_letters_as_tables_and_json) {
  auto id = dead_event("user-42");
  auto delivery = hook_delivery(id, "id");
  ASSERT_FALSE(delivery.empty());

  auto sinks = as(reader_key, {"sinks", "list"});
  EXPECT_EQ(sinks.exit_code, 0) << sinks;
  EXPECT_TRUE(sinks.out.rfind("NAME ", 0) == 0) << sinks;
  EXPECT_EQ(lines_with(sinks.out, {"hook ", "webhook", "HTTP 500"}), 1u) << sinks;
  EXPECT_EQ(lines_with(sinks.out, {"audit ", "log"}), 1u) << sinks;
  EXPECT_EQ(sinks.err, "");

  auto event = as(reader_key, {"events", "get", id});
  EXPECT_EQ(event.exit_code, 0) << event;
  EXPECT_NE(event.out.find("event     " + id + "\n"), std::string::npos) << event;
  EXPECT_NE(event.out.find("key       user-42\n"), std::string::npos) << event;
  EXPECT_EQ(lines_with(event.out, {delivery, "hook", "dead", "HTTP 500"}), 1u) << event;
  // Both failed attempts, each with its status and the sink's answer.
  EXPECT_NE(event.out.find("attempts to hook (delivery " + delivery + ")"), std::string::npos) << event;
  EXPECT_EQ(lines_with(event.out, {"retry", "500", "status", "{\"error\":\"down\"}"}), 1u) << event;
  EXPECT_EQ(lines_with(event.out, {"dead", "500", "status", "{\"error\":\"down\"}"}), 1u) << event;

  // --json is the server's answer, byte for byte.
  auto raw = http_call(port, "GET", "/v1/events/" + id, "", bearer(reader_key));
  auto event_json = run_cli({"events", "get", id, "--json", "--url", url}, {{"TXRELAY_API_KEY", reader_key}});
  EXPECT_EQ(event_json.exit_code, 0) << event_json;
  EXPECT_EQ(event_json.out, raw.body + "\n");

  auto dead = as(reader_key, {"dead", "list", "hook"});
  EXPECT_EQ(dead.exit_code, 0) << dead;
  EXPECT_EQ(lines_with(dead.out, {delivery, id, "order.paid", "user-42", "HTTP 500"}), 1u) << dead;
  auto dead_json = as(reader_key, {"dead", "list", "hook", "--json"});
  EXPECT_EQ(dead_json.exit_code, 0) << dead_json;
  EXPECT_EQ(json_string_at(dead_json.out, "/dead/0/id"), delivery) << dead_json;
  EXPECT_TRUE(json_is_null_at(dead_json.out, "/next")) << dead_json;
}

TEST_F(operator_cli, search_follows_every_page_with_all) {
  auto first = dead_event("a");
  auto second = dead_event("b");

  auto page = as(reader_key, {"events", "search", "--sink", "hook", "--status", "dead", "--limit", "1"});
  EXPECT_EQ(page.exit_code, 0) << page;
  EXPECT_EQ(lines_with(page.out, {second, "order.paid", "hook:dead(2)"}), 1u) << page; // newest first
  EXPECT_EQ(page.out.find(first), std::string::npos) << page;
  EXPECT_NE(page.out.find("more: add --cursor "), std::string::npos) << page;

  auto all = as(reader_key, {"events", "search", "--topic", "order.paid", "--limit", "1", "--all", "--json"});
  EXPECT_EQ(all.exit_code, 0) << all;
  EXPECT_EQ(json_array_size(all.out, "/events"), 2) << all;
  EXPECT_EQ(json_string_at(all.out, "/events/0/id"), second) << all;
  EXPECT_EQ(json_string_at(all.out, "/events/1/id"), first) << all;
  EXPECT_TRUE(json_is_null_at(all.out, "/next")) << all;

  auto all_dead = as(reader_key, {"dead", "list", "hook", "--limit", "1", "--all"});
  EXPECT_EQ(all_dead.exit_code, 0) << all_dead;
  EXPECT_EQ(lines_with(all_dead.out, {first}), 1u) << all_dead;
  EXPECT_EQ(lines_with(all_dead.out, {second}), 1u) << all_dead;

  // A limit only the server knows is too big: its 400, exit 1.
  auto too_many = as(reader_key, {"events", "search", "--limit", "100000"});
  EXPECT_EQ(too_many.exit_code, 1) << too_many;
  EXPECT_EQ(too_many.err.rfind("txrelay: invalid_query: ", 0), 0u) << too_many;
  EXPECT_EQ(too_many.out, "");
}

TEST_F(operator_cli, pause_resume_and_replay_change_the_sink) {
  auto id = dead_event("k");
  ASSERT_EQ(sinks_field("paused"), "false");

  auto paused = as(admin_key, {"sinks", "pause", "hook"});
  EXPECT_EQ(paused.exit_code, 0) << paused;
  EXPECT_EQ(sinks_field("paused"), "true");
  auto listed = as(admin_key, {"sinks", "list"});
  EXPECT_EQ(lines_with(listed.out, {"hook ", "paused", "yes"}), 1u) << listed;

  auto resumed = as(admin_key, {"sinks", "resume", "hook"});
  EXPECT_EQ(resumed.exit_code, 0) << resumed;
  EXPECT_EQ(sinks_field("paused"), "false");

  // The sink works again: the replayed dead letter is delivered.
  sink->set_behaviour([](const recorded_request&, std::size_t) { return fake_reply{204}; });
  auto replayed = as(admin_key, {"sinks", "replay", "hook"});
  EXPECT_EQ(replayed.exit_code, 0) << replayed;
  EXPECT_EQ(replayed.out, "sink hook: 1 dead deliveries pending again\n") << replayed;
  EXPECT_TRUE(eventually([&] { return hook_delivery(id, "status") == "delivered"; }, 30s));

  // A reader may look but not act; an unknown sink is a 404.
  auto forbidden = as(reader_key, {"sinks", "pause", "hook"});
  EXPECT_EQ(forbidden.exit_code, 4) << forbidden;
  EXPECT_EQ(forbidden.err.rfind("txrelay: forbidden: ", 0), 0u) << forbidden;
  EXPECT_EQ(sinks_field("paused"), "false");
  auto unknown = as(admin_key, {"sinks", "pause", "nope"});
  EXPECT_EQ(unknown.exit_code, 3) << unknown;
}

TEST_F(operator_cli, exit_codes_say_not_found_and_unauthorised_and_never_show_the_key) {
  auto id = dead_event("k");
  // Same time, another id: an event that does not exist (not one retention may have removed).
  auto unknown_id = id.substr(0, id.size() - 1) + (id.back() == '0' ? "1" : "0");
  auto missing = as(reader_key, {"events", "get", unknown_id});
  EXPECT_EQ(missing.exit_code, 3) << missing;
  EXPECT_EQ(missing.err, "txrelay: not_found: no event with that id\n") << missing;
  EXPECT_EQ(missing.out, "");

  const std::string wrong_key = "wrong-key-0123456789abcdef";
  auto wrong = as(wrong_key, {"sinks", "list"});
  EXPECT_EQ(wrong.exit_code, 4) << wrong;
  EXPECT_EQ(wrong.err, "txrelay: unauthorized: unknown API key\n") << wrong;
  EXPECT_EQ(wrong.out.find(wrong_key), std::string::npos);

  auto no_key = run_cli({"sinks", "list", "--url", url});
  EXPECT_EQ(no_key.exit_code, 4) << no_key;
  EXPECT_NE(no_key.err.find("TXRELAY_API_KEY is not set"), std::string::npos) << no_key;
}

/// A port nothing listens on: bound for a moment, then closed.
std::uint16_t closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST(operator_cli_offline, an_unreachable_or_silent_server_and_bad_usage_have_their_exit_codes) {
  auto refused = run_cli({"sinks", "list", "--url", "http://127.0.0.1:" + std::to_string(closed_port())});
  EXPECT_EQ(refused.exit_code, 5) << refused;
  EXPECT_EQ(refused.err.rfind("txrelay: unreachable: cannot connect to http://127.0.0.1:", 0), 0u) << refused;

  // Accepted by the kernel, never answered: --timeout bounds the wait.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  auto started = std::chrono::steady_clock::now();
  auto silent = run_cli({"events", "get", "x", "--timeout", "300ms"},
                        {{"TXRELAY_URL", "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port))}});
  auto took = std::chrono::steady_clock::now() - started;
  ::close(fd);
  EXPECT_EQ(silent.exit_code, 5) << silent;
  EXPECT_EQ(silent.err.rfind("txrelay: timeout: no answer from ", 0), 0u) << silent;
  EXPECT_LT(took, 10s);

  for (const std::vector<std::string>& bad : std::vector<std::vector<std::string>>{
         {"events", "get"}, {"sinks", "list", "--bogus", "1"}, {"dead", "list", "hook", "--limit", "many"},
         {"sinks", "list", "--url", "ftp://x"}, {"sinks", "list", "--api-key", "secret-0123456789abcdef"}}) {
    auto usage = run_cli(bad);
    EXPECT_EQ(usage.exit_code, 2) << usage;
    EXPECT_EQ(usage.err.rfind("txrelay: usage: ", 0), 0u) << usage;
    EXPECT_EQ(usage.err.find("secret-0123456789abcdef"), std::string::npos) << usage;
  }

  auto help = run_cli({"help"});
  EXPECT_EQ(help.exit_code, 0) << help;
  for (const auto& listed : {"txrelay events get", "txrelay events search", "txrelay sinks list",
                             "txrelay sinks pause|resume|replay", "txrelay dead list", "TXRELAY_API_KEY", "exit codes"})
    EXPECT_NE(help.out.find(listed), std::string::npos) << listed;
}

} // namespace
