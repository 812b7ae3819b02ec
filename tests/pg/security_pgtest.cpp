// Who may do what, and input that cannot stall or exhaust the server: API
// keys and roles on every endpoint, cross-site requests, deep and wide JSON,
// connection caps and slow clients, and what error bodies may reveal.
#include "pg/engine_harness.hpp"
#include "support/fake_sink_server.hpp"
#include "support/json_probe.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <thread>

using namespace txrelay;
using namespace txrelay::testing;

namespace {

const std::string producer_key = "producer-key-0123456789";
const std::string reader_key = "reader-key-0123456789ab";
const std::string admin_key = "admin-key-0123456789abc";

std::string secured_yaml(const std::string& sink_url, const std::string& extra = "") {
  return "auth:\n"
         "  keys:\n"
         "    - {name: orders-service, role: producer, key: \"" + producer_key + "\"}\n"
         "    - {name: dashboards, role: reader, key: \"" + reader_key + "\"}\n"
         "    - {name: ops, role: admin, key: \"" + admin_key + "\"}\n"
         "sinks:\n"
         "  - name: hook\n"
         "    kind: webhook\n"
         "    url: \"" + sink_url + "\"\n"
         "routes:\n"
         "  - topic: feedback\n"
         "    sinks: [hook]\n"
         "topics:\n"
         "  feedback:\n"
         "    payload:\n"
         "      content: {type: string, required: true}\n" + extra;
}

http::header_list bearer(const std::string& key) { return {{"Authorization", "Bearer " + key}}; }


class security_pgtest : public ::testing::Test {
protected:
  void SetUp() override {
    TXRELAY_REQUIRE_DATABASE();
    db = std::make_unique<test_database>();
  }
  std::unique_ptr<test_database> db;
};

TEST_F(security_pgtest, every_endpoint_answers_each_role_as_its_permissions_say) {
  fake_sink_server sink;
  engine_harness e{*db, secured_yaml(sink.url())};
  auto made = post_json(e.port(), "/v1/events", R"({"topic":"feedback","payload":{"content":"hi"}})",
                        bearer(producer_key));
  ASSERT_EQ(made.status, 201) << made.body;
  auto id = *json_string_at(made.body, "/id");

  struct row {
    std::string method, target, body;
    int none, producer, reader, admin;
  };
  const std::string event = R"({"topic":"feedback","payload":{"content":"hi"}})";
  const std::vector<row> table = {
    {"GET", "/healthz", "", 200, 200, 200, 200},
    {"POST", "/v1/events", event, 401, 201, 403, 201},
    {"POST", "/v1/events:batch", "{\"events\":[" + event + "]}", 401, 201, 403, 201},
    {"GET", "/v1/events/" + id, "", 401, 200, 200, 200}, // the producer posted it
    {"GET", "/metrics", "", 401, 403, 200, 200},
    {"GET", "/v1/sinks", "", 401, 403, 200, 200},
    {"GET", "/v1/sinks/hook/dead", "", 401, 403, 200, 200},
    {"GET", "/v1/events?limit=1", "", 401, 403, 200, 200},
    {"GET", "/v1/whoami", "", 401, 200, 200, 200},
    {"POST", "/v1/sinks/hook/pause", "", 401, 403, 403, 200},
    {"POST", "/v1/sinks/hook/resume", "", 401, 403, 403, 200},
    {"POST", "/v1/sinks/hook/replay", "", 401, 403, 403, 200},
    {"POST", "/v1/events/" + id + "/replay", "", 401, 403, 403, 200},
    {"GET", "/v1/unknown", "", 401, 403, 404, 404},
  };
  for (const auto& r : table) {
    for (auto [key, expected] : {std::pair<std::string, int>{"", r.none}, {producer_key, r.producer},
                                 {reader_key, r.reader}, {admin_key, r.admin}}) {
      SCOPED_TRACE(r.method + " " + r.target + " as " + (key.empty() ? "nobody" : key));
      http::header_list headers = {{"content-type", "application/json"}};
      if (!key.empty())
        headers.emplace_back("Authorization", "Bearer " + key);
      auto res = http_call(e.port(), r.method, r.target, r.body, headers);
      EXPECT_EQ(res.status, expected) << res.body;
      if (res.status == 401) {
        EXPECT_EQ(res.header("www-authenticate"), "Bearer");
        EXPECT_EQ(json_string_at(res.body, "/error/code"), "unauthorized");
      } else if (res.status == 403) {
        EXPECT_EQ(json_string_at(res.body, "/error/code"), "forbidden");
      }
    }
  }
  // A producer reads back its own events only: another key's is not found.
  auto others = post_json(e.port(), "/v1/events", R"({"topic":"feedback","payload":{"content":"ops"}})",
                          bearer(admin_key));
  ASSERT_EQ(others.status, 201);
  auto other_id = *json_string_at(others.body, "/id");
  EXPECT_EQ(http_call(e.port(), "GET", "/v1/events/" + other_id, "", bearer(producer_key)).status, 404);
  EXPECT_EQ(http_call(e.port(), "GET", "/v1/events/" + other_id, "", bearer(reader_key)).status, 200);
  // A producer's receipt leaves out the attempt history: it holds the sinks' answers.
  auto receipt = http_call(e.port(), "GET", "/v1/events/" + id, "", bearer(producer_key)).body;
  EXPECT_EQ(receipt.find("attempt_history"), std::string::npos) << receipt;
  EXPECT_NE(http_call(e.port(), "GET", "/v1/events/" + id, "", bearer(reader_key)).body.find("attempt_history"),
            std::string::npos);
  // Each key learns its own role, and only its own.
  auto me = http_call(e.port(), "GET", "/v1/whoami", "", bearer(reader_key)).body;
  EXPECT_EQ(json_string_at(me, "/role"), "reader") << me;
  EXPECT_EQ(json_string_at(me, "/name"), "dashboards") << me;
  // An unknown key, a key in the wrong scheme, and a key with a byte changed.
  for (const auto& auth : std::vector<std::string>{"Bearer not-a-key-at-all-000000", "Basic " + admin_key,
                                                   "Bearer " + admin_key.substr(0, admin_key.size() - 1) + "x",
                                                   "Bearer "}) {
    auto res = http_call(e.port(), "GET", "/metrics", "", {{"Authorization", auth}});
    EXPECT_EQ(res.status, 401) << auth;
  }
  // No response or metric ever carries a key.
  auto metrics = http_call(e.port(), "GET", "/metrics", "", bearer(reader_key)).body;
  auto sinks = http_call(e.port(), "GET", "/v1/sinks", "", bearer(reader_key)).body;
  for (const auto& key : {producer_key, reader_key, admin_key}) {
    EXPECT_EQ(metrics.find(key), std::string::npos);
    EXPECT_EQ(sinks.find(key), std::string::npos);
  }
}

TEST_F(security_pgtest, a_form_posted_from_another_site_cannot_change_anything) {
  fake_sink_server sink;
  engine_harness e{*db, secured_yaml(sink.url(), "server: {allowed_hosts: [localhost, 127.0.0.1]}\n")};
  // What an HTML form can send: urlencoded, multipart or text/plain bodies.
  for (const auto* type : {"application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain"}) {
    for (const auto* target : {"/v1/sinks/hook/pause", "/v1/sinks/hook/replay", "/v1/events"}) {
      SCOPED_TRACE(std::string{type} + " " + target);
      auto res = http_call(e.port(), "POST", target, "a=b", {{"content-type", type}, {"Authorization", "Bearer " + admin_key}});
      EXPECT_EQ(res.status, 415) << res.body;
    }
  }
  auto paused = http_call(e.port(), "GET", "/v1/sinks", "", bearer(admin_key));
  EXPECT_EQ(json_raw_at(paused.body, "/sinks/0/paused"), "false");
  // DNS rebinding: a hostile name that resolves to 127.0.0.1 still names itself in Host.
  auto rebound = http_call(e.port(), "GET", "/healthz", "", {{"Host", "attacker.example:8080"}});
  EXPECT_EQ(rebound.status, 421) << rebound.body;
  EXPECT_EQ(json_string_at(rebound.body, "/error/code"), "host_not_allowed");
  EXPECT_EQ(http_call(e.port(), "GET", "/healthz", "", {{"Host", "LOCALHOST:1234"}}).status, 200);
}

/// A payload nested `depth` levels, each level an object of `width` keys
/// with the next level under its first key: the shape that once doubled the
/// duplicate-key check's work at every level.
std::string crafted_payload(int depth, int width) {
  std::string open, close;
  for (int d = 0; d < depth; ++d) {
    open += "{\"k0\":";
    std::string rest;
    for (int w = 1; w < width; ++w)
      rest += ",\"k" + std::to_string(w) + "\":" + std::to_string(w);
    close = rest + "}" + close;
  }
  return open + "1" + close;
}

TEST_F(security_pgtest, deep_and_wide_json_is_answered_quickly_while_healthz_stays_fast) {
  fake_sink_server sink;
  engine_harness e{*db, secured_yaml(sink.url())};
  auto post = [&](const std::string& payload) {
    return post_json(e.port(), "/v1/events", R"({"topic":"feedback","payload":)" + payload + "}", bearer(producer_key));
  };
  // 62 levels of 32 keys (8 KB): accepted, in time linear in its size.
  auto t0 = std::chrono::steady_clock::now();
  auto crafted = post(R"({"content":"x","nested":)" + crafted_payload(61, 32) + "}");
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(crafted.status, 201) << crafted.body.substr(0, 300);
  EXPECT_LT(took, std::chrono::seconds{2}) << "a crafted 8 KB payload took this long";
  // Deeper than server.max_json_depth (64 for the whole body): a clear 400.
  auto deep = post(R"({"content":"x","nested":)" + std::string(100, '[') + std::string(100, ']') + "}");
  EXPECT_EQ(deep.status, 400) << deep.body;
  EXPECT_EQ(json_string_at(deep.body, "/error/code"), "nesting_too_deep");

  // The heaviest request allowed: a body just under max_body_bytes of
  // 20,000 keys, checked against the topic's schema, sent by several
  // clients at once. /healthz answers within 100 ms meanwhile.
  std::string wide = R"({"content":"x")";
  for (int i = 0; wide.size() < (1 << 20) - 2000; ++i)
    wide += ",\"field_" + std::to_string(i) + "\":[" + std::to_string(i) + ",\"" + std::string(20, 'v') + "\"]";
  wide += "}";
  std::atomic<bool> done{false};
  std::vector<std::thread> heavy;
  std::atomic<int> heavy_ok{0};
  for (int c = 0; c < 3; ++c)
    heavy.emplace_back([&] {
      while (!done.load())
        if (post(wide).status == 201)
          heavy_ok.fetch_add(1);
    });
  std::chrono::steady_clock::duration slowest{};
  for (int i = 0; i < 30; ++i) {
    auto start = std::chrono::steady_clock::now();
    auto health = http_call(e.port(), "GET", "/healthz");
    slowest = std::max(slowest, std::chrono::steady_clock::now() - start);
    EXPECT_EQ(health.status, 200);
  }
  done.store(true);
  for (auto& t : heavy)
    t.join();
  EXPECT_GT(heavy_ok.load(), 0);
  // A /healthz queued behind the heavy bodies' parsing would wait for
  // several of them; the bound leaves room for a loaded machine.
  EXPECT_LT(slowest, std::chrono::milliseconds{500})
    << std::chrono::duration_cast<std::chrono::milliseconds>(slowest).count() << " ms";
}

TEST_F(security_pgtest, connections_beyond_the_cap_are_refused_with_an_answer) {
  fake_sink_server sink;
  engine_harness e{*db, secured_yaml(sink.url(), "server: {max_connections: 4}\n")};
  std::vector<std::unique_ptr<http_test_connection>> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(std::make_unique<http_test_connection>(e.port()));
    ASSERT_EQ(held.back()->call("GET", "/healthz").status, 200); // open, and counted
  }
  auto refused = http_call(e.port(), "GET", "/healthz");
  EXPECT_EQ(refused.status, 503);
  EXPECT_EQ(json_string_at(refused.body, "/error/code"), "too_many_connections");
  held.clear(); // closing frees their places, as soon as the server has seen them close
  int refusals = 1;
  EXPECT_TRUE(eventually([&] {
    auto status = http_call(e.port(), "GET", "/healthz").status;
    refusals += status != 200 ? 1 : 0; // 503, or a reset if the close overtook the answer
    return status == 200;
  }));
  auto metrics = http_call(e.port(), "GET", "/metrics", "", bearer(reader_key)).body;
  EXPECT_NE(metrics.find("txrelay_http_connections_refused_total " + std::to_string(refusals) + "\n"),
            std::string::npos)
    << refusals << " refusals seen\n" << metrics;
}

