#include "cli/table.hpp"

#include <gtest/gtest.h>

using namespace txrelay::cli;

namespace {

TEST(table, columns_align_numbers_right_and_lines_have_no_trailing_spaces) {
  table t{{{"NAME", 10}, {"PENDING", 9, true}, {"LAST_ERROR", 20}}};
  t.add_row({"hook", "3", "HTTP 500"});
  t.add_row({"audit-log", "1200", ""});
  EXPECT_EQ(t.render(),
            "NAME       PENDING  LAST_ERROR\n"
            "hook             3  HTTP 500\n"
            "audit-log     1200\n");
  EXPECT_EQ(t.rows(), 2u);
}

TEST(table, long_cells_are_cut_at_their_column_width_with_an_ellipsis) {
  table t{{{"A", 5}, {"B", 3}}};
  t.add_row({"abcdefgh", "xy"});
  EXPECT_EQ(t.render(),
            "A      B\n"
            "abcd…  xy\n");
}

TEST(table, widths_count_code_points_not_bytes) {
  table t{{{"K", 10}, {"V", 5}}};
  t.add_row({"é", "1"});
  t.add_row({"ab", "2"});
  EXPECT_EQ(t.render(),
            "K   V\n"
            "é   1\n"
            "ab  2\n");
}

TEST(table, missing_cells_are_empty_and_extra_ones_ignored) {
  table t{{{"A", 5}, {"B", 5}}};
  t.add_row({"x"});
  t.add_row({"y", "z", "ignored"});
  EXPECT_EQ(t.render(),
            "A  B\n"
            "x\n"
            "y  z\n");
}

TEST(table, nothing_a_sink_said_can_reach_the_terminal_as_control_characters) {
  // An error text from a sink: a line break, an ANSI escape, a C1 CSI (U+009B).
  auto cell = table_cell("bad\ngateway \x1b[31mred\r\t \xc2\x9b" "2J", 60);
  EXPECT_EQ(cell, "bad gateway [31mred 2J");
  for (unsigned char c : cell)
    EXPECT_GE(c, 0x20);
}

TEST(table, a_cut_never_splits_a_character) {
  EXPECT_EQ(table_cell("ééééé", 3), "éé…");
  EXPECT_EQ(table_cell("short", 5), "short");
}

} // namespace
