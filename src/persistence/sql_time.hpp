#pragma once
// Timestamps leave the database in the same RFC 3339 form format_rfc3339
// (core/clock.hpp) writes: a SQL expression for column `col`, spliced into
// statement text at compile time.
#define TXR_RFC3339(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
