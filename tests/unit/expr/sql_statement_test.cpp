#include "expr/sql_statement.hpp"

#include <gtest/gtest.h>

using namespace txrelay;

namespace {
json_value event(std::string_view payload) {
  json_value doc{json_value::object_t{}};
  doc.set("topic", "review.created");
  doc.set("key", nullptr);
  doc.set("payload", *json_value::parse(payload));
  return doc;
}
} // namespace

TEST(SqlStatement, NamedFieldsBecomePositionalParameters) {
  auto s = sql_statement::parse("UPDATE r SET n = n + 1, sum = sum + $payload.rating::int "
                                "WHERE id = $payload.restaurant_id::bigint AND $payload.rating > 0");
  ASSERT_TRUE(s) << s.error().to_string();
  EXPECT_EQ(s->text(), "UPDATE r SET n = n + 1, sum = sum + $1::int WHERE id = $2::bigint AND $1 > 0");
  ASSERT_EQ(s->parameters().size(), 2u);
  auto values = s->bind(event(R"({"rating": 4, "restaurant_id": "17"})"));
  ASSERT_EQ(values.size(), 2u);
  EXPECT_EQ(values[0], "4");
  EXPECT_EQ(values[1], "17");
}

TEST(SqlStatement, MissingOrNullFieldsAreNull) {
  auto s = sql_statement::parse("INSERT INTO t VALUES ($payload.a, $payload.b.c, $key, $topic)");
  ASSERT_TRUE(s);
  auto values = s->bind(event(R"({"a": null})"));
  EXPECT_EQ(values[0], std::nullopt);
  EXPECT_EQ(values[1], std::nullopt);
  EXPECT_EQ(values[2], std::nullopt);
  EXPECT_EQ(values[3], "review.created");
}

TEST(SqlStatement, QuotedTextCommentsAndDollarQuotesAreLeftAlone) {
  auto s = sql_statement::parse("SELECT '$payload.x', \"$payload.y\", $$ $payload.z $$, $fn$ $key $fn$ -- $topic\n"
                                "/* $event_id */ , 'it''s $key', $payload.w");
  ASSERT_TRUE(s) << s.error().to_string();
  EXPECT_EQ(s->parameters().size(), 1u);
  EXPECT_NE(s->text().find("'$payload.x'"), std::string::npos);
  EXPECT_NE(s->text().find("'it''s $key', $1"), std::string::npos);
}

TEST(SqlStatement, ErrorsSayWhere) {
  auto positional = sql_statement::parse("DELETE FROM users WHERE id = $1");
  ASSERT_FALSE(positional);
  EXPECT_EQ(positional.error().position, 29u);
  EXPECT_NE(positional.error().message.find("positional"), std::string::npos);

  auto unknown = sql_statement::parse("SELECT $paylod.id");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("paylod"), std::string::npos);

  EXPECT_FALSE(sql_statement::parse("SELECT $payload"));
  EXPECT_FALSE(sql_statement::parse("SELECT 'open"));
  EXPECT_FALSE(sql_statement::parse("SELECT $$ open"));
  EXPECT_FALSE(sql_statement::parse("   "));
}

TEST(SqlStatement, EscapeStringsMayHideAQuoteBehindABackslash) {
  auto s = sql_statement::parse(R"(SELECT E'it\'s $payload.a', $payload.b)");
  ASSERT_TRUE(s) << s.error().to_string();
  ASSERT_EQ(s->parameters().size(), 1u);
  EXPECT_EQ(s->parameters()[0], (std::vector<std::string>{"payload", "b"}));
}
