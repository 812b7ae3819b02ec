// PostgreSQL as a sink (scenarios 2 and 5): sql projections applied exactly
// once across retries and concurrency, in_transaction statements that refuse
// the event when they fail, and on_dead compensation events.
#include "pg/engine_harness.hpp"
#include "sinks/sink_transport.hpp"
#include "support/json_probe.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <random>
#include <thread>

using namespace txrelay;
using namespace txrelay::testing;

namespace {

class projection_pgtest : public ::testing::Test {
protected:
  void SetUp() override {
    TXRELAY_REQUIRE_DATABASE();
    db = std::make_unique<test_database>();
  }

  long long count(const std::string& sql) const { return std::stoll(db->scalar(sql)); }

  bool all_finished() const {
    return count("SELECT count(*) FROM txrelay.delivery_status WHERE status = 'pending'") == 0;
  }

  std::unique_ptr<test_database> db;
};

// Reports a lost reply after some attempts that did apply, and a transient
// failure before others: a sink that says "maybe" must still apply each
// event exactly once.
class unreliable_reply final : public sink_transport {
public:
  explicit unreliable_reply(std::shared_ptr<sink_transport> inner) : inner_(std::move(inner)) {}
  void attempt(const delivery_job& job, attempt_callback done) override {
    auto n = calls_.fetch_add(1);
    if (n % 5 == 4) { // fails before reaching the database
      attempt_result r;
      r.error = "connection reset (injected)";
      return done(r);
    }
    inner_->attempt(job, [n, done = std::move(done)](attempt_result r) {
      if (n % 3 == 2 && r.outcome == attempt_result::verdict::delivered) {
        r.outcome = attempt_result::verdict::retry; // applied, but the reply was lost
        r.error = "reply lost (injected)";
      }
      done(std::move(r));
    });
  }

private:
  std::shared_ptr<sink_transport> inner_;
  std::atomic<int> calls_{0};
};

/// A config from config/examples/: the tests run the very files users copy.
std::string example(const std::string& name) {
  std::ifstream in{std::string{TXRELAY_SOURCE_DIR} + "/config/examples/" + name};
  std::stringstream text;
  text << in.rdbuf();
  if (text.str().empty())
    throw std::runtime_error("cannot read config/examples/" + name);
  return text.str();
}

// Scenario 2: concurrent create/update/delete events; the aggregates equal
// the truth exactly, though a third of the successful attempts "lose" their
// reply and are retried.
TEST_F(projection_pgtest, aggregates_are_exact_under_concurrency_and_retries) {
  db->query("CREATE TABLE restaurants (id bigint PRIMARY KEY, review_count int NOT NULL DEFAULT 0, "
            "rating_sum int NOT NULL DEFAULT 0)");
  db->query("INSERT INTO restaurants (id) SELECT g FROM generate_series(1, 5) g");
  engine_harness e{*db, example("2-reviews.yaml"), [](const sink_config&, std::shared_ptr<sink_transport> t) {
                     return std::make_shared<unreliable_reply>(std::move(t));
                   }};

  constexpr int clients = 4;
  constexpr int reviews_per_client = 40;
  std::vector<long long> truth_count(6, 0), truth_sum(6, 0);
  std::mutex truth_mutex;
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      std::mt19937 rng(1000 + c);
      for (int r = 0; r < reviews_per_client; ++r) {
        int restaurant = 1 + static_cast<int>(rng() % 5);
        int rating = 1 + static_cast<int>(rng() % 5);
        auto post = [&](const std::string& topic, const std::string& payload) {
          auto res = e.post_event(R"({"topic":")" + topic + R"(","payload":)" + payload + "}");
          if (res.status != 201)
            refused++;
        };
        auto id = std::to_string(restaurant);
        post("review.created", R"({"restaurant_id":)" + id + R"(,"rating":)" + std::to_string(rating) + "}");
        long long count_delta = 1, sum_delta = rating;
        if (rng() % 2 == 0) { // the rating changes by a gap
          int new_rating = 1 + static_cast<int>(rng() % 5);
          post("review.updated", R"({"restaurant_id":)" + id + R"(,"old_rating":)" + std::to_string(rating) +
                                   R"(,"new_rating":)" + std::to_string(new_rating) + "}");
          sum_delta += new_rating - rating;
          rating = new_rating;
        }
        if (rng() % 3 == 0) {
          post("review.deleted", R"({"restaurant_id":)" + id + R"(,"rating":)" + std::to_string(rating) + "}");
          count_delta -= 1;
          sum_delta -= rating;
        }
        std::lock_guard lock{truth_mutex};
        truth_count[restaurant] += count_delta;
        truth_sum[restaurant] += sum_delta;
      }
    });
  }
  for (auto& t : threads)
    t.join();
  ASSERT_EQ(refused.load(), 0);
  ASSERT_TRUE(eventually([&] { return all_finished(); }, std::chrono::seconds{60}));
  EXPECT_EQ(count("SELECT count(*) FROM txrelay.delivery_status WHERE status = 'dead'"), 0);
  EXPECT_GT(count("SELECT count(*) FROM txrelay.delivery_status WHERE attempts > 1"), 0); // retries did happen
  for (int r = 1; r <= 5; ++r) {
    auto row = db->query("SELECT review_count, rating_sum FROM restaurants WHERE id = " + std::to_string(r));
    EXPECT_EQ(std::stoll(row[0][0]), truth_count[r]) << "restaurant " << r;
    EXPECT_EQ(std::stoll(row[0][1]), truth_sum[r]) << "restaurant " << r;
  }
}

