#include "support/fake_slack_server.hpp"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <optional>

namespace txrelay::testing {

namespace {

using steady = std::chrono::steady_clock;

const std::string webhook_path_prefix = "/services/T0FAKE0001/B0FAKE0002/";

fake_reply text_reply(int status, std::string body) {
  fake_reply r;
  r.status = status;
  r.headers = {{"Content-Type", "text/html"}}; // what Slack labels its plain words with
  r.body = std::move(body);
  return r;
}

} // namespace

const std::string fake_slack_server::token = "fAkEsLaCkT0kEn0123456789";

struct fake_slack_server::state {
  slack_fake_options options;
  mutable std::mutex mutex;
  mutable std::condition_variable changed;
  std::optional<fake_reply> failure;
  double tokens = 0;
  steady::time_point refilled_at{};
  bool started = false;
  steady::time_point told_to_wait_until{};
  std::vector<std::string> messages;
  std::size_t rate_limited = 0;
  std::size_t early = 0;

  fake_reply handle(const recorded_request& request) {
    std::lock_guard guard{mutex};
    auto now = steady::now();
    if (now < told_to_wait_until)
      ++early;
    auto path = request.target.substr(0, request.target.find('?'));
    if (path != webhook_path_prefix + token)
      return text_reply(404, "no_service");
    if (failure)
      return *failure;

    if (!started) {
      started = true;
      tokens = options.burst;
    } else {
      tokens = std::min(options.burst, tokens + std::chrono::duration<double>(now - refilled_at).count() *
                                                  options.per_second);
    }
    refilled_at = now;
    if (tokens < 1) {
      ++rate_limited;
      // Slack's Retry-After is whole seconds, at least 1: the client must
      // honour it even though the bucket may refill sooner.
      auto seconds = std::max<long long>(1, static_cast<long long>(std::ceil((1 - tokens) / options.per_second)));
      told_to_wait_until = std::max(told_to_wait_until, now + std::chrono::seconds{seconds});
      auto reply = text_reply(429, "rate_limited");
      reply.headers.emplace_back("Retry-After", std::to_string(seconds));
      return reply;
    }
    tokens -= 1;

    simdjson::dom::parser parser;
    simdjson::dom::object object;
    if (parser.parse(request.body).get_object().get(object) != simdjson::SUCCESS)
      return text_reply(400, "invalid_payload");
    std::string_view text;
    if (object["text"].get_string().get(text) != simdjson::SUCCESS || text.empty())
      return text_reply(400, "no_text");
    messages.emplace_back(text);
    changed.notify_all();
    return text_reply(200, "ok");
  }
};

namespace {

std::shared_ptr<fake_slack_server::state> make_state(slack_fake_options options) {
  auto s = std::make_shared<fake_slack_server::state>();
  s->options = options;
  return s;
}

} // namespace

fake_slack_server::fake_slack_server(slack_fake_options options)
  : state_(make_state(options)),
    server_([s = state_](const recorded_request& request, std::size_t) { return s->handle(request); }) {}

fake_slack_server::~fake_slack_server() { server_.stop(); }

std::string fake_slack_server::webhook_url() const { return server_.url(webhook_path_prefix + token); }

void fake_slack_server::fail_with(int status, std::string body) {
  std::lock_guard guard{state_->mutex};
  state_->failure = text_reply(status, std::move(body));
}

void fake_slack_server::stop_failing() {
  std::lock_guard guard{state_->mutex};
  state_->failure.reset();
}

std::vector<std::string> fake_slack_server::messages() const {
  std::lock_guard guard{state_->mutex};
  return state_->messages;
}

std::size_t fake_slack_server::rate_limited_count() const {
  std::lock_guard guard{state_->mutex};
  return state_->rate_limited;
}

std::size_t fake_slack_server::early_request_count() const {
  std::lock_guard guard{state_->mutex};
  return state_->early;
}

bool fake_slack_server::wait_for_messages(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock{state_->mutex};
  return state_->changed.wait_for(lock, timeout, [&] { return state_->messages.size() >= n; });
}

fake_sink_server& fake_slack_server::server() { return server_; }

} // namespace txrelay::testing
