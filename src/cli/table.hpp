#pragma once
// Tables for people: a header row and aligned columns, each cell on one line.
// Cells come from the server and, through it, from sinks (an error text, a
// response excerpt), so control characters are flattened to spaces: nothing
// a sink says can move the cursor or recolour an operator's terminal.
#include <cstddef>
#include <string>
#include <vector>

namespace txrelay::cli {

class table {
public:
  struct column {
    std::string title;
    std::size_t max_width = 40; // code points; a longer cell is cut and ends with "…"
    bool right_aligned = false; // numbers
  };

  explicit table(std::vector<column> columns);

  /// One row; missing cells are empty, extra ones are ignored.
  void add_row(std::vector<std::string> cells);
  std::size_t rows() const { return rows_.size(); }

  /// The header and the rows, columns two spaces apart, each line ending in
  /// "\n" without trailing spaces.
  std::string render() const;

private:
  std::vector<column> columns_;
  std::vector<std::vector<std::string>> rows_; // cells already flattened and cut
};

/// A cell's text: control characters and line breaks become single spaces,
/// and past `max_width` code points the text is cut and ends with "…".
std::string table_cell(const std::string& text, std::size_t max_width);

} // namespace txrelay::cli
