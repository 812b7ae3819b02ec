// libFuzzer target: the HTTP request path, without sockets.
//
// The input is the byte stream a client sends on one connection. It is fed
// to Beast's request parser set up as src/http/server.cpp sets it up (fresh
// request_parser<string_body> per request, body_limit =
// server.max_body_bytes' default (1 MiB, what the engine passes the server),
// header_limit 16 KiB), with the end of the input as the client's EOF, the
// way beast::http::async_read_header/async_read consume a flat_buffer. Bytes
// left after a complete keep-alive request are the next (pipelined) request,
// up to 8 of them. Parse errors are classified as server.cpp's fail() does
// (413, 431, 400) and their JSON reply is built.
//
// A complete request becomes an http::request (as session::on_read builds
// it) and goes through the parts of api::handle that need no actor
// (api::handle itself sends to CAF actors, and its header checks are private
// to api.cpp): path(), find_header() for content-type, idempotency-key and
// expect, is_uuid() on /v1/events/{id}, parse_event_body or parse_event_batch
// for POST /v1/events[:batch], then event_admission::admit (schema, routes,
// `when` conditions) of every parsed event against a fixed config. Where
// core/api_key.hpp exists, the Authorization header is also checked against
// a fixed key set (api_key_set::authenticate, as api::handle does).
// Deterministic; no network, no file I/O.
#include "config/config.hpp"
#include "core/api_error.hpp"
#include "core/event_parser.hpp"
#include "core/ids.hpp"
#include "http/message.hpp"
#include "routing/event_admission.hpp"
#if __has_include("core/api_key.hpp")
#include "core/api_key.hpp"
#define TXRELAY_FUZZ_API_KEYS 1
#endif

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <unordered_map>

namespace {

using namespace txrelay;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;

[[noreturn]] void broken(const char* what) {
  std::fprintf(stderr, "http_request_fuzz: invariant broken: %s\n", what);
  std::abort();
}

constexpr std::uint32_t max_header_bytes = 16 * 1024; // server.cpp
constexpr std::size_t max_batch_events = 1000;        // api.cpp
constexpr int max_requests = 8;

constexpr const char* fixed_config = R"YAML(
sinks:
  - name: feedback-log
    kind: log
  - name: hook
    kind: webhook
    url: http://127.0.0.1:9/in
  - name: polls
    kind: log
routes:
  - topic: feedback
    sinks: [feedback-log, hook]
  - topic: poll
    when: payload.closed == false && exists(payload.title)
    sinks: [polls]
  - topic: poll
    when: payload.rating >= 4 || topic in ["x", "y"] || len(payload.tags) > 2
    sinks: [hook]
topics:
  feedback:
    payload:
      content: {type: string, required: true, not_blank: true, max_length: 800}
      contact: {type: string, max_length: 100}
      rating: {type: integer, minimum: 1, maximum: 5}
      kind: {one_of: [meeting, lunch]}
)YAML";

const event_admission& admission() {
  static const event_admission a = [] {
    auto config = load_config_text(fixed_config, "http_request_fuzz.yaml",
                                   [](const std::string&) { return std::optional<std::string>{}; });
    if (!config) {
      std::fprintf(stderr, "%s\n", config.error().to_string().c_str());
      broken("the fixed config does not load");
    }
    std::vector<std::string> sink_order;
    for (const auto& s : config->sinks)
      sink_order.push_back(s.name);
    std::unordered_map<std::string, payload_schema> schemas;
    for (const auto& t : config->topics)
      schemas[t.topic] = t.schema;
    return event_admission{routing_table{config->routes, sink_order}, std::move(schemas)};
  }();
  return a;
}

void admit(const parsed_event& ev) {
  auto sinks = admission().admit(ev);
  if (!sinks)
    (void)sinks.error().to_json();
}

