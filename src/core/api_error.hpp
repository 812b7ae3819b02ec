#pragma once
// The one reply vocabulary of the HTTP API: a status and a stable code.
#include "core/payload_schema.hpp"

#include <string>
#include <vector>

namespace txrelay {

class json_writer;

struct api_error {
  api_error() = default;
  api_error(int status, std::string code, std::string message, std::vector<field_violation> violations = {})
      : status(status), code(std::move(code)), message(std::move(message)), violations(std::move(violations)) {}

  int status = 500;
  std::string code;    // stable, machine readable: "invalid_json", "no_route", ...
  std::string message; // for people
  std::vector<field_violation> violations; // 422 schema_violation: every one of them

  /// {"error":{"code":"...","message":"..."}}, plus "violations":[{"field","problem"}] when there are any
  std::string to_json() const;

  /// "code", "message" and, when there are any, "violations": members of
  /// the object `w` is writing (an error object, a batch item, a rejection).
  void write_members(json_writer& w) const;
};

} // namespace txrelay
