#include "config/config.hpp"

#include "env_map.hpp"

#include <gtest/gtest.h>

namespace txrelay {
namespace {

using testing::env_map;

std::string expand_ok(std::string_view text, const env_lookup& env) {
  auto r = interpolate_env(text, env);
  EXPECT_TRUE(r) << "\"" << text << "\": " << (r ? "" : r.error());
  return r ? *r : std::string{"<error>"};
}

std::string expand_error(std::string_view text, const env_lookup& env) {
  auto r = interpolate_env(text, env);
  EXPECT_FALSE(r) << "\"" << text << "\" expanded to \"" << (r ? *r : "") << "\"";
  return r ? std::string{} : r.error();
}

TEST(interpolate_env, text_without_references_is_unchanged) {
  EXPECT_EQ(expand_ok("", env_map()), "");
  EXPECT_EQ(expand_ok("127.0.0.1:8080", env_map()), "127.0.0.1:8080");
  EXPECT_EQ(expand_ok("{VAR} and }", env_map()), "{VAR} and }");
}

TEST(interpolate_env, braced_variable_is_replaced_by_its_value) {
  auto env = env_map({{"HOST", "db.internal"}, {"PORT", "5432"}});
  EXPECT_EQ(expand_ok("${HOST}", env), "db.internal");
  EXPECT_EQ(expand_ok("postgresql://${HOST}:${PORT}/txrelay", env), "postgresql://db.internal:5432/txrelay");
}

TEST(interpolate_env, a_set_but_empty_variable_gives_the_empty_string) {
  EXPECT_EQ(expand_ok("[${EMPTY}]", env_map({{"EMPTY", ""}})), "[]");
}

TEST(interpolate_env, an_unset_variable_without_default_is_an_error_naming_it) {
  auto error = expand_error("http://${HOOK_HOST}/x", env_map());
  EXPECT_NE(error.find("HOOK_HOST"), std::string::npos) << error;
  EXPECT_NE(error.find("not set"), std::string::npos) << error;
}

TEST(interpolate_env, default_applies_when_unset_or_empty) {
  EXPECT_EQ(expand_ok("${LISTEN:-127.0.0.1:8080}", env_map()), "127.0.0.1:8080");
  EXPECT_EQ(expand_ok("${LISTEN:-127.0.0.1:8080}", env_map({{"LISTEN", ""}})), "127.0.0.1:8080");
  EXPECT_EQ(expand_ok("${LISTEN:-127.0.0.1:8080}", env_map({{"LISTEN", "0.0.0.0:9"}})), "0.0.0.0:9");
  EXPECT_EQ(expand_ok("${URL:-}", env_map()), "");
}

TEST(interpolate_env, alternative_word_applies_only_when_set_and_non_empty) {
  EXPECT_EQ(expand_ok("a${TLS:+s}", env_map({{"TLS", "1"}})), "as");
  EXPECT_EQ(expand_ok("a${TLS:+s}", env_map({{"TLS", ""}})), "a");
  EXPECT_EQ(expand_ok("a${TLS:+s}", env_map()), "a");
}

TEST(interpolate_env, double_dollar_is_a_literal_dollar) {
  EXPECT_EQ(expand_ok("pa$$word", env_map()), "pa$word");
  EXPECT_EQ(expand_ok("$${NOT_A_VAR}", env_map()), "${NOT_A_VAR}");
  EXPECT_EQ(expand_ok("$$$${X}", env_map({{"X", "x"}})), "$${X}");
  EXPECT_EQ(expand_ok("$$${X}", env_map({{"X", "x"}})), "$x");
  EXPECT_EQ(expand_ok("${X:-$$5}", env_map()), "$5");
}

TEST(interpolate_env, a_dollar_not_followed_by_brace_is_kept) {
  EXPECT_EQ(expand_ok("pa$word", env_map({{"word", "no"}})), "pa$word");
  EXPECT_EQ(expand_ok("cost: 5$", env_map()), "cost: 5$");
}

TEST(interpolate_env, defaults_nest_and_are_expanded_only_when_used) {
  EXPECT_EQ(expand_ok("${A:-${B:-x}}", env_map()), "x");
  EXPECT_EQ(expand_ok("${A:-${B:-x}}", env_map({{"B", "b"}})), "b");
  EXPECT_EQ(expand_ok("${A:-${UNSET}}", env_map({{"A", "a"}})), "a");
  auto error = expand_error("${A:-${INNER_MISSING}}", env_map());
  EXPECT_NE(error.find("INNER_MISSING"), std::string::npos) << error;
}

TEST(interpolate_env, values_from_the_environment_are_not_expanded_again) {
  EXPECT_EQ(expand_ok("${A}", env_map({{"A", "${B}$$"}})), "${B}$$");
}

TEST(interpolate_env, malformed_references_are_errors) {
  EXPECT_NE(expand_error("${UNTERMINATED", env_map()).find("no closing"), std::string::npos);
  EXPECT_NE(expand_error("${}", env_map()).find("variable name"), std::string::npos);
  EXPECT_NE(expand_error("${1ABC}", env_map()).find("variable name"), std::string::npos);
  auto error = expand_error("${A-b}", env_map({{"A", "a"}}));
  EXPECT_NE(error.find("unsupported"), std::string::npos) << error;
  EXPECT_NE(error.find(":-default"), std::string::npos) << error;
}

TEST(interpolate_env, errors_never_echo_a_default_value) {
  auto error = expand_error("${A:+whsec_verysecret}${MISSING}", env_map({{"A", "x"}}));
  EXPECT_EQ(error.find("verysecret"), std::string::npos) << error;
  error = expand_error("${A-whsec_verysecret}", env_map({{"A", "x"}}));
  EXPECT_EQ(error.find("verysecret"), std::string::npos) << error;
}

} // namespace
} // namespace txrelay
