#pragma once
// A throwaway database per test: created on the server named by
// TXRELAY_TEST_DATABASE_URL (scripts/test-postgres.sh starts one), dropped at
// the end. Tests that need it call TXRELAY_REQUIRE_DATABASE() first: the test is
// skipped locally when the variable is unset, and fails when CI=true.
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace txrelay::testing {

/// The admin URL, or empty when TXRELAY_TEST_DATABASE_URL is unset.
std::string test_server_url();

class test_database {
public:
  test_database();  // CREATE DATABASE txrelay_test_<random>
  ~test_database(); // DROP DATABASE ... WITH (FORCE)
  test_database(const test_database&) = delete;
  test_database& operator=(const test_database&) = delete;

  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }

  /// Runs SQL on this database; each row is a vector of text values ("" for NULL).
  /// Throws std::runtime_error with the server's message on failure.
  std::vector<std::vector<std::string>> query(const std::string& sql) const;
  /// The single value of a one-row, one-column query.
  std::string scalar(const std::string& sql) const;

  /// Drops the database now, closing every connection to it (an outage).
  void drop();

private:
  std::string name_;
  std::string url_;
};

} // namespace txrelay::testing

#define TXRELAY_REQUIRE_DATABASE()                                                        \
  do {                                                                                    \
    if (::txrelay::testing::test_server_url().empty()) {                                  \
      if (const char* ci = std::getenv("CI"); ci && std::string(ci) == "true")            \
        FAIL() << "TXRELAY_TEST_DATABASE_URL is not set under CI";                        \
      GTEST_SKIP() << "TXRELAY_TEST_DATABASE_URL is not set (scripts/test.sh sets it)";   \
    }                                                                                     \
  } while (0)
