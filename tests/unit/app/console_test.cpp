#include "app/console.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <string>

namespace txrelay {
namespace {

std::string header(const http::response& res, std::string_view name) {
  return std::string{http::find_header(res.headers, name)};
}

TEST(console, embeds_its_files_and_uplot_with_their_types) {
  if (console_files::all.empty())
    GTEST_SKIP() << "built with TXRELAY_CONSOLE=OFF";
  struct expected {
    const char* path;
    const char* type;
  };
  for (auto [path, type] : {expected{"/ui/index.html", "text/html; charset=utf-8"},
                            expected{"/ui/app.js", "text/javascript; charset=utf-8"},
                            expected{"/ui/style.css", "text/css; charset=utf-8"},
                            expected{"/ui/uPlot.iife.min.js", "text/javascript; charset=utf-8"},
                            expected{"/ui/uPlot.min.css", "text/css; charset=utf-8"}}) {
    const auto* asset = find_console_asset(path);
    ASSERT_NE(asset, nullptr) << path;
    EXPECT_EQ(asset->content_type, type) << path;
    EXPECT_FALSE(asset->body.empty()) << path;
  }
  EXPECT_EQ(find_console_asset("/ui"), find_console_asset("/ui/index.html"));
  EXPECT_EQ(find_console_asset("/ui/"), find_console_asset("/ui/index.html"));
  EXPECT_EQ(find_console_asset("/ui/missing.js"), nullptr);
  EXPECT_EQ(find_console_asset("/ui/../metrics"), nullptr);
  EXPECT_EQ(find_console_asset("/uix"), nullptr);
  EXPECT_EQ(find_console_asset("/index.html"), nullptr);
}

TEST(console, index_loads_only_files_of_its_own_and_runs_no_inline_script) {
  const auto* index = find_console_asset("/ui/");
  if (!index)
    GTEST_SKIP() << "built with TXRELAY_CONSOLE=OFF";
  std::string html{index->body};
  std::regex ref{R"re((src|href)="([^"]*)")re"};
  int own = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), ref); it != std::sregex_iterator(); ++it) {
    auto target = (*it)[2].str();
    if (target.rfind("/ui/", 0) == 0) {
      ++own;
      EXPECT_NE(find_console_asset(target), nullptr) << target << " is not embedded";
    } else {
      EXPECT_TRUE(target.rfind("#/", 0) == 0 || target.rfind("data:", 0) == 0) << target;
    }
  }
  EXPECT_GE(own, 4);
  EXPECT_FALSE(std::regex_search(html, std::regex{"<script(?![^>]*src=)[^>]*>"})) << "an inline script";
  EXPECT_EQ(html.find("style="), std::string::npos) << "an inline style";
}

TEST(console, answers_with_no_cache_a_strict_policy_and_304_for_a_known_etag) {
  const auto* asset = find_console_asset("/ui/app.js");
  if (!asset)
    GTEST_SKIP() << "built with TXRELAY_CONSOLE=OFF";
  auto res = console_response("/ui/app.js", "");
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(res.body, asset->body);
  EXPECT_EQ(header(res, "cache-control"), "no-cache");
  EXPECT_EQ(header(res, "x-content-type-options"), "nosniff");
  auto csp = header(res, "content-security-policy");
  EXPECT_NE(csp.find("default-src 'self'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("script-src 'self';"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe"), std::string::npos) << csp;
  auto etag = header(res, "etag");
  ASSERT_EQ(etag.size(), 34u) << etag; // a quoted 128-bit hex digest

  auto again = console_response("/ui/app.js", etag);
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  EXPECT_EQ(console_response("/ui/app.js", "\"other\"").status, 200);

  auto missing = console_response("/ui/nothing-here", "");
  EXPECT_EQ(missing.status, 404);
  EXPECT_NE(missing.body.find("not_found"), std::string::npos);
}

} // namespace
} // namespace txrelay
