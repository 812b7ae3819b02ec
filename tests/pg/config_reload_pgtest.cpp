// Live config reload (POST /v1/admin/reload; SIGHUP does the same in
// `serve`): sinks added, changed and removed while events flow, routes and
// topics switched for new events, and files that must change nothing.
#include "pg/engine_harness.hpp"
#include "support/fake_sink_server.hpp"
#include "support/json_probe.hpp"

#include <gtest/gtest.h>

#include <set>
#include <thread>

using namespace txrelay;
using namespace txrelay::testing;

namespace {

class config_reload_pgtest : public ::testing::Test {
protected:
  void SetUp() override {
    TXRELAY_REQUIRE_DATABASE();
    db = std::make_unique<test_database>();
  }

  static std::set<std::string> sink_names(const engine_harness& e) {
    auto body = e.get("/v1/sinks").body;
    std::set<std::string> names;
    for (int i = 0; i < json_array_size(body, "/sinks"); ++i)
      names.insert(json_string_at(body, "/sinks/" + std::to_string(i) + "/name").value_or("?"));
    return names;
  }

  static std::set<std::string> receipt_sinks(const std::string& receipt) {
    std::set<std::string> sinks;
    for (int i = 0; i < json_array_size(receipt, "/deliveries"); ++i)
      sinks.insert(json_string_at(receipt, "/deliveries/" + std::to_string(i) + "/sink").value_or("?"));
    return sinks;
  }

  static test_response reload(const engine_harness& e) { return post_json(e.port(), "/v1/admin/reload", ""); }

