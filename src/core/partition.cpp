#include "core/partition.hpp"

#include <openssl/evp.h>

#include <cstdint>

#include <algorithm>

namespace txrelay {

std::string partition_name(const std::string& sink, int index) { return sink + "." + std::to_string(index); }

bool is_instance_of(std::string_view instance, std::string_view sink) {
  if (instance.size() <= sink.size())
    return instance == sink;
  if (instance.substr(0, sink.size()) != sink || instance[sink.size()] != '.' || instance.size() == sink.size() + 1)
    return false;
  auto index = instance.substr(sink.size() + 1);
  return std::all_of(index.begin(), index.end(), [](char c) { return c >= '0' && c <= '9'; });
}

int partition_for(std::string_view key, int partitions) {
  if (partitions <= 1)
    return 0;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(key.data(), key.size(), digest, &size, EVP_md5(), nullptr);
  std::uint32_t head = (std::uint32_t{digest[0]} << 24) | (std::uint32_t{digest[1]} << 16) |
                       (std::uint32_t{digest[2]} << 8) | std::uint32_t{digest[3]};
  return static_cast<int>(head % static_cast<std::uint32_t>(partitions));
}

} // namespace txrelay
