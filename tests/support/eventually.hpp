#pragma once
// Waiting for asynchronous effects (a delivery recorded, a row written) that a
// test cannot be notified of: re-check a condition until it holds or a
// generous deadline passes. The deadline only bounds a failing test; a
// passing one returns as soon as the condition holds.
#include <chrono>
#include <functional>
#include <thread>

namespace txrelay::testing {

inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds deadline = std::chrono::seconds{20}) {
  auto until = std::chrono::steady_clock::now() + deadline;
  for (;;) {
    if (condition())
      return true;
    if (std::chrono::steady_clock::now() > until)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  }
}

} // namespace txrelay::testing
