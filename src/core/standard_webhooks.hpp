#pragma once
// Standard Webhooks signatures: v1,<base64 HMAC-SHA256("{id}.{ts}.{body}")>.
#include "core/result.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace txrelay {

using secret_key = std::vector<std::uint8_t>;

/// "whsec_" + base64 of 24..64 bytes -> the key bytes; the error names the problem
/// (never the secret itself).
result<secret_key, std::string> decode_webhook_secret(std::string_view secret);

/// "v1,<base64>" for one key.
std::string sign_webhook(const secret_key& key, std::string_view msg_id, std::int64_t timestamp,
                         std::string_view body);

/// Space-separated signatures, one per key (key rotation).
std::string webhook_signature_header(const std::vector<secret_key>& keys, std::string_view msg_id,
                                     std::int64_t timestamp, std::string_view body);

/// True when any "v1,..." entry of `header` matches `key` (what a receiver does).
bool verify_webhook_signature(const secret_key& key, std::string_view msg_id, std::int64_t timestamp,
                              std::string_view body, std::string_view header);

std::string base64_encode(const std::uint8_t* data, std::size_t size);
result<std::vector<std::uint8_t>, std::string> base64_decode(std::string_view text);

} // namespace txrelay
