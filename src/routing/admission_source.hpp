#pragma once
// The routes and schemas in force, replaced whole when the config is
// reloaded. Whoever admits events takes the current version once per
// request (or routing round), so a request is admitted by one version,
// never by a mix of the old and the new.
#include "routing/event_admission.hpp"

#include <atomic>
#include <memory>

namespace txrelay {

class admission_source {
public:
  explicit admission_source(event_admission initial)
    : current_(std::make_shared<const event_admission>(std::move(initial))) {}

  std::shared_ptr<const event_admission> current() const { return current_.load(); }
  void replace(event_admission next) { current_.store(std::make_shared<const event_admission>(std::move(next))); }

private:
  std::atomic<std::shared_ptr<const event_admission>> current_;
};

} // namespace txrelay
