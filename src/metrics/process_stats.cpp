#include "metrics/process_stats.hpp"

#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

namespace txrelay {

namespace {

/// Seconds since the epoch at which the system booted (/proc/stat btime).
std::optional<long long> boot_time() {
  std::ifstream stat{"/proc/stat"};
  std::string word;
  while (stat >> word)
    if (word == "btime") {
      long long t = 0;
      if (stat >> t)
        return t;
    }
  return std::nullopt;
}

} // namespace

std::optional<process_stats> read_process_stats() try {
  std::ifstream stat{"/proc/self/stat"};
  std::string line;
  if (!std::getline(stat, line))
    return std::nullopt;
  // Fields after the command name (which may hold spaces, in parentheses);
  // numbered as in proc(5): 14 utime, 15 stime, 22 starttime, 24 rss.
  auto close = line.rfind(')');
  if (close == std::string::npos)
    return std::nullopt;
  std::istringstream fields{line.substr(close + 2)};
  std::string field;
  double utime = 0, stime = 0, start_ticks = 0, rss_pages = 0;
  for (int i = 3; fields >> field; ++i) {
    if (i == 14)
      utime = std::stod(field);
    else if (i == 15)
      stime = std::stod(field);
    else if (i == 22)
      start_ticks = std::stod(field);
    else if (i == 24) {
      rss_pages = std::stod(field);
      break;
    }
  }
  const auto ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  process_stats s;
  s.cpu_seconds = (utime + stime) / ticks;
  s.resident_bytes = static_cast<long long>(rss_pages) * sysconf(_SC_PAGESIZE);
  if (auto booted = boot_time())
    s.start_time_seconds = static_cast<double>(*booted) + start_ticks / ticks;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator{"/proc/self/fd", ec}; !ec && it != std::filesystem::directory_iterator{};
       it.increment(ec))
    ++s.open_fds;
  if (s.open_fds > 0)
    --s.open_fds; // the iterator's own descriptor
  return s;
} catch (const std::exception&) { // a /proc line not as proc(5) describes it
  return std::nullopt;
}

} // namespace txrelay
