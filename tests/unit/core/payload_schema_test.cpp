#include "core/payload_schema.hpp"

#include <gtest/gtest.h>

using namespace txrelay;

namespace {

// Scenario 1's feedback: content required, not blank, at most 800; contact at most 100.
payload_schema feedback_schema() {
  payload_schema s;
  field_rule content;
  content.path = {"content"};
  content.type = field_type::string;
  content.required = true;
  content.not_blank = true;
  content.max_length = 800;
  field_rule contact;
  contact.path = {"contact"};
  contact.type = field_type::string;
  contact.max_length = 100;
  s.fields = {content, contact};
  return s;
}

std::vector<field_violation> check(const payload_schema& s, std::string_view payload) {
  return check_payload(s, *json_value::parse(payload));
}

} // namespace

TEST(PayloadSchema, AConformingPayloadHasNoViolations) {
  EXPECT_TRUE(check(feedback_schema(), R"({"content": "Love it", "user_id": 7})").empty());
  EXPECT_TRUE(check(feedback_schema(), R"({"content": "Love it", "contact": null})").empty());
}

TEST(PayloadSchema, EveryViolationIsListed) {
  std::string long_contact(101, 'x');
  auto v = check(feedback_schema(), R"({"content": "   ", "contact": ")" + long_contact + "\"}");
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].field, "payload.content");
  EXPECT_EQ(v[0].problem, "must not be blank");
  EXPECT_EQ(v[1].field, "payload.contact");
  EXPECT_EQ(v[1].problem, "must be at most 100 characters (got 101)");
}

TEST(PayloadSchema, MissingAndWrongTypes) {
  auto v = check(feedback_schema(), R"({"contact": 5})");
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].problem, "is required");
  EXPECT_EQ(v[1].problem, "must be a string (got integer)");
}

TEST(PayloadSchema, LengthsCountCharactersNotBytes) {
  std::string content;
  for (int i = 0; i < 800; ++i)
    content += "é";
  EXPECT_TRUE(check(feedback_schema(), R"({"content": ")" + content + "\"}").empty());
  EXPECT_EQ(check(feedback_schema(), R"({"content": ")" + content + "é\"}").size(), 1u);
}

TEST(PayloadSchema, NumbersBoundsNestedPathsAndEnums) {
  payload_schema s;
  field_rule rating;
  rating.path = {"review", "rating"};
  rating.type = field_type::integer;
  rating.required = true;
  rating.minimum = 1;
  rating.maximum = 5;
  field_rule status;
  status.path = {"status"};
  status.one_of = {json_value{"PENDING"}, json_value{"APPROVED"}};
  s.fields = {rating, status};
  EXPECT_TRUE(check(s, R"({"review": {"rating": 5}, "status": "PENDING"})").empty());
  auto v = check(s, R"({"review": {"rating": 6}, "status": "LOST"})");
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].field, "payload.review.rating");
  EXPECT_EQ(v[0].problem, "must be at most 5 (got 6)");
  EXPECT_EQ(v[1].problem, "must be one of \"PENDING\", \"APPROVED\"");
  EXPECT_EQ(check(s, R"({"review": {"rating": 2.5}})")[0].problem, "must be an integer (got number)");
}
