#include "app/console.hpp"

#include "app/api.hpp"

namespace txrelay {

namespace {

// Everything from this origin, nothing inline: API data shown by the console
// cannot run as script or restyle the page even if escaping were missed.
// (uPlot sizes its elements through the CSSOM, which style-src does not govern.)
constexpr std::string_view content_security_policy =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
  "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

void add_console_headers(http::response& res, const console_asset& asset) {
  res.headers.emplace_back("Cache-Control", "no-cache");
  res.headers.emplace_back("ETag", std::string{asset.etag});
  res.headers.emplace_back("Content-Security-Policy", std::string{content_security_policy});
  res.headers.emplace_back("X-Content-Type-Options", "nosniff");
  res.headers.emplace_back("Referrer-Policy", "no-referrer");
}

} // namespace

bool is_console_path(std::string_view path) {
  return path == "/ui" || path.rfind("/ui/", 0) == 0;
}

const console_asset* find_console_asset(std::string_view path) {
  if (!is_console_path(path))
    return nullptr;
  auto name = path == "/ui" ? std::string_view{} : path.substr(4);
  if (name.empty())
    name = "index.html";
  for (const auto& asset : console_files::all)
    if (asset.name == name)
      return &asset;
  return nullptr;
}

http::response console_response(std::string_view path, std::string_view if_none_match) {
  const auto* asset = find_console_asset(path);
  if (!asset)
    return error_response({404, "not_found", console_files::all.empty()
                                               ? "this txrelay was built without its console (TXRELAY_CONSOLE=OFF)"
                                               : "the console has no such file"});
  http::response res;
  res.content_type = std::string{asset->content_type};
  add_console_headers(res, *asset);
  // no-cache means "ask again", not "fetch again": an unchanged file is a 304.
  if (if_none_match == "*" || if_none_match.find(asset->etag) != std::string_view::npos) {
    res.status = 304;
    return res;
  }
  res.body = std::string{asset->body};
  return res;
}

} // namespace txrelay
