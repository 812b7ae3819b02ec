#pragma once
// API keys and what they may do. A key is kept only as its SHA-256 (the
// config may hold the key or its hash), so the key itself is never stored,
// logged or compared as text.
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace txrelay {

/// What a key may do. producer: post events (and read the answers to its
/// own posts); reader: every GET, /metrics included; admin: everything.
enum class api_role { producer, reader, admin };

const char* to_string(api_role r);
std::optional<api_role> parse_api_role(std::string_view text);

using key_digest = std::array<unsigned char, 32>;

key_digest sha256_of(std::string_view key);

/// 64 hex digits (either case) as a digest, or nothing.
std::optional<key_digest> parse_key_digest(std::string_view hex);

struct api_key {
  std::string name; // logged with admin actions; never the key
  api_role role = api_role::reader;
  key_digest digest{};
};

/// The configured keys. Checking a presented key hashes it and compares the
/// digest with every configured one in constant time, whatever matches: the
/// time taken says nothing about which key, or which prefix, was close.
class api_key_set {
public:
  api_key_set() = default;
  explicit api_key_set(std::vector<api_key> keys) : keys_(std::move(keys)) {}

  bool empty() const noexcept { return keys_.empty(); }

  /// The key an `Authorization: Bearer <key>` header value carries, if it
  /// is one of ours.
  const api_key* authenticate(std::string_view authorization_header) const;

private:
  std::vector<api_key> keys_;
};

} // namespace txrelay
