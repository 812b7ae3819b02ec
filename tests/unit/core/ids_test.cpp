#include "core/ids.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <set>

namespace txrelay {
namespace {

using namespace std::chrono;

TEST(uuid_v7, has_canonical_lowercase_form) {
  std::mt19937_64 rng{1};
  auto id = new_uuid_v7(time_point{milliseconds{1'700'000'000'123}}, rng);
  ASSERT_EQ(id.size(), 36u);
  EXPECT_TRUE(is_uuid(id));
  for (char c : id)
    EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-') << id;
}

TEST(uuid_v7, carries_version_7_and_variant_10) {
  std::mt19937_64 rng{2};
  for (int i = 0; i < 200; ++i) {
    auto id = new_uuid_v7(time_point{milliseconds{1'700'000'000'000 + i}}, rng);
    EXPECT_EQ(id[14], '7') << id;
    EXPECT_NE(std::string{"89ab"}.find(id[19]), std::string::npos) << id;
  }
}

TEST(uuid_v7, starts_with_the_48_bit_millisecond_timestamp) {
  std::mt19937_64 rng{3};
  // 0x018bcfe56800 ms = 1700000000000.
  auto id = new_uuid_v7(time_point{milliseconds{0x018bcfe56800}}, rng);
  EXPECT_EQ(id.substr(0, 13), "018bcfe5-6800");
}

TEST(uuid_v7, sorts_by_millisecond_across_milliseconds) {
  std::mt19937_64 rng{4};
  std::string previous;
  for (long long ms = 1'700'000'000'000; ms < 1'700'000'000'000 + 300; ++ms) {
    auto id = new_uuid_v7(time_point{milliseconds{ms}}, rng);
    if (!previous.empty()) {
      EXPECT_LT(previous, id);
    }
    previous = id;
  }
}

TEST(uuid_v7, random_bits_differ_within_a_millisecond) {
  std::mt19937_64 rng{5};
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i)
    ids.insert(new_uuid_v7(time_point{milliseconds{1'700'000'000'000}}, rng));
  EXPECT_EQ(ids.size(), 1000u);
}

TEST(uuid_v7, seeded_rng_is_deterministic) {
  std::mt19937_64 a{6}, b{6};
  time_point t{milliseconds{1'700'000'000'000}};
  EXPECT_EQ(new_uuid_v7(t, a), new_uuid_v7(t, b));
}

TEST(is_uuid, accepts_canonical_forms) {
  EXPECT_TRUE(is_uuid("018bcfe5-6800-7abc-8def-0123456789ab"));
  EXPECT_TRUE(is_uuid("018BCFE5-6800-7ABC-8DEF-0123456789AB"));
  EXPECT_TRUE(is_uuid("00000000-0000-0000-0000-000000000000"));
}

TEST(is_uuid, rejects_everything_else) {
  EXPECT_FALSE(is_uuid(""));
  EXPECT_FALSE(is_uuid("018bcfe5-6800-7abc-8def-0123456789a"));   // short
  EXPECT_FALSE(is_uuid("018bcfe5-6800-7abc-8def-0123456789abc")); // long
  EXPECT_FALSE(is_uuid("018bcfe568007abc8def0123456789ab"));      // no dashes
  EXPECT_FALSE(is_uuid("018bcfe5-68007-abc-8def-0123456789ab"));  // dash misplaced
  EXPECT_FALSE(is_uuid("018bcfe5-6800-7abc-8def-0123456789ag"));  // not hex
  EXPECT_FALSE(is_uuid("{18bcfe5-6800-7abc-8def-0123456789a}"));
  EXPECT_FALSE(is_uuid("018bcfe5 6800-7abc-8def-0123456789ab"));
}

TEST(uuid_v7, tells_when_it_was_made) {
  uuid_v7_generator gen{7};
  auto t = time_point{milliseconds{1'763'900'000'123}};
  auto id = gen.next(t);
  EXPECT_EQ(uuid_v7_time(id), t);
  std::string upper = id;
  for (auto& c : upper)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(uuid_v7_time(upper), t);
  EXPECT_EQ(uuid_v7_time("not-a-uuid"), std::nullopt);
  EXPECT_EQ(uuid_v7_time("0189d1f8-7c1a-4b2e-9f00-0123456789ab"), std::nullopt); // version 4
}

} // namespace
} // namespace txrelay

TEST(uuid_v7_generator, ids_strictly_increase_within_a_millisecond_and_when_the_clock_steps_back) {
  txrelay::uuid_v7_generator gen{7};
  auto t = txrelay::time_point{std::chrono::milliseconds{1'700'000'000'000}};
  std::string previous = gen.next(t);
  for (int i = 0; i < 10'000; ++i) { // far more than 4096 per millisecond: borrows ahead
    auto id = gen.next(t);
    ASSERT_TRUE(txrelay::is_uuid(id));
    ASSERT_EQ(id[14], '7');
    ASSERT_GT(id, previous) << i;
    previous = id;
  }
  auto id = gen.next(t - std::chrono::seconds{5}); // the wall clock stepped back
  EXPECT_GT(id, previous);
  previous = id;
  EXPECT_GT(gen.next(t + std::chrono::hours{1}), previous);
}
