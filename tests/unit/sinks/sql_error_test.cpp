#include "sinks/sql_sink.hpp"

#include <gtest/gtest.h>

namespace txrelay {
namespace {

// A delivery's last error is shown by the API: libpq's DETAIL lines quote
// row values (a unique violation quotes the key), and a connection error
// names host, port and user. Neither may reach it.
TEST(classify_sql_error, keeps_the_primary_message_only) {
  pg::pg_error unique{"23505",
                      "ERROR:  duplicate key value violates unique constraint \"profiles_pkey\"\n"
                      "DETAIL:  Key (email)=(kim@example.com) already exists.\n",
                      false};
  auto r = classify_sql_error(unique);
  EXPECT_EQ(r.outcome, attempt_result::verdict::permanent);
  EXPECT_EQ(r.error, "SQLSTATE 23505: duplicate key value violates unique constraint \"profiles_pkey\"");
  EXPECT_EQ(r.error.find("kim@example.com"), std::string::npos);

  pg::pg_error lost{"", "connection to server at \"10.1.2.3\", port 5432 failed: FATAL:  password authentication "
                        "failed for user \"txrelay\"", true};
  auto l = classify_sql_error(lost);
  EXPECT_EQ(l.outcome, attempt_result::verdict::retry);
  EXPECT_EQ(l.error.find("10.1.2.3"), std::string::npos) << l.error;
  EXPECT_EQ(l.error.find("txrelay"), std::string::npos) << l.error;
}

TEST(classify_sql_error, says_why_for_the_failures_by_reason_metric) {
  EXPECT_EQ(classify_sql_error({"", "server closed the connection", true}).reason, failure_reason::connect);
  EXPECT_EQ(classify_sql_error({"57014", "ERROR:  canceling statement due to statement timeout", false}).reason,
            failure_reason::timeout);
  EXPECT_EQ(classify_sql_error({"55P03", "ERROR:  could not obtain lock", false}).reason, failure_reason::timeout);
  EXPECT_EQ(classify_sql_error({"23505", "ERROR:  duplicate key", false}).reason, failure_reason::other);
}

} // namespace
} // namespace txrelay
