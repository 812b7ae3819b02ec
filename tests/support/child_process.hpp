#pragma once
// Runs a program (txrelay itself) as a child process for process-level tests:
// its output is captured line by line, and it can be killed like a crash.
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <sys/types.h>

namespace txrelay::testing {

class child_process {
public:
  /// Starts `argv[0]` with `argv`; standard output and error are captured together.
  explicit child_process(std::vector<std::string> argv);
  ~child_process(); // SIGKILL if still running
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  /// The first captured line containing `text`, waiting up to `timeout`.
  std::optional<std::string> wait_for_line(const std::string& text, std::chrono::milliseconds timeout);
  std::vector<std::string> lines() const;

  void kill(int signal);
  /// Waits for the exit; returns the wait status.
  int wait();
  pid_t pid() const { return pid_; }

private:
  void read_output(int fd);

  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> lines_;
  bool eof_ = false;
  std::thread reader_;
};

} // namespace txrelay::testing
