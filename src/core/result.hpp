#pragma once
// A value or an error: errors are values at every boundary of txrelay.
// (std::expected is C++23; this is the small subset we need under C++20.)
#include <utility>
#include <variant>

namespace txrelay {

template <class E>
struct unexpected {
  E error;
};
template <class E>
unexpected(E) -> unexpected<E>;

template <class T, class E>
class result {
public:
  result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  result(unexpected<E> err) : v_(std::in_place_index<1>, std::move(err.error)) {}

  bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  E& error() & { return std::get<1>(v_); }
  const E& error() const& { return std::get<1>(v_); }

private:
  std::variant<T, E> v_;
};

} // namespace txrelay