TEST_F(security_pgtest, a_client_sending_byte_by_byte_is_closed_after_the_read_deadline) {
  fake_sink_server sink;
  engine_harness e{*db, secured_yaml(sink.url(), "server: {read_timeout: 300ms}\n")};
  http_test_connection slow{e.port()};
  ASSERT_TRUE(slow.connected());
  const std::string request = "POST /v1/events HTTP/1.1\r\nHost: localhost\r\nX-Padding: " + std::string(200, 'p');
  auto start = std::chrono::steady_clock::now();
  bool closed = false;
  for (char c : request) {
    if (!slow.send_raw(std::string_view{&c, 1})) {
      closed = true;
      break;
    }
    // Another client is served meanwhile.
    if (std::chrono::steady_clock::now() - start > std::chrono::seconds{3})
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds{20}); // the attacker's pace, not a wait for txrelay
  }
  EXPECT_TRUE(closed || slow.closed_by_peer()) << "the slow client was still connected";
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds{3});
  EXPECT_EQ(http_call(e.port(), "GET", "/healthz").status, 200);
  auto metrics = http_call(e.port(), "GET", "/metrics", "", bearer(reader_key)).body;
  EXPECT_NE(metrics.find("txrelay_http_read_timeouts_total 1\n"), std::string::npos) << metrics;
}

