#pragma once
// An env_lookup over a fixed map: config tests never read the real environment.
#include "config/config.hpp"

#include <map>
#include <string>

namespace txrelay::testing {

inline env_lookup env_map(std::map<std::string, std::string> vars = {}) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end())
      return std::nullopt;
    return it->second;
  };
}

} // namespace txrelay::testing