// Scenario 5: the profile cannot be created (a constraint violation), so the
// delivery dies and its compensation event deletes the user.
TEST_F(projection_pgtest, a_dead_projection_publishes_its_compensation_event) {
  db->query("CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, name text NOT NULL)");
  db->query("CREATE TABLE profiles (user_id bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE, "
            "email text NOT NULL CHECK (email LIKE '%@%'), name text NOT NULL)");
  db->query("INSERT INTO users VALUES (1, 'ada@example.com', 'Ada'), (2, 'not-an-email', 'Bo')");
  engine_harness e{*db, example("5-signup.yaml")};

  auto good = e.post_event(
    R"({"topic":"user.registered","key":"user-1","payload":{"user_id":1,"email":"ada@example.com","name":"Ada"}})");
  ASSERT_EQ(good.status, 201) << good.body;
  auto bad = e.post_event(
    R"({"topic":"user.registered","key":"user-2","payload":{"user_id":2,"email":"not-an-email","name":"Bo"}})");
  ASSERT_EQ(bad.status, 201) << bad.body;

  ASSERT_TRUE(eventually([&] { return count("SELECT count(*) FROM users WHERE id = 2") == 0; }));
  ASSERT_TRUE(eventually([&] { return count("SELECT count(*) FROM profiles WHERE user_id = 1") == 1; }));
  EXPECT_EQ(count("SELECT count(*) FROM users WHERE id = 1"), 1);

  // The dead delivery says why; the compensation event is an ordinary, stored event.
  auto bad_id = json_string_at(bad.body, "/id").value_or("");
  auto dead = db->query("SELECT status, attempts, last_error, id FROM txrelay.delivery_status WHERE event_id = '" + bad_id + "'");
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0][0], "dead");
  EXPECT_EQ(dead[0][1], "1"); // a check violation is permanent: no retry
  EXPECT_NE(dead[0][2].find("23514"), std::string::npos) << dead[0][2];
  auto comp = db->query("SELECT key, payload->>'user_id', jsonb_typeof(payload->'user_id'), payload->>'reason', "
                        "payload->>'failed_delivery', idempotency_key FROM txrelay.events WHERE topic = 'user.save_failed'");
  ASSERT_EQ(comp.size(), 1u);
  EXPECT_EQ(comp[0][0], "user-2");
  EXPECT_EQ(comp[0][1], "2");
  EXPECT_EQ(comp[0][2], "number"); // a sole {{ path }} keeps the value's type
  EXPECT_NE(comp[0][3].find("23514"), std::string::npos);
  EXPECT_EQ(comp[0][4], dead[0][3]);
  EXPECT_EQ(comp[0][5], "on_dead:" + dead[0][3]);
  ASSERT_TRUE(eventually([&] { return all_finished(); }));
  EXPECT_EQ(count("SELECT count(*) FROM txrelay.delivery_status WHERE sink = 'delete-user' AND status = 'delivered'"), 1);
}

