#pragma once
// A fake Discord execute-webhook endpoint that speaks the real API
// (/work/shared/SINK_APIS.md): a per-webhook bucket of `limit` requests per
// `window`, X-RateLimit-* headers on every reply, 429 with a float
// `retry_after` body and an integer Retry-After header, 400 50035 for content
// over 2000 characters, and 404 10015 once the webhook is deleted.
//
// It counts *early* requests: any request that arrives while the sink has
// been told to wait (after a 429, before its retry_after elapsed; or after a
// reply advertised X-RateLimit-Remaining: 0, before the reset). Real Discord
// bans callers that do that, so a test asserts the count is 0. The count is
// exact only for a client with one request in flight at a time: with several,
// requests already on the wire when the limit was announced look early too.
//
// Real time (it is a server); tests assert counts, never timings.
#include "support/fake_sink_server.hpp"

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace txrelay::testing {

struct discord_fake_options {
  int limit = 5; // requests per window, per webhook (widely seen; Discord does not document it)
  std::chrono::milliseconds window{2000};
  // Real Discord sends the bucket's headers on every reply. Off, a client only
  // learns about the limit from 429s: a storm of them, to test that path.
  bool rate_limit_headers_on_success = true;
};

class fake_discord_server {
public:
  explicit fake_discord_server(discord_fake_options options = {});
  ~fake_discord_server();

  /// http://127.0.0.1:PORT/api/webhooks/{id}/{token}
  std::string webhook_url() const;
  /// The token in webhook_url(): it must never show up in an error or a log.
  static const std::string token;

  /// From now on every request gets 404 {"message": "Unknown Webhook", "code": 10015}.
  void delete_webhook();

  std::vector<std::string> messages() const; // `content` of each accepted message, in arrival order
  std::size_t rate_limited_count() const;    // 429s answered
  std::size_t early_request_count() const;
  bool wait_for_messages(std::size_t n, std::chrono::milliseconds timeout) const;

  fake_sink_server& server();

  struct state; // in fake_discord_server.cpp

private:
  std::shared_ptr<state> state_;
  fake_sink_server server_;
};

} // namespace txrelay::testing
