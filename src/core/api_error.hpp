#pragma once
// The one reply vocabulary of the HTTP API: a status and a stable code.
#include <string>

namespace txrelay {

struct api_error {
  int status = 500;
  std::string code;    // stable, machine readable: "invalid_json", "no_route", ...
  std::string message; // for people

  /// {"error":{"code":"...","message":"..."}}
  std::string to_json() const;
};

} // namespace txrelay
