#include "support/child_process.hpp"

#include <csignal>
#include <cstring>
#include <stdexcept>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace txrelay::testing {

child_process::child_process(std::vector<std::string> argv) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string{"pipe: "} + std::strerror(errno));
  std::vector<char*> args;
  for (auto& a : argv)
    args.push_back(a.data());
  args.push_back(nullptr);
  pid_ = fork();
  if (pid_ < 0)
    throw std::runtime_error(std::string{"fork: "} + std::strerror(errno));
  if (pid_ == 0) {
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    execv(args[0], args.data());
    _exit(127);
  }
  close(fds[1]);
  reader_ = std::thread{[this, fd = fds[0]] { read_output(fd); }};
}

child_process::~child_process() {
  if (!reaped_) {
    ::kill(pid_, SIGKILL);
    wait();
  }
  if (reader_.joinable())
    reader_.join();
}

void child_process::read_output(int fd) {
  std::string partial;
  char buf[4096];
  for (;;) {
    auto n = read(fd, buf, sizeof buf);
    if (n <= 0)
      break;
    partial.append(buf, static_cast<std::size_t>(n));
    std::size_t pos;
    while ((pos = partial.find('\n')) != std::string::npos) {
      std::lock_guard guard{mutex_};
      lines_.push_back(partial.substr(0, pos));
      partial.erase(0, pos + 1);
      changed_.notify_all();
    }
  }
  close(fd);
  std::lock_guard guard{mutex_};
  if (!partial.empty())
    lines_.push_back(partial);
  eof_ = true;
  changed_.notify_all();
}

std::optional<std::string> child_process::wait_for_line(const std::string& text, std::chrono::milliseconds timeout) {
  std::unique_lock lock{mutex_};
  std::optional<std::string> found;
  changed_.wait_for(lock, timeout, [&] {
    for (const auto& l : lines_)
      if (l.find(text) != std::string::npos) {
        found = l;
        return true;
      }
    return eof_;
  });
  return found;
}

std::vector<std::string> child_process::lines() const {
  std::lock_guard guard{mutex_};
  return lines_;
}

void child_process::kill(int signal) {
  if (!reaped_)
    ::kill(pid_, signal);
}

int child_process::wait() {
  if (!reaped_) {
    waitpid(pid_, &status_, 0);
    reaped_ = true;
  }
  return status_;
}

} // namespace txrelay::testing