TEST_F(security_pgtest, ingest_beyond_the_queue_bound_is_answered_503_with_retry_after) {
  fake_sink_server sink;
  engine_harness e{*db, secured_yaml(sink.url(), "server: {max_queued_events: 1000}\n")};
  // An outside transaction holds two Idempotency-Keys: a request with either
  // waits on the unique index, and with it the writer that took it.
  auto outside = pg::connection::open(db->url());
  ASSERT_TRUE(outside);
  ASSERT_TRUE(outside->exec("BEGIN"));
  ASSERT_TRUE(outside->exec("INSERT INTO txrelay.events (id, topic, payload, idempotency_key, created_at) VALUES "
                            "(gen_random_uuid(), 'feedback', '{}', 'held-1', now()), "
                            "(gen_random_uuid(), 'feedback', '{}', 'held-2', now())"));
  const std::string event = R"({"topic":"feedback","payload":{"content":"hi"}})";
  std::vector<std::thread> stuck;
  std::vector<int> stuck_status(3, 0);
  auto post_keyed = [&](int i, const std::string& key) {
    auto headers = bearer(producer_key);
    headers.emplace_back("Idempotency-Key", key);
    stuck_status[i] = post_json(e.port(), "/v1/events", event, headers).status;
  };
  // Whatever an assertion below does, the held keys are released and the
  // clients joined (a joinable thread at scope exit would abort the run).
  struct release_all {
    std::optional<pg::connection>& outside;
    std::vector<std::thread>& threads;
    ~release_all() {
      if (outside && outside->healthy())
        outside->exec("ROLLBACK");
      for (auto& t : threads)
        if (t.joinable())
          t.join();
    }
  };
  std::optional<pg::connection> held{std::move(*outside)};
  release_all guard{held, stuck};
  // This database's sessions only: other tests run beside this one.
  auto waiting = [&](const char* n) {
    return eventually([&] {
      return db->scalar("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND datname = current_database()") == n;
    });
  };
  // One after the other: sent together, the two requests could share a
  // group, and so a single writer.
  stuck.emplace_back(post_keyed, 0, "held-1");
  ASSERT_TRUE(waiting("1")) << "a writer should wait on held-1";
  stuck.emplace_back(post_keyed, 1, "held-2");
  ASSERT_TRUE(waiting("2")) << "both writers should wait on the held keys";
  // Both writers are busy: a batch of 1000 fills the queue...
  std::string batch = "{\"events\":[";
  for (int i = 0; i < 1000; ++i)
    batch += (i ? "," : "") + event;
  batch += "]}";
  stuck.emplace_back([&] { stuck_status[2] = post_json(e.port(), "/v1/events:batch", batch, bearer(producer_key)).status; });
  ASSERT_TRUE(eventually([&] {
    auto m = http_call(e.port(), "GET", "/metrics", "", bearer(reader_key)).body;
    return m.find("txrelay_ingest_queued_events 1000\n") != std::string::npos;
  }));
  // ...and the next request is answered at once, not queued.
  auto refused = post_json(e.port(), "/v1/events", event, bearer(producer_key));
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_EQ(json_string_at(refused.body, "/error/code"), "overloaded");
  EXPECT_EQ(refused.header("retry-after"), "1");
  auto metrics = http_call(e.port(), "GET", "/metrics", "", bearer(reader_key)).body;
  EXPECT_NE(metrics.find("txrelay_ingest_overloaded_total 1\n"), std::string::npos) << metrics;

  ASSERT_TRUE(held->exec("ROLLBACK")); // the keys are free: everything queued commits
  for (auto& t : stuck)
    t.join();
  EXPECT_EQ(stuck_status, (std::vector<int>{201, 201, 201}));
  EXPECT_EQ(post_json(e.port(), "/v1/events", event, bearer(producer_key)).status, 201);
}

