#include "cli/command_line.hpp"

#include <gtest/gtest.h>

using namespace txrelay::cli;

namespace {

TEST(command_line, serve_takes_every_documented_flag) {
  auto o = parse_arguments({"serve", "--config", "c.yaml", "--listen", "0.0.0.0:9000", "--database-url=postgresql://x",
                            "--data-dir", "/tmp/d"});
  ASSERT_TRUE(o) << o.error();
  EXPECT_EQ(o->command, "serve");
  EXPECT_EQ(o->config_path, "c.yaml");
  EXPECT_EQ(o->listen, "0.0.0.0:9000");
  EXPECT_EQ(o->database_url, "postgresql://x");
  EXPECT_EQ(o->data_dir, "/tmp/d");
}

TEST(command_line, errors_say_what_is_wrong) {
  EXPECT_NE(parse_arguments({}).error().find("no command"), std::string::npos);
  EXPECT_NE(parse_arguments({"launch"}).error().find("unknown command \"launch\""), std::string::npos);
  EXPECT_NE(parse_arguments({"serve"}).error().find("needs --config"), std::string::npos);
  EXPECT_NE(parse_arguments({"serve", "--config"}).error().find("--config needs a value"), std::string::npos);
  EXPECT_NE(parse_arguments({"serve", "--config", "a", "--bogus", "1"}).error().find("unknown option \"--bogus\""),
            std::string::npos);
  // check-config never touches a database, so database flags are refused there.
  EXPECT_FALSE(parse_arguments({"check-config", "--config", "a", "--database-url", "x"}));
}

TEST(command_line, migrate_needs_no_config) {
  auto o = parse_arguments({"migrate", "--database-url", "postgresql://x"});
  ASSERT_TRUE(o) << o.error();
  EXPECT_EQ(o->command, "migrate");
}

TEST(command_line, database_url_precedence_is_flag_then_environment_then_config) {
  options o;
  EXPECT_EQ(resolve_database_url(o, "from-config", std::nullopt), "from-config");
  EXPECT_EQ(resolve_database_url(o, "from-config", std::string{"from-env"}), "from-env");
  o.database_url = "from-flag";
  EXPECT_EQ(resolve_database_url(o, "from-config", std::string{"from-env"}), "from-flag");
  options none;
  EXPECT_EQ(resolve_database_url(none, "", std::nullopt), ""); // embedded
}

} // namespace
