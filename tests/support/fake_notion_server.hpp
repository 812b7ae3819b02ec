#pragma once
// A fake Notion API that speaks the real one (/work/shared/SINK_APIS.md) for
// the one call txrelay makes, POST /v1/pages:
// - `Authorization: Bearer <token>` (else 401 unauthorized) and a
//   `Notion-Version` header (else 400 missing_version);
// - a JSON body (else 400 invalid_json) whose parent is
//   {"database_id": id} or {"type": "data_source_id", "data_source_id": id}
//   naming the configured id, dashes optional (else 404 object_not_found);
// - Notion's limits: text.content at most 2000 UTF-16 code units (what its
//   JavaScript `length` counts), at most 100 items in a rich-text array, url
//   2000 and email 200 (else 400 validation_error, with Notion's message);
// - an average of 3 requests per second per integration with short bursts:
//   a token bucket of `burst` refilled at `per_second`, answering 429
//   rate_limited with an integer Retry-After beyond it.
// Errors are {"object":"error","status":N,"code":...,"message":...,
// "request_id":...}; success is 200 {"object":"page","id":<uuid>,...}.
//
// It counts *early* requests: any that arrive after a 429 before its
// Retry-After elapsed. Exact for a client with one request in flight at a
// time (see fake_discord_server.hpp).
//
// Real time (it is a server) unless a test gives the rate limit its own
// clock; tests assert counts, never timings.
#include "support/fake_sink_server.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace txrelay::testing {

struct notion_fake_options {
  double per_second = 3;
  double burst = 3;
  /// The rate limit's clock (called under the fake's lock, on its thread):
  /// real time by default; a test may pass a manual one to skip the waits.
  std::function<std::chrono::steady_clock::time_point()> now = std::chrono::steady_clock::now;
};

class fake_notion_server {
public:
  explicit fake_notion_server(notion_fake_options options = {});
  ~fake_notion_server();

  /// http://127.0.0.1:PORT: the api_base a notion_sink is given.
  std::string api_base() const;
  /// The integration secret the fake accepts: it must never show up in an error or a log.
  static const std::string token;
  /// The parent the fake has shared with the integration (with dashes).
  static const std::string database_id;
  static const std::string data_source_id;

  /// From now on every POST /v1/pages gets `status` with Notion's error body
  /// for `code` (401 "unauthorized", 403 "restricted_resource", 409
  /// "conflict_error", 503 "service_unavailable", ...).
  void fail_with(int status, std::string code);
  void stop_failing();

  std::vector<std::string> pages() const; // bodies of the requests that created a page, in arrival order
  /// The text of a title or rich_text property of the n-th page: the
  /// contents of its items concatenated; empty if there is no such property.
  std::string property_text(std::size_t page, std::string_view property) const;
  std::size_t rate_limited_count() const; // 429s answered
  std::size_t early_request_count() const;
  bool wait_for_pages(std::size_t n, std::chrono::milliseconds timeout) const;

  fake_sink_server& server();

  struct state; // in fake_notion_server.cpp

private:
  std::shared_ptr<state> state_;
  fake_sink_server server_;
};

} // namespace txrelay::testing