const std::string in_transaction_yaml = R"(
sinks:
  - name: signup-row
    kind: sql
    phase: in_transaction
    statement: INSERT INTO signups (email, delivery) VALUES (lower($payload.email), $delivery_id::uuid)
  - name: audit
    kind: log
routes:
  - {topic: signup, sinks: [signup-row, audit]}
  - {topic: other, sinks: [audit]}
)";

// Spring's BEFORE_COMMIT: the statement runs in the ingest transaction, so
// its effect is visible when the client gets 201, and its failure refuses
// the event with nothing stored.
TEST_F(projection_pgtest, in_transaction_statements_commit_or_refuse_with_the_event) {
  db->query("CREATE TABLE signups (email text PRIMARY KEY, delivery uuid NOT NULL)");
  engine_harness e{*db, in_transaction_yaml};

  auto first = e.post_event(R"({"topic":"signup","payload":{"email":"Ada@Example.com"}})");
  ASSERT_EQ(first.status, 201) << first.body;
  EXPECT_EQ(count("SELECT count(*) FROM signups WHERE email = 'ada@example.com'"), 1); // already, at 201

  auto duplicate = e.post_event(R"({"topic":"signup","payload":{"email":"ada@example.com"}})");
  EXPECT_EQ(duplicate.status, 422) << duplicate.body;
  EXPECT_EQ(json_string_at(duplicate.body, "/error/code"), "projection_failed");
  EXPECT_NE(json_string_at(duplicate.body, "/error/message").value_or("").find("signup-row"), std::string::npos);
  EXPECT_EQ(count("SELECT count(*) FROM txrelay.events WHERE topic = 'signup'"), 1); // nothing half-written

  // A replayed Idempotency-Key returns the first receipt and runs nothing again.
  auto keyed = e.post_event(R"({"topic":"signup","payload":{"email":"bo@example.com"}})", {{"Idempotency-Key", "k1"}});
  ASSERT_EQ(keyed.status, 201);
  auto replay = e.post_event(R"({"topic":"signup","payload":{"email":"bo@example.com"}})", {{"Idempotency-Key", "k1"}});
  EXPECT_EQ(replay.status, 200) << replay.body;
  EXPECT_EQ(count("SELECT count(*) FROM signups"), 2);

  // The statement saw the delivery's id, as an after_commit one would.
  auto first_id = json_string_at(first.body, "/id").value_or("");
  EXPECT_EQ(db->scalar("SELECT delivery::text FROM signups WHERE email = 'ada@example.com'"),
            db->scalar("SELECT id::text FROM txrelay.delivery_status WHERE event_id = '" + first_id +
                       "' AND sink = 'signup-row'"));

  // Compensation events own the on_dead: key prefix.
  EXPECT_EQ(e.post_event(R"({"topic":"other","payload":{}})", {{"Idempotency-Key", "on_dead:x"}}).status, 400);

  // Events of other topics still go through group commit, unaffected.
  EXPECT_EQ(e.post_event(R"({"topic":"other","payload":{}})").status, 201);

  // The projection is recorded as delivered; only the log sink is sent after commit.
  auto id = json_string_at(first.body, "/id").value_or("");
  ASSERT_TRUE(eventually([&] { return all_finished(); }));
  EXPECT_EQ(db->scalar("SELECT status || ':' || attempts FROM txrelay.delivery_status WHERE event_id = '" + id +
                       "' AND sink = 'signup-row'"),
            "delivered:1");
}

} // namespace
