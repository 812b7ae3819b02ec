#pragma once
// Reading values out of JSON response bodies in tests, by JSON pointer.
#include <cstdint>
#include <optional>
#include <string>

namespace txrelay::testing {

/// The string at `pointer` ("/deliveries/0/id"), or nullopt when absent, not a string, or not JSON.
std::optional<std::string> json_string_at(const std::string& json, const std::string& pointer);
std::optional<std::int64_t> json_int_at(const std::string& json, const std::string& pointer);
/// Number of elements of the array at `pointer`, or -1.
int json_array_size(const std::string& json, const std::string& pointer);
bool json_is_null_at(const std::string& json, const std::string& pointer);
/// The minified JSON text of the value at `pointer`.
std::optional<std::string> json_raw_at(const std::string& json, const std::string& pointer);

/// A field of one sink in a GET /v1/sinks body: its string value, else its
/// JSON text ("null", "3", "true"); "missing" when no sink has that name.
std::string sink_field(const std::string& sinks_body, const std::string& sink, const std::string& field);

} // namespace txrelay::testing
