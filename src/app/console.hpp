#pragma once
// The web console: ui/ and uPlot's files, compiled into the binary at build
// time (cmake/ui_assets.cmake) and served at /ui. They hold no data (the page
// fetches it from the API with the operator's key), so they need no key.
#include "http/message.hpp"

#include <span>
#include <string_view>

namespace txrelay {

struct console_asset {
  std::string_view name;         // served at /ui/<name>
  std::string_view content_type;
  std::string_view etag;         // quoted, from the file's SHA-256
  std::string_view body;
};

namespace console_files {
/// Every file of the console (empty in a build with TXRELAY_CONSOLE=OFF);
/// defined in the generated console_assets.cpp.
extern const std::span<const console_asset> all;
} // namespace console_files

/// Whether `path` is one of the console's: /ui, /ui/ or /ui/<anything>.
bool is_console_path(std::string_view path);

/// The console's file at `path` (/ui and /ui/ are index.html); null when there is none.
const console_asset* find_console_asset(std::string_view path);

/// The answer to GET `path`: the file with its content type, no-cache (an
/// upgraded binary's console is used at once), a strict Content-Security-Policy
/// and, when `if_none_match` names its ETag, 304 without a body; 404 otherwise.
http::response console_response(std::string_view path, std::string_view if_none_match);

} // namespace txrelay
