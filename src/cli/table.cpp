#include "cli/table.hpp"

#include "core/utf8.hpp"

#include <algorithm>

namespace txrelay::cli {

std::string table_cell(const std::string& text, std::size_t max_width) {
  // one_line_excerpt flattens C0 controls and DEL; the C1 controls
  // (U+0080..U+009F, two bytes in UTF-8: C2 80..C2 9F) can act as escape
  // introducers on some terminals, so they go too.
  std::string plain;
  plain.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    auto next = i + 1 < text.size() ? static_cast<unsigned char>(text[i + 1]) : 0;
    if (c == 0xc2 && next >= 0x80 && next <= 0x9f) {
      plain += ' ';
      ++i;
    } else {
      plain += static_cast<char>(c);
    }
  }
  return one_line_excerpt(plain, std::max<std::size_t>(max_width, 1));
}

table::table(std::vector<column> columns) : columns_(std::move(columns)) {}

void table::add_row(std::vector<std::string> cells) {
  cells.resize(columns_.size());
  for (std::size_t c = 0; c < columns_.size(); ++c)
    cells[c] = table_cell(cells[c], columns_[c].max_width);
  rows_.push_back(std::move(cells));
}

std::string table::render() const {
  std::vector<std::size_t> widths(columns_.size());
  for (std::size_t c = 0; c < columns_.size(); ++c) {
    widths[c] = count_code_points(columns_[c].title);
    for (const auto& row : rows_)
      widths[c] = std::max(widths[c], count_code_points(row[c]));
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string text;
    for (std::size_t c = 0; c < cells.size(); ++c) {
      auto pad = std::string(widths[c] - count_code_points(cells[c]), ' ');
      if (c > 0)
        text += "  ";
      text += columns_[c].right_aligned ? pad + cells[c] : cells[c] + pad;
    }
    while (!text.empty() && text.back() == ' ')
      text.pop_back();
    out += text + "\n";
  };
  std::vector<std::string> titles;
  for (const auto& col : columns_)
    titles.push_back(col.title);
  line(titles);
  for (const auto& row : rows_)
    line(row);
  return out;
}

} // namespace txrelay::cli
