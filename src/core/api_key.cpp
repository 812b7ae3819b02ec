#include "core/api_key.hpp"

#include "core/hex.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>

namespace txrelay {

const char* to_string(api_role r) {
  switch (r) {
    case api_role::producer: return "producer";
    case api_role::reader: return "reader";
    case api_role::admin: return "admin";
  }
  return "reader";
}

std::optional<api_role> parse_api_role(std::string_view text) {
  if (text == "producer")
    return api_role::producer;
  if (text == "reader")
    return api_role::reader;
  if (text == "admin")
    return api_role::admin;
  return std::nullopt;
}

key_digest sha256_of(std::string_view key) {
  key_digest d{};
  SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), d.data());
  return d;
}

std::optional<key_digest> parse_key_digest(std::string_view hex) {
  if (hex.size() != 64)
    return std::nullopt;
  key_digest d{};
  for (std::size_t i = 0; i < d.size(); ++i) {
    int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return std::nullopt;
    d[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return d;
}

const api_key* api_key_set::authenticate(std::string_view header) const {
  // "Bearer" is case-insensitive (RFC 9110 auth-scheme); one space, then the key.
  constexpr std::string_view scheme = "bearer ";
  if (header.size() <= scheme.size())
    return nullptr;
  for (std::size_t i = 0; i < scheme.size(); ++i)
    if (static_cast<char>(header[i] | 0x20) != scheme[i])
      return nullptr;
  auto presented = sha256_of(header.substr(scheme.size()));
  const api_key* found = nullptr;
  for (const auto& key : keys_) // every key, no early exit
    if (CRYPTO_memcmp(presented.data(), key.digest.data(), presented.size()) == 0)
      found = &key;
  return found;
}

} // namespace txrelay
