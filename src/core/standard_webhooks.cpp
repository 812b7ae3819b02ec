#include "core/standard_webhooks.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace txrelay {

std::string base64_encode(const std::uint8_t* data, std::size_t size) {
  std::string out(4 * ((size + 2) / 3), '\0');
  auto n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

result<std::vector<std::uint8_t>, std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0)
    return unexpected{std::string{"base64 length is not a multiple of 4"}};
  // Padding may only close the text: "xx==" or "xxx=", never "xx=x".
  std::size_t padding = 0;
  if (!text.empty() && text.back() == '=')
    padding = text[text.size() - 2] == '=' ? 2 : 1;
  for (std::size_t i = 0; i < text.size() - padding; ++i) {
    char c = text[i];
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
    if (!ok)
      return unexpected{std::string{c == '=' ? "misplaced base64 padding" : "invalid base64 character"}};
  }
  std::vector<std::uint8_t> out(3 * text.size() / 4);
  auto n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                           static_cast<int>(text.size()));
  if (n < 0)
    return unexpected{std::string{"invalid base64"}};
  // EVP_DecodeBlock counts padding as zero bytes.
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}

result<secret_key, std::string> decode_webhook_secret(std::string_view secret) {
  constexpr std::string_view prefix = "whsec_";
  if (secret.substr(0, prefix.size()) != prefix)
    return unexpected{std::string{"a webhook secret must start with \"whsec_\""}};
  auto key = base64_decode(secret.substr(prefix.size()));
  if (!key)
    return unexpected{"the part after \"whsec_\" is not valid base64 (" + key.error() + ")"};
  if (key->size() < 24 || key->size() > 64)
    return unexpected{"the decoded secret is " + std::to_string(key->size()) + " bytes; it must be 24 to 64"};
  return std::move(*key);
}

std::string sign_webhook(const secret_key& key, std::string_view msg_id, std::int64_t timestamp,
                         std::string_view body) {
  std::string content;
  content.reserve(msg_id.size() + body.size() + 24);
  content.append(msg_id);
  content += '.';
  content += std::to_string(timestamp);
  content += '.';
  content.append(body);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(content.data()),
       content.size(), mac, &mac_len);
  return "v1," + base64_encode(mac, mac_len);
}

std::string webhook_signature_header(const std::vector<secret_key>& keys, std::string_view msg_id,
                                     std::int64_t timestamp, std::string_view body) {
  std::string out;
  for (const auto& key : keys) {
    if (!out.empty())
      out += ' ';
    out += sign_webhook(key, msg_id, timestamp, body);
  }
  return out;
}

bool verify_webhook_signature(const secret_key& key, std::string_view msg_id, std::int64_t timestamp,
                              std::string_view body, std::string_view header) {
  auto expected = sign_webhook(key, msg_id, timestamp, body);
  std::size_t pos = 0;
  while (pos < header.size()) {
    auto end = header.find(' ', pos);
    auto entry = header.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    if (entry.size() == expected.size() && CRYPTO_memcmp(entry.data(), expected.data(), expected.size()) == 0)
      return true;
    if (end == std::string_view::npos)
      break;
    pos = end + 1;
  }
  return false;
}

} // namespace txrelay
