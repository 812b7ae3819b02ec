#include "expr/event_document.hpp"

#include "expr/condition.hpp"
#include "expr/text_template.hpp"

#include <gtest/gtest.h>

using namespace txrelay;

TEST(EventDocument, HasEveryFieldInOrder) {
  event_fields f{"user.created", std::string_view{"u-1"}, "evt_1", "dlv_1", "2026-11-23T17:20:14Z"};
  auto d = event_document(f, json_value::parse(R"({"name": "Ada"})").value());
  EXPECT_EQ(d.to_json(), R"({"topic":"user.created","key":"u-1","event_id":"evt_1","delivery_id":"dlv_1",)"
                         R"("created_at":"2026-11-23T17:20:14Z","payload":{"name":"Ada"}})");
}

TEST(EventDocument, EmptyIdsAndNoKeyAreNull) {
  event_fields f{"user.created", std::nullopt, "", "", ""};
  auto d = event_document(f, json_value{json_value::object_t{}});
  EXPECT_EQ(d.to_json(),
            R"({"topic":"user.created","key":null,"event_id":null,"delivery_id":null,"created_at":null,"payload":{}})");
}

TEST(EventDocument, FromPayloadText) {
  event_fields f{"t", std::string_view{""}, "e", "", "2026-01-01T00:00:00Z"};
  auto d = event_document_from_json(f, std::string_view{R"({"a": [1, 2]})"});
  EXPECT_EQ(d.find("key")->as_string(), ""); // an empty key is still a key
  EXPECT_EQ(d.at({"payload", "a"})->to_json(), "[1,2]");
  auto broken = event_document_from_json(f, std::string_view{"{not json"});
  EXPECT_TRUE(broken.find("payload")->is_null());
}

TEST(EventDocument, IsWhatConditionsAndTemplatesRead) {
  event_fields f{"poll.closed", std::nullopt, "evt_9", "", "2026-11-23T17:20:14Z"};
  auto d = event_document_from_json(f, std::string_view{R"({"rating": 5})"});
  EXPECT_TRUE(condition::parse("topic == \"poll.closed\" && payload.rating >= 4 && key == null")->matches(d));
  EXPECT_EQ(text_template::parse("{{ event_id }} {{ created_at | datetime }}")->render(d),
            "evt_9 2026-11-23 17:20:14 UTC");
}