TEST_F(security_pgtest, error_bodies_carry_no_database_internals) {
  fake_sink_server sink;
  engine_harness e{*db, secured_yaml(sink.url())};
  ASSERT_EQ(http_call(e.port(), "GET", "/healthz").status, 200);
  auto name = db->name();
  db->drop(); // the database is gone: every connection fails, naming host, port, user and database
  auto health = http_call(e.port(), "GET", "/healthz");
  EXPECT_EQ(health.status, 503);
  auto post = post_json(e.port(), "/v1/events", R"({"topic":"feedback","payload":{"content":"hi"}})",
                        bearer(producer_key));
  EXPECT_EQ(post.status, 503) << post.body;
  EXPECT_EQ(post.header("retry-after"), "1");
  auto read = http_call(e.port(), "GET", "/v1/events/01a22ebc-bcfa-7862-8d86-6010500afa53", "", bearer(reader_key));
  for (const auto* body : {&health.body, &post.body, &read.body}) {
    SCOPED_TRACE(*body);
    for (const auto* leak : {"127.0.0.1", "5432", "postgres", "FATAL", "DETAIL", "connection to server"})
      EXPECT_EQ(body->find(leak), std::string::npos) << leak;
    EXPECT_EQ(body->find(name), std::string::npos);
  }
}

