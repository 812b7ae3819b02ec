#pragma once
// A value that a config reload replaces whole while other threads read it.
// A reader takes the current version once per unit of work (a request, a
// routing round) and keeps it: that unit sees one version, never a mix of
// the old and the new.
#include <atomic>
#include <memory>

namespace txrelay {

template <class T>
class versioned {
public:
  explicit versioned(T initial) : current_(std::make_shared<const T>(std::move(initial))) {}

  std::shared_ptr<const T> current() const { return current_.load(); }
  void replace(T next) { current_.store(std::make_shared<const T>(std::move(next))); }

private:
  std::atomic<std::shared_ptr<const T>> current_;
};

} // namespace txrelay
