#include "support/fake_slack_server.hpp"

#include "support/fake_rate_limit.hpp"

#include <simdjson.h>

#include <condition_variable>
#include <mutex>
#include <optional>

namespace txrelay::testing {

namespace {

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
  explicit state(const slack_fake_options& options) : limit(options.per_second, options.burst) {}

  mutable std::mutex mutex;
  mutable std::condition_variable changed;
  std::optional<fake_reply> failure;
  fake_rate_limit limit;
  std::vector<std::string> messages;

  fake_reply handle(const recorded_request& request) {
    std::lock_guard guard{mutex};
    limit.arrive();
    auto path = request.target.substr(0, request.target.find('?'));
    if (path != webhook_path_prefix + token)
      return text_reply(404, "no_service");
    if (failure)
      return *failure;

    if (auto seconds = limit.take()) {
      auto reply = text_reply(429, "rate_limited");
      reply.headers.emplace_back("Retry-After", std::to_string(*seconds));
      return reply;
    }

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

fake_slack_server::fake_slack_server(slack_fake_options options)
  : state_(std::make_shared<state>(options)),
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
  return state_->limit.refused();
}

std::size_t fake_slack_server::early_request_count() const {
  std::lock_guard guard{state_->mutex};
  return state_->limit.early();
}

bool fake_slack_server::wait_for_messages(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock{state_->mutex};
  return state_->changed.wait_for(lock, timeout, [&] { return state_->messages.size() >= n; });
}

fake_sink_server& fake_slack_server::server() { return server_; }

} // namespace txrelay::testing
