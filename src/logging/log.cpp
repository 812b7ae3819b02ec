#include "logging/log.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <deque>
#include <mutex>
#include <thread>

namespace txrelay::log {

namespace {

struct line {
  bool to_stdout;
  std::string text;
  std::function<void()> written;
};

class writer {
public:
  writer() : thread_([this] { run(); }) {}
  ~writer() {
    {
      std::lock_guard guard{mutex_};
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

  void push(line l) {
    {
      std::lock_guard guard{mutex_};
      queue_.push_back(std::move(l));
      ++pushed_;
    }
    wake_.notify_one();
  }

  void flush() {
    std::unique_lock lock{mutex_};
    auto target = pushed_;
    drained_.wait(lock, [&] { return written_ >= target; });
  }

private:
  void run() {
    std::deque<line> batch;
    for (;;) {
      {
        std::unique_lock lock{mutex_};
        wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty() && stopping_)
          return;
        batch.swap(queue_);
      }
      for (const auto& l : batch) {
        auto* f = l.to_stdout ? stdout : stderr;
        std::fwrite(l.text.data(), 1, l.text.size(), f);
        std::fputc('\n', f);
      }
      std::fflush(stdout);
      std::fflush(stderr);
      for (auto& l : batch)
        if (l.written)
          l.written();
      {
        std::lock_guard guard{mutex_};
        written_ += batch.size();
      }
      batch.clear();
      drained_.notify_all();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable drained_;
  std::deque<line> queue_;
  std::uint64_t pushed_ = 0;
  std::uint64_t written_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

writer& the_writer() {
  static writer w;
  return w;
}

std::atomic<level> threshold{level::info};

const char* name(level l) {
  switch (l) {
    case level::debug: return "DEBUG";
    case level::info: return "INFO";
    case level::warn: return "WARN";
    case level::error: return "ERROR";
  }
  return "?";
}

std::string timestamp() {
  auto now = std::chrono::system_clock::now();
  auto t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

} // namespace

void write(level lvl, std::string_view message) {
  if (lvl < threshold.load(std::memory_order_relaxed))
    return;
  std::string text = timestamp();
  text += ' ';
  text += name(lvl);
  text += ' ';
  text += message;
  the_writer().push({false, std::move(text), {}});
}

void out(std::string text, std::function<void()> written) {
  the_writer().push({true, std::move(text), std::move(written)});
}

void flush() { the_writer().flush(); }

void set_threshold(level lvl) { threshold.store(lvl); }

} // namespace txrelay::log