#ifdef TXRELAY_FUZZ_API_KEYS
const api_key_set& keys() {
  static const api_key_set set{std::vector<api_key>{
    {"producer", api_role::producer, sha256_of("txr_producer_key_0123456789")},
    {"admin", api_role::admin, sha256_of("txr_admin_key_0123456789")},
  }};
  return set;
}
#endif

/// What api::handle does with a request, up to where it would message an actor.
void handle(const http::request& req) {
#ifdef TXRELAY_FUZZ_API_KEYS
  if (const auto* key = keys().authenticate(req.header("authorization")))
    (void)to_string(key->role);
#endif
  (void)req.header("host");
  auto path = req.path();
  if (path == "/v1/events" || path == "/v1/events:batch") {
    (void)req.header("content-type");
    auto idem = req.header("idempotency-key");
    (void)idem.size();
    const event_limits limits{};
    if (path == "/v1/events:batch") {
      auto events = parse_event_batch(req.body, limits, max_batch_events);
      if (!events) {
        (void)events.error().error.to_json();
        for (const auto& item : events.error().items)
          (void)item.error.to_json();
        return;
      }
      for (const auto& ev : *events)
        admit(ev);
    } else {
      auto ev = parse_event_body(req.body, limits);
      if (!ev) {
        (void)ev.error().to_json();
        return;
      }
      admit(*ev);
    }
    return;
  }
  if (path.rfind("/v1/events/", 0) == 0) {
    auto rest = path.substr(11);
    auto slash = rest.find('/');
    (void)is_uuid(rest.substr(0, slash));
    return;
  }
  if (path.rfind("/v1/sinks/", 0) == 0) {
    auto rest = path.substr(10);
    auto slash = rest.find('/');
    (void)(slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1));
  }
}

/// server.cpp's fail(): the replies the server writes itself.
void reply_to_error(const boost::beast::error_code& ec, std::size_t max_body_bytes) {
  api_error err;
  if (ec == bhttp::error::body_limit)
    err = {413, "payload_too_large", "the request body is larger than " + std::to_string(max_body_bytes) + " bytes"};
  else if (ec == bhttp::error::header_limit)
    err = {431, "headers_too_large", "the request line and headers are larger than 16384 bytes"};
  else if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category())
    err = {400, "bad_request", "malformed HTTP request: " + ec.message()};
  else
    return;
  (void)err.to_json();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::size_t max_body_bytes = server_config{}.max_body_bytes;
  std::string_view rest{reinterpret_cast<const char*>(data), size};

  for (int i = 0; i < max_requests && !rest.empty(); ++i) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.body_limit(max_body_bytes);
    parser.header_limit(max_header_bytes);
    boost::beast::error_code ec;
    while (!parser.is_done()) {
      if (!rest.empty()) {
        ec = {};
        std::size_t used = parser.put(net::buffer(rest.data(), rest.size()), ec);
        if (used > rest.size())
          broken("the parser consumed more than it was given");
        rest.remove_prefix(used);
        if (!ec && used > 0)
          continue;
        if (ec && ec != bhttp::error::need_more)
          break; // malformed, or over a limit
      }
      // Nothing more arrives: the client's EOF, as beast's read ops handle it.
      ec = {};
      if (parser.got_some())
        parser.put_eof(ec);
      else
        ec = bhttp::error::end_of_stream;
      break;
    }
    if (parser.is_header_done())
      (void)http::iequals(parser.get()[bhttp::field::expect], "100-continue");
    if (ec || !parser.is_done()) {
      reply_to_error(ec, max_body_bytes);
      return 0; // the server answers (or not) and closes the connection
    }

    auto& in = parser.get();
    bool keep_alive = in.keep_alive();
    http::request req;
    req.method = std::string{in.method_string()};
    req.target = std::string{in.target()};
    for (const auto& field : in)
      req.headers.emplace_back(std::string{field.name_string()}, std::string{field.value()});
    req.body = std::move(in.body());
    if (req.body.size() > max_body_bytes)
      broken("a body over the limit was accepted");
    handle(req);
    if (!keep_alive)
      return 0;
  }
  return 0;
}
