#include "support/fake_notion_server.hpp"

#include "core/json.hpp"
#include "support/fake_rate_limit.hpp"

#include <simdjson.h>

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <optional>

namespace txrelay::testing {

namespace {

/// The message Notion sends with each error code (its wording, where known).
std::string default_message(std::string_view code) {
  if (code == "unauthorized")
    return "API token is invalid.";
  if (code == "restricted_resource")
    return "Insufficient permissions for this endpoint.";
  if (code == "object_not_found")
    return "Could not find database. Make sure the relevant pages and databases are shared with your integration.";
  if (code == "conflict_error")
    return "Conflict occurred while saving. Please try again.";
  if (code == "rate_limited")
    return "You have been rate limited. Please try again in a few minutes.";
  if (code == "internal_server_error")
    return "Unexpected error occurred.";
  if (code == "service_unavailable")
    return "Notion is unavailable, please try again later.";
  if (code == "gateway_timeout")
    return "Notion timed out while processing the request.";
  if (code == "service_overload")
    return "Notion is overloaded, please try again later.";
  return "Request failed: " + std::string{code} + ".";
}

std::string uuid_like(unsigned long long n, unsigned int tag) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-0000-4000-8000-%012llx", tag, n);
  return buf;
}

fake_reply error_reply(int status, std::string_view code, std::string_view message, unsigned long long request) {
  fake_reply r;
  r.status = status;
  r.headers = {{"Content-Type", "application/json; charset=utf-8"}};
  r.body = R"({"object":"error","status":)" + std::to_string(status) + R"(,"code":)";
  append_json_string(r.body, code);
  r.body += R"(,"message":)";
  append_json_string(r.body, message);
  r.body += R"(,"request_id":)";
  append_json_string(r.body, uuid_like(request, 0x7e9e57));
  r.body += '}';
  return r;
}

/// What JavaScript's String length says: UTF-16 code units.
std::size_t js_length(std::string_view s) {
  std::size_t n = 0;
  for (char c : s) {
    auto b = static_cast<unsigned char>(c);
    if ((b & 0xc0) != 0x80)
      n += b >= 0xf0 ? 2 : 1;
  }
  return n;
}

std::string without_dashes(std::string_view id) {
  std::string out;
  for (char c : id)
    if (c != '-')
      out += c;
  return out;
}

std::string too_long(const std::string& path, std::size_t limit, std::size_t was) {
  return "body failed validation: " + path + ".length should be ≤ `" + std::to_string(limit) + "`, instead was `" +
         std::to_string(was) + "`.";
}

/// Notion's limits on one property value; the validation message, if any.
std::optional<std::string> check_property(std::string_view name, simdjson::dom::object value) {
  auto base = "body.properties." + std::string{name};
  for (auto [type, inner] : value) {
    if (type == "title" || type == "rich_text") {
      simdjson::dom::array items;
      if (inner.get_array().get(items) != simdjson::SUCCESS)
        return "body failed validation: " + base + "." + std::string{type} + " should be an array.";
      if (items.size() > 100)
        return too_long(base + "." + std::string{type}, 100, items.size());
      std::size_t i = 0;
      for (auto item : items) {
        std::string_view content;
        if (item["text"]["content"].get_string().get(content) != simdjson::SUCCESS)
          return "body failed validation: " + base + "." + std::string{type} + "[" + std::to_string(i) +
                 "].text.content should be defined.";
        if (js_length(content) > 2000)
          return too_long(base + "." + std::string{type} + "[" + std::to_string(i) + "].text.content", 2000,
                          js_length(content));
        ++i;
      }
    } else if (type == "url" || type == "email") {
      std::string_view text;
      std::size_t limit = type == "url" ? 2000 : 200;
      if (inner.get_string().get(text) == simdjson::SUCCESS && js_length(text) > limit)
        return too_long(base + "." + std::string{type}, limit, js_length(text));
    }
  }
  return std::nullopt;
}

} // namespace

const std::string fake_notion_server::token = "ntn_fAkEnOtIoNsEcReT0123456789aBcDeFgHiJkLmNoPqRsTuV";
const std::string fake_notion_server::database_id = "1d4f0a6e-8c2b-4e1f-9a3d-5b7c6e8f0a21";
const std::string fake_notion_server::data_source_id = "2e5a1b7f-9d3c-4f2a-8b4e-6c8d7f9a1b32";

struct fake_notion_server::state {
  explicit state(const notion_fake_options& options) : limit(options.per_second, options.burst, options.now) {}

  mutable std::mutex mutex;
  mutable std::condition_variable changed;
  std::optional<std::pair<int, std::string>> failure;
  fake_rate_limit limit;
  std::vector<std::string> pages;
  unsigned long long requests = 0;

