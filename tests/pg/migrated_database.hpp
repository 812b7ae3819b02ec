#pragma once
// A fixture for tests of txrelay's SQL: a throwaway database with the schema
// migrated, and one connection to it.
#include "persistence/migrations.hpp"
#include "persistence/pg_connection.hpp"
#include "support/test_database.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <optional>

namespace txrelay::testing {

class migrated_database_test : public ::testing::Test {
protected:
  void SetUp() override {
    TXRELAY_REQUIRE_DATABASE();
    db = std::make_unique<test_database>();
    auto c = pg::connection::open(db->url());
    ASSERT_TRUE(c) << c.error().message;
    conn.emplace(std::move(*c));
    auto v = pg::migrate(*conn);
    ASSERT_TRUE(v) << v.error().message;
  }

  std::unique_ptr<test_database> db;
  std::optional<pg::connection> conn;
};

} // namespace txrelay::testing
