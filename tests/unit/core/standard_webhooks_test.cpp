#include "core/standard_webhooks.hpp"

#include <gtest/gtest.h>

namespace txrelay {
namespace {

// The published Standard Webhooks test vector.
constexpr std::string_view vector_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr std::string_view vector_msg_id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr std::int64_t vector_timestamp = 1614265330;
constexpr std::string_view vector_body = R"({"test": 2432232314})";
constexpr std::string_view vector_signature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

secret_key vector_key() {
  auto key = decode_webhook_secret(vector_secret);
  EXPECT_TRUE(key.has_value()) << (key ? "" : key.error());
  return key ? *key : secret_key{};
}

secret_key key_of(std::uint8_t fill, std::size_t n = 32) { return secret_key(n, fill); }

std::string bytes(const std::vector<std::uint8_t>& v) { return {v.begin(), v.end()}; }

TEST(base64, encodes_with_padding) {
  auto enc = [](std::string_view s) { return base64_encode(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()); };
  EXPECT_EQ(enc(""), "");
  EXPECT_EQ(enc("f"), "Zg==");
  EXPECT_EQ(enc("fo"), "Zm8=");
  EXPECT_EQ(enc("foo"), "Zm9v");
  EXPECT_EQ(enc("foobar"), "Zm9vYmFy");
  const std::uint8_t high[] = {0xfb, 0xff, 0xfe};
  EXPECT_EQ(base64_encode(high, 3), "+//+");
}

TEST(base64, decodes_exact_lengths) {
  EXPECT_EQ(bytes(*base64_decode("")), "");
  EXPECT_EQ(bytes(*base64_decode("Zg==")), "f");
  EXPECT_EQ(bytes(*base64_decode("Zm8=")), "fo");
  EXPECT_EQ(bytes(*base64_decode("Zm9v")), "foo");
  EXPECT_EQ(bytes(*base64_decode("Zm9vYmFy")), "foobar");
  EXPECT_EQ(*base64_decode("+//+"), (std::vector<std::uint8_t>{0xfb, 0xff, 0xfe}));
  // Decoding undoes encoding for every length and byte value.
  std::vector<std::uint8_t> data;
  for (int i = 0; i < 70; ++i) {
    auto back = base64_decode(base64_encode(data.data(), data.size()));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, data);
    data.push_back(static_cast<std::uint8_t>(i * 37 + 200));
  }
}

TEST(base64, rejects_malformed_text) {
  EXPECT_FALSE(base64_decode("Zg=").has_value());   // length
  EXPECT_FALSE(base64_decode("Zm9").has_value());   // length
  EXPECT_FALSE(base64_decode("Zm9-").has_value());  // url-safe alphabet
  EXPECT_FALSE(base64_decode("Zm 9").has_value());  // whitespace
  EXPECT_FALSE(base64_decode("Z=9v").has_value());  // padding in the middle
  EXPECT_FALSE(base64_decode("Zm=v").has_value());  // padding before data
  EXPECT_FALSE(base64_decode("Z===").has_value());  // too much padding
  EXPECT_FALSE(base64_decode("====").has_value());
  EXPECT_FALSE(base64_decode("Zg==Zg==").has_value());
}

TEST(decode_webhook_secret, accepts_the_test_vector_secret) {
  EXPECT_EQ(vector_key().size(), 24u);
}

TEST(decode_webhook_secret, requires_the_prefix) {
  auto r = decode_webhook_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().find("whsec_"), std::string::npos);
  EXPECT_EQ(r.error().find("MfKQ9r8"), std::string::npos);
}

TEST(decode_webhook_secret, rejects_bad_base64_without_echoing_it) {
  auto r = decode_webhook_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS!");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().find("base64"), std::string::npos);
  EXPECT_EQ(r.error().find("MfKQ9r8"), std::string::npos);
}