  fake_reply handle(const recorded_request& request) {
    std::lock_guard guard{mutex};
    auto id = ++requests;
    limit.arrive();
    auto path = request.target.substr(0, request.target.find('?'));
    if (request.method != "POST" || path != "/v1/pages")
      return error_reply(400, "invalid_request_url", "Invalid request URL.", id);
    if (failure)
      return error_reply(failure->first, failure->second, default_message(failure->second), id);
    if (request.header("authorization") != "Bearer " + token)
      return error_reply(401, "unauthorized", default_message("unauthorized"), id);
    if (request.header("notion-version").empty())
      return error_reply(400, "missing_version",
                         "Notion-Version header failed validation: Notion-Version header should be defined, "
                         "instead was `undefined`.",
                         id);
    if (auto seconds = limit.take()) {
      auto reply = error_reply(429, "rate_limited", default_message("rate_limited"), id);
      reply.headers.emplace_back("Retry-After", std::to_string(*seconds));
      return reply;
    }

    simdjson::dom::parser parser;
    simdjson::dom::object body;
    if (parser.parse(request.body).get_object().get(body) != simdjson::SUCCESS)
      return error_reply(400, "invalid_json", "Error parsing JSON body.", id);
    simdjson::dom::object parent;
    if (body["parent"].get_object().get(parent) != simdjson::SUCCESS)
      return error_reply(400, "validation_error", "body failed validation: body.parent should be defined.", id);
    simdjson::dom::object properties;
    if (body["properties"].get_object().get(properties) != simdjson::SUCCESS)
      return error_reply(400, "validation_error", "body failed validation: body.properties should be an object.",
                         id);
    for (auto [name, value] : properties) {
      simdjson::dom::object value_object;
      if (value.get_object().get(value_object) != simdjson::SUCCESS)
        return error_reply(400, "validation_error",
                           "body failed validation: body.properties." + std::string{name} + " should be an object.",
                           id);
      if (auto message = check_property(name, value_object))
        return error_reply(400, "validation_error", *message, id);
    }
    std::string_view parent_id;
    bool known = false;
    if (parent["database_id"].get_string().get(parent_id) == simdjson::SUCCESS)
      known = without_dashes(parent_id) == without_dashes(database_id);
    else if (parent["data_source_id"].get_string().get(parent_id) == simdjson::SUCCESS)
      known = without_dashes(parent_id) == without_dashes(data_source_id);
    else
      return error_reply(400, "validation_error",
                         "body failed validation: body.parent.database_id should be defined, instead was `undefined`.",
                         id);
    if (!known)
      return error_reply(404, "object_not_found",
                         "Could not find database with ID: " + std::string{parent_id} +
                           ". Make sure the relevant pages and databases are shared with your integration.",
                         id);

    pages.push_back(request.body);
    changed.notify_all();
    fake_reply ok;
    ok.status = 200;
    ok.headers = {{"Content-Type", "application/json; charset=utf-8"}};
    ok.body = R"({"object":"page","id":")" + uuid_like(pages.size(), 0x9a6e0000) + R"(","archived":false})";
    return ok;
  }
};

fake_notion_server::fake_notion_server(notion_fake_options options)
  : state_(std::make_shared<state>(options)),
    server_([s = state_](const recorded_request& request, std::size_t) { return s->handle(request); }) {}

fake_notion_server::~fake_notion_server() { server_.stop(); }

std::string fake_notion_server::api_base() const { return server_.url(""); }

void fake_notion_server::fail_with(int status, std::string code) {
  std::lock_guard guard{state_->mutex};
  state_->failure.emplace(status, std::move(code));
}

void fake_notion_server::stop_failing() {
  std::lock_guard guard{state_->mutex};
  state_->failure.reset();
}

std::vector<std::string> fake_notion_server::pages() const {
  std::lock_guard guard{state_->mutex};
  return state_->pages;
}

std::string fake_notion_server::property_text(std::size_t page, std::string_view property) const {
  std::string body;
  {
    std::lock_guard guard{state_->mutex};
    if (page >= state_->pages.size())
      return {};
    body = state_->pages[page];
  }
  simdjson::dom::parser parser;
  simdjson::dom::object value;
  if (parser.parse(body)["properties"][property].get_object().get(value) != simdjson::SUCCESS)
    return {};
  simdjson::dom::array items;
  if (value["title"].get_array().get(items) != simdjson::SUCCESS &&
      value["rich_text"].get_array().get(items) != simdjson::SUCCESS)
    return {};
  std::string text;
  for (auto item : items) {
    std::string_view content;
    if (item["text"]["content"].get_string().get(content) == simdjson::SUCCESS)
      text += content;
  }
  return text;
}

std::size_t fake_notion_server::rate_limited_count() const {
  std::lock_guard guard{state_->mutex};
  return state_->limit.refused();
}

std::size_t fake_notion_server::early_request_count() const {
  std::lock_guard guard{state_->mutex};
  return state_->limit.early();
}

bool fake_notion_server::wait_for_pages(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock{state_->mutex};
  return state_->changed.wait_for(lock, timeout, [&] { return state_->pages.size() >= n; });
}

fake_sink_server& fake_notion_server::server() { return server_; }

} // namespace txrelay::testing
