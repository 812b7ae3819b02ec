#pragma once
// A fake Slack incoming webhook that speaks the real API
// (/work/shared/SINK_APIS.md): 200 with the plain-text body `ok`, plain-text
// error words (invalid_payload, channel_not_found, ...), and about one
// message per second per webhook with short bursts: a token bucket of
// `burst` refilled at `per_second`, answering 429 with an integer
// Retry-After beyond it.
//
// It counts *early* requests: any that arrive after a 429 before its
// Retry-After elapsed. Apps that keep sending past the limit risk being
// disabled, so a test asserts the count is 0. Exact for a client with one
// request in flight at a time (see fake_discord_server.hpp).
//
// Real time (it is a server); tests assert counts, never timings.
#include "support/fake_sink_server.hpp"

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace txrelay::testing {

struct slack_fake_options {
  double per_second = 1;
  double burst = 3;
};

class fake_slack_server {
public:
  explicit fake_slack_server(slack_fake_options options = {});
  ~fake_slack_server();

  /// http://127.0.0.1:PORT/services/T…/B…/{token}
  std::string webhook_url() const;
  /// The token in webhook_url(): it must never show up in an error or a log.
  static const std::string token;

  /// From now on every request gets `status` with the plain-text `body`
  /// (404 "channel_not_found", 410 "channel_is_archived", 500 "rollup_error", ...).
  void fail_with(int status, std::string body);
  void stop_failing();

  std::vector<std::string> messages() const; // `text` of each accepted message, in arrival order
  std::size_t rate_limited_count() const;    // 429s answered
  std::size_t early_request_count() const;
  bool wait_for_messages(std::size_t n, std::chrono::milliseconds timeout) const;

  fake_sink_server& server();

  struct state; // in fake_slack_server.cpp

private:
  std::shared_ptr<state> state_;
  fake_sink_server server_;
};

} // namespace txrelay::testing
