#include "config/config.hpp"

#include "env_map.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <unistd.h>

namespace txrelay {
namespace {

using testing::env_map;

const std::string example = std::string{TXRELAY_SOURCE_DIR} + "/config/txrelay.yaml";

/// A file under gtest's temp dir, removed when the test ends.
class temp_file {
public:
  explicit temp_file(const std::string& content) {
    path_ = ::testing::TempDir() + "txrelay-config-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".yaml";
    std::ofstream{path_} << content;
  }
  ~temp_file() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

private:
  std::string path_;
};

TEST(load_config_file, loads_a_file_and_records_its_path) {
  temp_file f{"server: {listen: '127.0.0.1:0'}\nsinks: [{name: a, kind: log}]\nroutes: [{topic: t, sinks: [a]}]\n"};
  auto c = load_config_file(f.path(), env_map());
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_EQ(c->source_file, f.path());
  EXPECT_EQ(c->server.listen.port, 0);
  ASSERT_EQ(c->sinks.size(), 1u);
  EXPECT_EQ(c->routes.size(), 1u);
}

TEST(load_config_file, errors_name_the_file) {
  temp_file f{"sinks:\n  - {name: a, kind: log, retry: {base: 0s}}\n"};
  auto c = load_config_file(f.path(), env_map());
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().file, f.path());
  EXPECT_EQ(c.error().key, "sinks[0].retry.base");
  EXPECT_EQ(c.error().to_string(), f.path() + ": sinks[0].retry.base: must be greater than 0 (sink \"a\")");
}

TEST(load_config_file, a_missing_file_is_an_error_naming_it) {
  auto path = ::testing::TempDir() + "txrelay-no-such-config.yaml";
  auto c = load_config_file(path, env_map());
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().file, path);
  EXPECT_EQ(c.error().key, "");
  EXPECT_NE(c.error().problem.find("cannot read"), std::string::npos) << c.error().problem;
  EXPECT_NE(c.error().problem.find("No such file"), std::string::npos) << c.error().problem;
}

TEST(load_config_file, a_directory_is_an_error) {
  auto c = load_config_file(::testing::TempDir(), env_map());
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().problem.find("directory"), std::string::npos) << c.error().problem;
}

TEST(example_config, loads_with_an_empty_environment) {
  auto c = load_config_file(example, env_map());
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_EQ(c->server.listen.host, "127.0.0.1");
  EXPECT_EQ(c->server.listen.port, 8080);
  EXPECT_EQ(c->server.max_body_bytes, 1048576u);
  EXPECT_EQ(c->database.url, ""); // the embedded PostgreSQL
  ASSERT_EQ(c->sinks.size(), 1u);
  EXPECT_EQ(c->sinks[0].name, "feedback-log");
  EXPECT_EQ(c->sinks[0].kind, sink_kind::log);
  EXPECT_EQ(c->disabled_sinks, std::vector<std::string>{"feedback-webhook"});
  ASSERT_EQ(c->routes.size(), 1u);
  EXPECT_EQ(c->routes[0].topic, "feedback");
  EXPECT_EQ(c->routes[0].sinks, (std::vector<std::string>{"feedback-log", "feedback-webhook"}));
  routing_table table{c->routes, {"feedback-log"}};
  EXPECT_EQ(table.sinks_for("feedback"), std::vector<std::string>{"feedback-log"});
}

TEST(example_config, enables_the_webhook_when_its_url_is_set) {
  auto c = load_config_file(example, env_map({{"FEEDBACK_WEBHOOK_URL", "http://127.0.0.1:9999/hooks/feedback"}}));
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_TRUE(c->disabled_sinks.empty());
  ASSERT_EQ(c->sinks.size(), 2u);
  const auto& hook = c->sinks[1];
  EXPECT_EQ(hook.name, "feedback-webhook");
  EXPECT_EQ(hook.kind, sink_kind::webhook);
  ASSERT_TRUE(hook.endpoint);
  EXPECT_EQ(hook.endpoint->host, "127.0.0.1");
  EXPECT_EQ(hook.endpoint->port, 9999);
  EXPECT_EQ(hook.endpoint->target, "/hooks/feedback");
  EXPECT_TRUE(hook.secrets.empty()); // FEEDBACK_WEBHOOK_SECRET unset: unsigned
  EXPECT_EQ(hook.request_timeout, millis{10'000});
  EXPECT_EQ(hook.max_in_flight, 8);
  EXPECT_EQ(hook.retry.max_attempts, 8);
  EXPECT_EQ(hook.retry.base, millis{1000});
  EXPECT_EQ(hook.retry.cap, millis{3'600'000});
}

TEST(example_config, takes_listen_database_and_secret_from_the_environment) {
  const std::string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  auto c = load_config_file(example, env_map({{"TXRELAY_LISTEN", "[::1]:0"},
                                              {"TXRELAY_DATABASE_URL", "postgresql://localhost/txrelay"},
                                              {"FEEDBACK_WEBHOOK_URL", "http://127.0.0.1:9999/h"},
                                              {"FEEDBACK_WEBHOOK_SECRET", secret}}));
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_EQ(c->server.listen.host, "::1");
  EXPECT_EQ(c->server.listen.port, 0);
  EXPECT_EQ(c->database.url, "postgresql://localhost/txrelay");
  ASSERT_EQ(c->sinks.size(), 2u);
  EXPECT_EQ(c->sinks[1].secrets, std::vector<std::string>{secret});
}

TEST(example_config, a_bad_secret_in_the_environment_is_reported_without_its_value) {
  auto c = load_config_file(example, env_map({{"FEEDBACK_WEBHOOK_URL", "http://127.0.0.1:9999/h"},
                                              {"FEEDBACK_WEBHOOK_SECRET", "whsec_!!notbase64!!"}}));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().key, "sinks[1].secret");
  EXPECT_NE(c.error().problem.find("not a valid whsec_ secret"), std::string::npos) << c.error().problem;
  EXPECT_EQ(c.error().to_string().find("notbase64"), std::string::npos) << c.error().to_string();
}

} // namespace
} // namespace txrelay
