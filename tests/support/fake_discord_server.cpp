#include "support/fake_discord_server.hpp"

#include <simdjson.h>

#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <mutex>

namespace txrelay::testing {

namespace {

using steady = std::chrono::steady_clock;

const std::string webhook_path_prefix = "/api/webhooks/1180000000000000001/";

/// Seconds with three decimals, rounded up: a client that waits exactly this
/// long is never early.
std::string seconds_text(steady::duration d) {
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(d).count();
  if (ms < 0)
    ms = 0;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld.%03lld", static_cast<long long>(ms / 1000), static_cast<long long>(ms % 1000));
  return buf;
}

std::size_t code_points(std::string_view s) {
  std::size_t n = 0;
  for (char c : s)
    n += (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  return n;
}

fake_reply json_reply(int status, std::string body) {
  fake_reply r;
  r.status = status;
  r.headers = {{"Content-Type", "application/json"}};
  r.body = std::move(body);
  return r;
}

} // namespace

const std::string fake_discord_server::token =
  "fAkE-T0kEn_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789_aBcDeFgHiJkLmNoPqRsTuV";

struct fake_discord_server::state {
  discord_fake_options options;
  mutable std::mutex mutex;
  mutable std::condition_variable changed;
  bool deleted = false;
  int remaining = 0;
  steady::time_point window_resets_at{};
  steady::time_point told_to_wait_until{}; // what the client was last told, by a 429 or Remaining: 0
  std::vector<std::string> messages;
  std::size_t rate_limited = 0;
  std::size_t early = 0;

  /// The bucket's headers, as Discord sends them on every reply.
  void add_bucket_headers(fake_reply& reply, steady::time_point now) const {
    auto reset_after = window_resets_at - now;
    auto reset_epoch = std::chrono::system_clock::now() + reset_after;
    auto epoch_ms =
      std::chrono::ceil<std::chrono::milliseconds>(reset_epoch.time_since_epoch()).count();
    char reset[32];
    std::snprintf(reset, sizeof reset, "%lld.%03lld", static_cast<long long>(epoch_ms / 1000),
                  static_cast<long long>(epoch_ms % 1000));
    reply.headers.emplace_back("X-RateLimit-Limit", std::to_string(options.limit));
    reply.headers.emplace_back("X-RateLimit-Remaining", std::to_string(remaining));
    reply.headers.emplace_back("X-RateLimit-Reset", reset);
    reply.headers.emplace_back("X-RateLimit-Reset-After", seconds_text(reset_after));
    reply.headers.emplace_back("X-RateLimit-Bucket", "f4k3b0c7e7");
  }

  fake_reply handle(const recorded_request& request) {
    std::lock_guard guard{mutex};
    auto now = steady::now();
    if (now < told_to_wait_until)
      ++early;
    if (deleted)
      return json_reply(404, R"({"message": "Unknown Webhook", "code": 10015})");
    auto path = request.target.substr(0, request.target.find('?'));
    if (path != webhook_path_prefix + token)
      return json_reply(401, R"({"message": "Invalid Webhook Token", "code": 50027})");

    if (now >= window_resets_at) {
      remaining = options.limit;
      window_resets_at = now + options.window;
    }
    if (remaining == 0) {
      ++rate_limited;
      told_to_wait_until = std::max(told_to_wait_until, window_resets_at);
      auto wait = window_resets_at - now;
      auto reply = json_reply(429, R"({"message": "You are being rate limited.", "retry_after": )" +
                                     seconds_text(wait) + R"(, "global": false})");
      reply.headers.emplace_back("Retry-After",
                                 std::to_string(std::chrono::ceil<std::chrono::seconds>(wait).count()));
      reply.headers.emplace_back("X-RateLimit-Scope", "user");
      add_bucket_headers(reply, now);
      return reply;
    }
    --remaining; // every request counts against the bucket, refused ones too

    auto reply = validate(request.body);
    if (reply.status == 204)
      changed.notify_all();
    if (options.rate_limit_headers_on_success) {
      add_bucket_headers(reply, now);
      if (remaining == 0)
        told_to_wait_until = std::max(told_to_wait_until, window_resets_at);
    }
    return reply;
  }

  /// Discord's checks on the body: JSON with a content of 1 to 2000
  /// characters or 1 to 10 embeds (or both), a username of at most 80.
  fake_reply validate(const std::string& body) {
    simdjson::dom::parser parser;
    simdjson::dom::object object;
    if (parser.parse(body).get_object().get(object) != simdjson::SUCCESS)
      return json_reply(400, R"({"message": "The request body contains invalid JSON.", "code": 50109})");
    std::string_view content;
    bool has_content = object["content"].get_string().get(content) == simdjson::SUCCESS && !content.empty();
    simdjson::dom::array embeds;
    bool has_embeds = object["embeds"].get_array().get(embeds) == simdjson::SUCCESS && embeds.size() > 0;
    if (!has_content && !has_embeds)
      return json_reply(400, R"({"message": "Cannot send an empty message", "code": 50006})");
    auto invalid_form = [](const char* field, const char* message) {
      return json_reply(400, std::string{R"({"code": 50035, "errors": {")"} + field +
                               R"(": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": ")" + message +
                               R"("}]}}, "message": "Invalid Form Body"})");
    };
    if (code_points(content) > 2000)
      return invalid_form("content", "Must be 2000 or fewer in length.");
    if (has_embeds && embeds.size() > 10)
      return invalid_form("embeds", "Must be 10 or fewer in length.");
    std::string_view username;
    if (object["username"].get_string().get(username) == simdjson::SUCCESS && code_points(username) > 80)
      return invalid_form("username", "Must be 80 or fewer in length.");
    messages.emplace_back(content);
    fake_reply ok;
    ok.status = 204;
    return ok;
  }
};

namespace {

std::shared_ptr<fake_discord_server::state> make_state(discord_fake_options options) {
  auto s = std::make_shared<fake_discord_server::state>();
  s->options = options;
  return s;
}

} // namespace

fake_discord_server::fake_discord_server(discord_fake_options options)
  : state_(make_state(options)),
    server_([s = state_](const recorded_request& request, std::size_t) { return s->handle(request); }) {}

fake_discord_server::~fake_discord_server() { server_.stop(); }

std::string fake_discord_server::webhook_url() const { return server_.url(webhook_path_prefix + token); }

void fake_discord_server::delete_webhook() {
  std::lock_guard guard{state_->mutex};
  state_->deleted = true;
}

std::vector<std::string> fake_discord_server::messages() const {
  std::lock_guard guard{state_->mutex};
  return state_->messages;
}

std::size_t fake_discord_server::rate_limited_count() const {
  std::lock_guard guard{state_->mutex};
  return state_->rate_limited;
}

std::size_t fake_discord_server::early_request_count() const {
  std::lock_guard guard{state_->mutex};
  return state_->early;
}

bool fake_discord_server::wait_for_messages(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock{state_->mutex};
  return state_->changed.wait_for(lock, timeout, [&] { return state_->messages.size() >= n; });
}

fake_sink_server& fake_discord_server::server() { return server_; }

} // namespace txrelay::testing