TEST_F(security_pgtest, a_repeated_idempotency_key_with_a_different_request_is_refused) {
  fake_sink_server sink;
  engine_harness e{*db, secured_yaml(sink.url())};
  auto post = [&](const std::string& target, const std::string& body, const std::string& key) {
    auto headers = bearer(producer_key);
    headers.emplace_back("Idempotency-Key", key);
    return post_json(e.port(), target, body, headers);
  };
  auto first = post("/v1/events", R"({"topic":"feedback","key":"u1","payload":{"content":"hi","n":1}})", "k1");
  ASSERT_EQ(first.status, 201) << first.body;
  // The same request again, spaced and ordered differently: the first answer.
  auto same = post("/v1/events", R"({"payload": {"n": 1, "content": "hi"}, "key": "u1", "topic": "feedback"})", "k1");
  EXPECT_EQ(same.status, 200) << same.body;
  EXPECT_EQ(json_string_at(same.body, "/id"), json_string_at(first.body, "/id"));
  for (const auto* other : {R"({"topic":"feedback","key":"u1","payload":{"content":"hi","n":2}})",
                            R"({"topic":"feedback","key":"u2","payload":{"content":"hi","n":1}})",
                            R"({"topic":"feedback","payload":{"content":"hi","n":1}})"}) {
    auto res = post("/v1/events", other, "k1");
    EXPECT_EQ(res.status, 422) << other << " " << res.body;
    EXPECT_EQ(json_string_at(res.body, "/error/code"), "idempotency_key_reused") << res.body;
  }

  const std::string a = R"({"topic":"feedback","payload":{"content":"a"}})";
  const std::string b = R"({"topic":"feedback","payload":{"content":"b"}})";
  auto batch = [&](const std::vector<std::string>& events) {
    std::string body = "{\"events\":[";
    for (std::size_t i = 0; i < events.size(); ++i)
      body += (i ? "," : "") + events[i];
    return post("/v1/events:batch", body + "]}", "batch-1");
  };
  ASSERT_EQ(batch({a, b}).status, 201);
  EXPECT_EQ(batch({a, b}).status, 200);
  for (const auto& other : std::vector<std::vector<std::string>>{{a, b, a}, {a}, {a, a}, {b, a}}) {
    auto res = batch(other);
    EXPECT_EQ(res.status, 422) << res.body;
    EXPECT_EQ(json_string_at(res.body, "/error/code"), "idempotency_key_reused") << res.body;
  }
  // Nothing of the refused requests was stored.
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.events"), "3");
}

} // namespace
