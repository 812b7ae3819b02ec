#pragma once
// Config files written by tests: one per test process and name, under the
// test's temporary directory.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include <unistd.h>

namespace txrelay::testing {

/// Writes `yaml` to a per-process temporary file named after `name`; returns its path.
inline std::string write_temp_config(const std::string& name, const std::string& yaml) {
  auto path = ::testing::TempDir() + "txrelay-" + name + "-" + std::to_string(::getpid()) + ".yaml";
  std::ofstream{path, std::ios::trunc} << yaml;
  return path;
}

} // namespace txrelay::testing