  std::unique_ptr<test_database> db;
};

std::string webhook(const std::string& name, const std::string& url, const std::string& extra = "") {
  return "  - {name: " + name + ", kind: webhook, url: \"" + url + "\"" + extra + "}\n";
}

TEST_F(config_reload_pgtest, a_sink_that_said_it_is_gone_works_again_once_a_reload_gives_it_a_new_url) {
  fake_sink_server gone{[](const recorded_request&, std::size_t) { return fake_reply{410, {}, "gone"}; }};
  fake_sink_server moved;
  auto file = temp_config_file("reload-broken", "sinks:\n" + webhook("hook", gone.url()) +
                                                  "routes:\n  - {topic: t, sinks: [hook]}\n");
  engine_harness e{*db, file};
  ASSERT_EQ(e.post_event(R"({"topic":"t","payload":{"n":1}})").status, 201);
  ASSERT_TRUE(eventually([&] {
    return db->scalar("SELECT count(*) FROM txrelay.sink_faults WHERE broken IS NOT NULL") == "1";
  }));
  file.write("sinks:\n" + webhook("hook", moved.url()) + "routes:\n  - {topic: t, sinks: [hook]}\n");
  ASSERT_EQ(reload(e).status, 200);
  ASSERT_TRUE(eventually([&] {
    return db->scalar("SELECT count(*) FROM txrelay.sink_faults WHERE broken IS NOT NULL") == "0";
  })) << "the stored broken state outlived the new settings";
  ASSERT_EQ(e.post_event(R"({"topic":"t","payload":{"n":2}})").status, 201);
  ASSERT_TRUE(moved.wait_for_requests(1, std::chrono::seconds{10})) << "the reloaded sink is still treated as gone";
}

TEST_F(config_reload_pgtest, a_reload_starts_added_sinks_restarts_changed_ones_and_retires_removed_ones) {
  fake_sink_server a_old, a_new, c_server;
  fake_sink_server b_server{[](const recorded_request&, std::size_t) {
    fake_reply failing;
    failing.status = 500;
    return failing;
  }};
  auto file = temp_config_file("reload", "sinks:\n" + webhook("a", a_old.url()) +
                                           webhook("b", b_server.url(), ", retry: {max_attempts: 100, base: 50ms, cap: 100ms}") +
                                           "routes:\n  - {topic: t, sinks: [a, b]}\n");
  engine_harness e{*db, file};
  auto first = e.post_event(R"({"topic":"t","payload":{"n":1}})");
  ASSERT_EQ(first.status, 201) << first.body;
  ASSERT_TRUE(a_old.wait_for_requests(1, std::chrono::seconds{10}));
  ASSERT_TRUE(b_server.wait_for_requests(2, std::chrono::seconds{10})); // b keeps failing: its row stays pending

  // a moves to a new URL, b goes, c comes with a route of its own and a new topic.
  file.write("sinks:\n" + webhook("a", a_new.url()) + webhook("c", c_server.url()) +
             "routes:\n  - {topic: t, sinks: [a, c]}\n  - {topic: u, sinks: [c]}\n");
  auto reloaded = reload(e);
  ASSERT_EQ(reloaded.status, 200) << reloaded.body;
  EXPECT_EQ(json_raw_at(reloaded.body, "/added"), R"(["c"])") << reloaded.body;
  EXPECT_EQ(json_raw_at(reloaded.body, "/changed"), R"(["a"])");
  EXPECT_EQ(json_string_at(reloaded.body, "/removed/0/name"), "b");
  EXPECT_EQ(json_int_at(reloaded.body, "/removed/0/pending"), 1); // kept, and reported
  EXPECT_EQ(json_raw_at(reloaded.body, "/routing_changed"), "true");

  // New events follow the new routes, to the new settings.
  auto second = e.post_event(R"({"topic":"t","payload":{"n":2}})");
  ASSERT_EQ(second.status, 201) << second.body;
  EXPECT_EQ(receipt_sinks(second.body), (std::set<std::string>{"a", "c"}));
  auto third = e.post_event(R"({"topic":"u","payload":{"n":3}})");
  ASSERT_EQ(third.status, 201) << third.body;
  ASSERT_TRUE(a_new.wait_for_requests(1, std::chrono::seconds{10}));
  ASSERT_TRUE(c_server.wait_for_requests(2, std::chrono::seconds{10}));
  EXPECT_EQ(json_string_at(a_new.requests()[0].body, "/id"), json_string_at(second.body, "/id"));
  EXPECT_EQ(a_old.request_count(), 1u);
  EXPECT_EQ(sink_names(e), (std::set<std::string>{"a", "c"}));

  // b's sender stopped: no more attempts, and its row is still pending.
  ASSERT_TRUE(eventually([&] {
    auto before = b_server.request_count();
    return !b_server.wait_for_requests(before + 1, std::chrono::milliseconds{300});
  }));
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.delivery_status WHERE sink = 'b' AND status = 'pending'"), "1");
  // txrelay.publish() knows the new topic, and no longer the dropped-by-nobody ones.
  EXPECT_EQ(db->scalar("SELECT string_agg(topic, ',' ORDER BY topic) FROM txrelay.topics"), "t,u");
  EXPECT_NE(e.get("/metrics").body.find("txrelay_sink_delivered_total{sink=\"c\"} 2"), std::string::npos);

  // Bringing b back picks its pending row up again.
  b_server.set_behaviour({});
  auto before = b_server.request_count();
  file.write("sinks:\n" + webhook("a", a_new.url()) + webhook("c", c_server.url()) + webhook("b", b_server.url()) +
             "routes:\n  - {topic: t, sinks: [a, c]}\n  - {topic: u, sinks: [c]}\n");
  auto back = reload(e);
  ASSERT_EQ(back.status, 200) << back.body;
  EXPECT_EQ(json_raw_at(back.body, "/added"), R"(["b"])");
  ASSERT_TRUE(b_server.wait_for_requests(before + 1, std::chrono::seconds{10}));
  ASSERT_TRUE(eventually([&] {
    return db->scalar("SELECT count(*) FROM txrelay.delivery_status WHERE status = 'pending'") == "0";
  }));
}

TEST_F(config_reload_pgtest, a_file_that_does_not_load_or_needs_a_restart_changes_nothing) {
  fake_sink_server hook;
  const std::string good = "sinks:\n" + webhook("hook", hook.url()) + "routes:\n  - {topic: t, sinks: [hook]}\n";
  auto file = temp_config_file("reload-invalid", good);
  engine_harness e{*db, file};

  file.write("sinks:\n" + webhook("hook", "ftp://nowhere") + webhook("other", hook.url()) +
             "routes:\n  - {topic: t, sinks: [hook, other]}\n");
  auto invalid = reload(e);
  ASSERT_EQ(invalid.status, 422) << invalid.body;
  EXPECT_EQ(json_string_at(invalid.body, "/error/code"), "invalid_config");
  auto message = json_string_at(invalid.body, "/error/message").value_or("");
  EXPECT_NE(message.find(file.path), std::string::npos) << message; // the file,
  EXPECT_NE(message.find("sinks[0].url"), std::string::npos) << message; // the key

  file.write("server: {max_body_bytes: 1000}\n" + good);
  auto restart = reload(e);
  ASSERT_EQ(restart.status, 409) << restart.body;
  EXPECT_EQ(json_string_at(restart.body, "/error/code"), "restart_required");
  EXPECT_NE(json_string_at(restart.body, "/error/message").value_or("").find("server"), std::string::npos);

  // Nothing changed: the one sink, its route, its topic.
  EXPECT_EQ(sink_names(e), (std::set<std::string>{"hook"}));
  auto posted = e.post_event(R"({"topic":"t","payload":{}})");
  ASSERT_EQ(posted.status, 201) << posted.body;
  EXPECT_EQ(receipt_sinks(posted.body), (std::set<std::string>{"hook"}));
  ASSERT_TRUE(hook.wait_for_requests(1, std::chrono::seconds{10}));
  EXPECT_EQ(db->scalar("SELECT string_agg(topic, ',') FROM txrelay.topics"), "t");

  file.write(good);
  auto unchanged = reload(e);
  ASSERT_EQ(unchanged.status, 200) << unchanged.body;
  EXPECT_EQ(unchanged.body,
            R"({"added":[],"changed":[],"removed":[],"routing_changed":false,"warnings":[]})");
  EXPECT_EQ(e.get("/v1/admin/reload").status, 405);
}

} // namespace