TEST(decode_webhook_secret, enforces_24_to_64_bytes) {
  auto encoded = [](std::size_t n) {
    secret_key k(n, 0x5a);
    return "whsec_" + base64_encode(k.data(), k.size());
  };
  EXPECT_FALSE(decode_webhook_secret(encoded(23)).has_value());
  EXPECT_TRUE(decode_webhook_secret(encoded(24)).has_value());
  EXPECT_TRUE(decode_webhook_secret(encoded(64)).has_value());
  auto too_long = decode_webhook_secret(encoded(65));
  ASSERT_FALSE(too_long.has_value());
  EXPECT_NE(too_long.error().find("65"), std::string::npos);
  EXPECT_FALSE(decode_webhook_secret("whsec_").has_value());
}

TEST(sign_webhook, matches_the_published_test_vector) {
  EXPECT_EQ(sign_webhook(vector_key(), vector_msg_id, vector_timestamp, vector_body), vector_signature);
}

TEST(sign_webhook, depends_on_every_input) {
  auto key = vector_key();
  auto base = sign_webhook(key, vector_msg_id, vector_timestamp, vector_body);
  EXPECT_NE(sign_webhook(key, "msg_other", vector_timestamp, vector_body), base);
  EXPECT_NE(sign_webhook(key, vector_msg_id, vector_timestamp + 1, vector_body), base);
  EXPECT_NE(sign_webhook(key, vector_msg_id, vector_timestamp, R"({"test": 2432232315})"), base);
  EXPECT_NE(sign_webhook(key_of(1), vector_msg_id, vector_timestamp, vector_body), base);
}

TEST(webhook_signature_header, one_entry_per_key_space_separated) {
  auto k1 = vector_key();
  auto k2 = key_of(7);
  auto header = webhook_signature_header({k1, k2}, vector_msg_id, vector_timestamp, vector_body);
  EXPECT_EQ(header, std::string{vector_signature} + " " + sign_webhook(k2, vector_msg_id, vector_timestamp, vector_body));
  EXPECT_EQ(webhook_signature_header({k1}, vector_msg_id, vector_timestamp, vector_body), vector_signature);
  EXPECT_EQ(webhook_signature_header({}, vector_msg_id, vector_timestamp, vector_body), "");
}

TEST(verify_webhook_signature, accepts_any_matching_entry) {
  auto old_key = key_of(1), new_key = key_of(2), other = key_of(3);
  auto header = webhook_signature_header({old_key, new_key}, "msg_1", 1700000000, "{}");
  EXPECT_TRUE(verify_webhook_signature(old_key, "msg_1", 1700000000, "{}", header));
  EXPECT_TRUE(verify_webhook_signature(new_key, "msg_1", 1700000000, "{}", header));
  EXPECT_FALSE(verify_webhook_signature(other, "msg_1", 1700000000, "{}", header));
  EXPECT_TRUE(verify_webhook_signature(vector_key(), vector_msg_id, vector_timestamp, vector_body,
                                       "v1,bogus " + std::string{vector_signature}));
}

TEST(verify_webhook_signature, rejects_tampering) {
  auto key = vector_key();
  EXPECT_FALSE(verify_webhook_signature(key, vector_msg_id, vector_timestamp, R"({"test": 2432232315})", vector_signature));
  EXPECT_FALSE(verify_webhook_signature(key, vector_msg_id, vector_timestamp + 1, vector_body, vector_signature));
  EXPECT_FALSE(verify_webhook_signature(key, "msg_other", vector_timestamp, vector_body, vector_signature));
  EXPECT_FALSE(verify_webhook_signature(key, vector_msg_id, vector_timestamp, vector_body,
                                        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OF="));
  EXPECT_FALSE(verify_webhook_signature(key, vector_msg_id, vector_timestamp, vector_body,
                                        "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));
  EXPECT_FALSE(verify_webhook_signature(key, vector_msg_id, vector_timestamp, vector_body, ""));
  EXPECT_FALSE(verify_webhook_signature(key, vector_msg_id, vector_timestamp, vector_body, "v1,"));
}

} // namespace
} // namespace txrelay
