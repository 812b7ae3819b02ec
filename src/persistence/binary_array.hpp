#pragma once
// A one-dimensional array parameter in PostgreSQL's binary wire format (what
// array_recv reads). A batch of N values then travels as one parameter that
// the server neither unquotes nor parses: `unnest($1::uuid[], $2::text[])`
// costs about a microsecond a row, where json_to_recordset over the same
// values costs ten or more (docs/benchmarks.md).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace txrelay::pg {

class binary_array {
public:
  /// Element types, by their fixed OIDs in pg_type. The server refuses an
  /// array whose element type differs from the parameter's declared one.
  enum class element : std::uint32_t { int4 = 23, text = 25, uuid = 2950 };

  explicit binary_array(element type);

  /// A text value, byte for byte (for a text array).
  void add_text(std::string_view value);
  /// A UUID in its canonical 8-4-4-4-12 hex form; false (nothing added) if
  /// it is not one.
  bool add_uuid(std::string_view canonical);
  /// An integer, for an int4 array.
  void add_int4(std::int32_t value);
  void add_null();

  std::size_t size() const { return count_; }
  /// The encoded array, valid until the next add.
  std::string_view bytes() const { return buffer_; }

private:
  void add_length(std::int32_t n);

  std::string buffer_; // header (with count and null flag kept current), then elements
  std::int32_t count_ = 0;
  element type_;
};

/// A text[] parameter holding `values`.
binary_array text_array(const std::vector<std::string>& values);

} // namespace txrelay::pg
