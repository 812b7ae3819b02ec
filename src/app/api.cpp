#include "app/api.hpp"

#include "actors/protocol.hpp"
#include "core/ids.hpp"
#include "app/access.hpp"
#include "app/console.hpp"
#include "core/json_writer.hpp"
#include "core/utf8.hpp"
#include "logging/log.hpp"

#include <algorithm>
#include <charconv>
#include <string_view>
#include <tuple>

namespace txrelay {

http::response error_response(const api_error& err) {
  http::response res;
  res.status = err.status;
  res.body = err.to_json();
  return res;
}

namespace {

constexpr std::size_t max_idempotency_key = 200;
constexpr std::size_t max_batch_events = 1000;

bool is_json_content_type(std::string_view ct) {
  auto semi = ct.find(';');
  auto media = ct.substr(0, semi);
  while (!media.empty() && media.back() == ' ')
    media.remove_suffix(1);
  if (media.size() != 16)
    return false;
  static constexpr std::string_view expected = "application/json";
  for (std::size_t i = 0; i < media.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(media[i])) != expected[i])
      return false;
  return true;
}

void write_receipt(json_writer& w, const pg::ingest_receipt& r) {
  w.begin_object().key("id").string(r.event_id).key("topic").string(r.topic).key("created_at").string(r.created_at);
  w.key("deliveries").begin_array();
  for (const auto& d : r.deliveries)
    w.begin_object().key("id").string(d.id).key("sink").string(d.sink).end_object();
  w.end_array().end_object();
}

/// An event as GET /v1/events/{id} shows it. `with_attempts`: each
/// delivery's attempt history, with the sinks' answers, which an operator
/// reads and a producer (seeing its own receipt) does not.
std::string event_json(const pg::event_record& e, bool with_attempts) {
  json_writer w;
  w.begin_object().key("id").string(e.id).key("topic").string(e.topic).key("key").string_or_null(e.key);
  w.key("payload").raw(e.payload_json).key("created_at").string(e.created_at);
  // Events published from SQL are routed after their producer's COMMIT:
  // until then "pending", with no deliveries; "rejected" says why.
  w.key("routing").string(pg::to_string(e.routing));
  if (e.rejection_json)
    w.key("rejection").raw(*e.rejection_json);
  w.key("deliveries").begin_array();
  for (const auto& d : e.deliveries) {
    w.begin_object().key("id").string(d.id).key("sink").string(d.sink).key("status").string(d.status);
    w.key("attempts").number(d.attempts);
    w.key("next_attempt_at");
    if (d.status == "pending")
      w.string(d.next_attempt_at);
    else
      w.null();
    w.key("last_status").number_or_null(d.last_status);
    w.key("last_error").string_or_null(d.last_error);
    w.key("updated_at").string(d.updated_at);
    if (with_attempts) {
      w.key("attempt_history").begin_array();
      for (const auto& a : d.history) {
        w.begin_object().key("attempt").number(a.attempt).key("at").string(a.at);
        w.key("duration_ms").number(a.duration_ms).key("outcome").string(a.outcome);
        w.key("http_status").number_or_null(a.http_status).key("error_class").string_or_null(a.error_class);
        w.key("error").string_or_null(a.error).key("response_excerpt").string_or_null(a.response_excerpt);
        w.end_object();
      }
      w.end_array();
    }
    w.end_object();
  }
  w.end_array().end_object();
  return std::move(w).take();
}

std::string batch_error_json(const batch_error& err) {
  json_writer w;
  w.begin_object().key("error").begin_object();
  w.key("code").string(err.error.code).key("message").string(err.error.message);
  w.key("items").begin_array();
  for (const auto& item : err.items) {
    w.begin_object().key("index").number(static_cast<long long>(item.index));
    item.error.write_members(w);
    w.end_object();
  }
  w.end_array().end_object().end_object();
  return std::move(w).take();
}

/// The route a request names, as metrics label it: a method the API knows
/// and a path template, never the raw path (ids would make a series each,
/// and a client could make up any number of paths and methods).
std::string route_name(std::string_view method, std::string_view path) {
  static constexpr std::string_view methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"};
  static constexpr std::string_view fixed[] = {"/v1/events",       "/v1/events:batch", "/v1/sinks", "/v1/nodes",
                                               "/v1/admin/reload", "/v1/whoami",       "/metrics",  "/healthz"};
  std::string_view m = "OTHER";
  for (auto known : methods)
    if (method == known)
      m = known;
  std::string_view p = "unknown";
  for (auto known : fixed)
    if (path == known)
      p = known;
  auto tail = path.substr(path.rfind('/') + 1);
  auto slashes = std::count(path.begin(), path.end(), '/');
  if (is_console_path(path)) // the console's files: one label for them all
    p = "/ui";
  if (path.rfind("/v1/events/", 0) == 0)
    p = slashes == 3 ? "/v1/events/{id}" : tail == "replay" && slashes == 4 ? "/v1/events/{id}/replay" : p;
  if (path.rfind("/v1/sinks/", 0) == 0 && slashes == 4) {
    if (tail == "pause")
      p = "/v1/sinks/{name}/pause";
    else if (tail == "resume")
      p = "/v1/sinks/{name}/resume";
    else if (tail == "replay")
      p = "/v1/sinks/{name}/replay";
    else if (tail == "dead")
      p = "/v1/sinks/{name}/dead";
  }
  return std::string{m} + " " + std::string{p};
}

/// A limit query parameter: absent gives `fallback`; anything but a whole
/// number in [1, max] is an error naming the range.
result<int, api_error> limit_param(const http::request& req, int fallback, int max) {
  auto limit = req.query_param("limit");
  if (!limit)
    return fallback;
  int n = 0;
  auto [end, ec] = std::from_chars(limit->data(), limit->data() + limit->size(), n);
  if (ec != std::errc{} || end != limit->data() + limit->size() || n < 1 || n > max)
    return unexpected{api_error{400, "invalid_query", "limit must be a whole number from 1 to " + std::to_string(max)}};
  return n;
}

/// GET /v1/whoami: the key's name and role, so a client (the console) shows
/// only what the key may do. Without keys (none configured, on loopback, or
/// authentication disabled) every request is allowed: an admin's, unnamed.
http::response whoami(const api_key* key) {
  json_writer w;
  w.begin_object().key("name");
  if (key)
    w.string(key->name);
  else
    w.null();
  w.key("role").string(key ? to_string(key->role) : "admin").key("authenticated").boolean(key != nullptr).end_object();
  http::response res;
  res.body = std::move(w).take();
  return res;
}

http::response method_not_allowed(std::string_view allow) {
  auto res = error_response({405, "method_not_allowed", "use " + std::string{allow} + " on this path"});
  res.headers.emplace_back("Allow", std::string{allow});
  return res;
}

} // namespace

void api::handle(http::request&& req, http::respond_fn respond_unlabelled) const {
  // Every answer carries the route it came from, for the request metrics.
  http::respond_fn respond = [route = route_name(req.method, req.path()),
                              respond = std::move(respond_unlabelled)](http::response res) {
    res.route = route;
    respond(std::move(res));
  };
  // A page on another site can make a browser send requests here (a form,
  // or DNS rebinding to a loopback address): the Host it names, and for
  // state changes a JSON content type, which no HTML form can send.
  if (!options_.allowed_hosts.empty()) {
    auto host = host_of(req.header("host"));
    if (std::find(options_.allowed_hosts.begin(), options_.allowed_hosts.end(), host) == options_.allowed_hosts.end())
      return respond(error_response({421, "host_not_allowed", "this server does not answer for that Host"}));
  }
  auto needed = required_access(req.method, req.path());
  const api_key* key = nullptr;
  if (needed != access::open && !options_.auth.keys.empty()) {
    key = keys_.authenticate(req.header("authorization"));
    if (!key) {
      auto res = error_response({401, "unauthorized", req.header("authorization").empty()
                                                        ? "send an API key: Authorization: Bearer <key>"
                                                        : "unknown API key"});
      res.headers.emplace_back("WWW-Authenticate", "Bearer");
      return respond(std::move(res));
    }
    if (!permits(key->role, needed))
      return respond(error_response({403, "forbidden", std::string{"a "} + to_string(key->role) +
                                                         " key may not make this request"}));
    if (needed == access::admin)
      log::info("audit: key " + key->name + ": " + req.method + " " + std::string{req.path()});
  } else if (needed == access::admin) {
    log::info(std::string{"audit: "} + (options_.auth.disabled ? "(authentication disabled)" : "(no API keys, loopback)") +
              ": " + req.method + " " + std::string{req.path()});
  }
  if (needed == access::admin && !is_json_content_type(req.header("content-type")))
    return respond(error_response({415, "unsupported_media_type",
                                   "send Content-Type: application/json (an empty body is fine)"}));
  route(std::move(req), std::move(respond), key);
}

void api::route(http::request&& req, http::respond_fn respond, const api_key* key) const {
  auto path = req.path();
  if (is_console_path(path)) {
    if (req.method != "GET")
      return respond(method_not_allowed("GET"));
    return respond(console_response(path, req.header("if-none-match")));
  }
  if (path == "/v1/whoami") {
    if (req.method != "GET")
      return respond(method_not_allowed("GET"));
    return respond(whoami(key));
  }
  if (path == "/v1/events" && req.method == "GET")
    return search_events(req, std::move(respond));
  if (path == "/v1/events" || path == "/v1/events:batch") {
    if (req.method != "POST")
      return respond(method_not_allowed(path == "/v1/events" ? "GET, POST" : "POST"));
    return post_events(std::move(req), path == "/v1/events:batch", std::move(respond), key);
  }
  if (path.rfind("/v1/events/", 0) == 0) {
    // /v1/events/{id} and /v1/events/{id}/replay
    auto rest = path.substr(11);
    auto slash = rest.find('/');
    auto id = std::string{rest.substr(0, slash)};
    if (slash != std::string_view::npos && rest.substr(slash + 1) != "replay")
      return respond(error_response({404, "not_found", "no such endpoint (GET /v1/events/{id}, POST /v1/events/{id}/replay)"}));
    bool replay = slash != std::string_view::npos;
    if (req.method != (replay ? "POST" : "GET"))
      return respond(method_not_allowed(replay ? "POST" : "GET"));
    if (!is_uuid(id))
      return respond(error_response({404, "not_found", "no event with that id"}));
    if (replay) {
      pg::replay_filter filter;
      filter.event_id = std::move(id);
      return replay_dead(std::move(filter), std::move(respond));
    }
    std::optional<std::string> owner;
    if (key && key->role == api_role::producer)
      owner = key->name;
    return get_event(std::move(id), std::move(owner), std::move(respond));
  }
  // The fixed paths: one method each, the request's body unused.
  using handler = void (api::*)(http::respond_fn) const;
  static constexpr std::tuple<std::string_view, std::string_view, handler> fixed[] = {
    {"/metrics", "GET", &api::get_metrics},          {"/v1/sinks", "GET", &api::get_sinks},
    {"/v1/nodes", "GET", &api::get_nodes},           {"/v1/admin/reload", "POST", &api::reload_config},
    {"/healthz", "GET", &api::get_health},
  };
  for (const auto& [fixed_path, method, handle] : fixed) {
    if (path != fixed_path)
      continue;
    if (req.method != method)
      return respond(method_not_allowed(method));
    return (this->*handle)(std::move(respond));
  }
  if (path.rfind("/v1/sinks/", 0) == 0) {
    // /v1/sinks/{name}/pause and /v1/sinks/{name}/resume
    auto rest = path.substr(10);
    auto slash = rest.find('/');
    auto action = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    if (action == "dead") {
      if (req.method != "GET")
        return respond(method_not_allowed("GET"));
      return list_dead(std::string{rest.substr(0, slash)}, req, std::move(respond));
    }
    if (action != "pause" && action != "resume" && action != "replay")
      return respond(error_response(
        {404, "not_found", "no such endpoint (POST /v1/sinks/{name}/pause, /resume or /replay; GET /v1/sinks/{name}/dead)"}));
    if (req.method != "POST")
      return respond(method_not_allowed("POST"));
    if (action == "replay") {
      auto name = std::string{rest.substr(0, slash)};
      pg::replay_filter filter;
      filter.sinks = sink_instances(name);
      if (filter.sinks.empty())
        return respond(error_response({404, "not_found", "no sink named \"" + name + "\""}));
      return replay_dead(std::move(filter), std::move(respond));
    }
    return control_sink(std::string{rest.substr(0, slash)},
                        action == "pause" ? sink_command::pause : sink_command::resume, std::move(respond));
  }
  respond(error_response({404, "not_found", "no such endpoint"}));
}

void api::post_events(http::request&& req, bool batch, http::respond_fn respond, const api_key* key) const {
  if (!is_json_content_type(req.header("content-type")))
    return respond(error_response({415, "unsupported_media_type", "send events as application/json"}));
  auto idem = req.header("idempotency-key");
  if (idem.size() > max_idempotency_key)
    return respond(error_response(
      {400, "invalid_idempotency_key", "Idempotency-Key is longer than " + std::to_string(max_idempotency_key)}));
  for (unsigned char c : idem)
    if (c < 0x20 || c == 0x7f)
      return respond(error_response({400, "invalid_idempotency_key", "Idempotency-Key must be printable text"}));
  // Compensation events use "on_dead:<delivery id>"; a client key of that
  // form could suppress a compensation, so the prefix is txrelay's own.
  if (idem.rfind("on_dead:", 0) == 0)
    return respond(error_response({400, "invalid_idempotency_key", "Idempotency-Key may not start with on_dead:"}));

  // Parsing and schema checks are linear in the body, but a large body still
  // takes milliseconds: off the I/O thread that every connection and every
  // sink's HTTP client share, so one client's megabyte cannot delay anyone's
  // /healthz. Small bodies (nearly all) stay inline: the hop would cost more.
  std::optional<std::string> producer;
  if (key)
    producer = key->name;
  if (options_.offload && req.body.size() > options_.inline_body_bytes) {
    return options_.offload([this, body = std::move(req.body), idem = std::string{idem}, batch,
                             producer = std::move(producer), respond = std::move(respond)]() mutable {
      admit_and_submit(body, idem, batch, std::move(producer), std::move(respond));
    });
  }
  admit_and_submit(req.body, std::string{idem}, batch, std::move(producer), std::move(respond));
}

void api::admit_and_submit(const std::string& body, const std::string& idem, bool batch,
                           std::optional<std::string> producer, http::respond_fn respond) const {
  std::vector<parsed_event> parsed;
  if (batch) {
    auto events = parse_event_batch(body, options_.limits, max_batch_events);
    if (!events) {
      http::response res;
      res.status = events.error().error.status;
      res.body = batch_error_json(events.error());
      return respond(std::move(res));
    }
    parsed = std::move(*events);
  } else {
    auto event = parse_event_body(body, options_.limits);
    if (!event)
      return respond(error_response(event.error()));
    parsed.push_back(std::move(*event));
  }

  event_batch submissions;
  submissions.reserve(parsed.size());
  batch_error refused{{422, "", ""}, {}};
  const auto admission = options_.admission->current(); // one version for the whole request
  for (std::size_t i = 0; i < parsed.size(); ++i) {
    auto& ev = parsed[i];
    auto sinks = admission->admit(ev);
    if (!sinks) {
      refused.items.push_back({i, std::move(sinks.error())});
      continue;
    }
    event_submission sub;
    sub.topic = std::move(ev.topic);
    sub.key = std::move(ev.key);
    sub.payload_json = std::move(ev.payload_json);
    sub.sinks = std::move(*sinks);
    sub.producer = producer;
    // A batch's key covers all its events: each gets "<key>\x1f<index>", so
    // a repeated batch finds every one of its earlier events. A header value
    // cannot contain \x1f (control characters are refused above), so no
    // single-event key can collide with a batch's.
    if (!idem.empty())
      sub.idempotency_key = batch ? std::string{idem} + "\x1f" + std::to_string(i) : std::string{idem};
    submissions.push_back(std::move(sub));
  }
  if (!refused.items.empty()) {
    if (!batch)
      return respond(error_response(refused.items.front().error));
    // One code for the batch when every refusal has the same one.
    refused.error.code = refused.items.front().error.code;
    for (const auto& item : refused.items)
      if (item.error.code != refused.error.code)
        refused.error.code = "invalid_events";
    refused.error.message = std::to_string(refused.items.size()) + " of " + std::to_string(parsed.size()) +
                            " events were refused; nothing was stored";
    http::response res;
    res.status = 422;
    res.body = batch_error_json(refused);
    return respond(std::move(res));
  }

  ingest_reply reply = [batch, respond = std::move(respond)](result<ingest_receipts, api_error> r) {
    if (!r) {
      auto res = error_response(r.error());
      if (r.error().status == 503) // overloaded, or the database away: nothing was stored, retry
        res.headers.emplace_back("Retry-After", "1");
      return respond(std::move(res));
    }
    bool any_created = false;
    for (const auto& rc : *r)
      any_created |= rc.created;
    http::response res;
    res.status = any_created ? 201 : 200;
    json_writer w;
    if (batch) {
      w.begin_object().key("events").begin_array();
      for (const auto& receipt : *r)
        write_receipt(w, receipt);
      w.end_array().end_object();
    } else {
      write_receipt(w, r->front());
    }
    res.body = std::move(w).take();
    respond(std::move(res));
  };
  bool projected = std::any_of(submissions.begin(), submissions.end(), [&](const event_submission& sub) {
    return routed_to_any(sub, options_.in_transaction_sinks);
  });
  if (projected)
    options_.ingest->submit_alone(std::move(submissions), std::move(reply));
  else
    options_.ingest->submit(std::move(submissions), std::move(reply));
}

void api::get_event(std::string id, std::optional<std::string> owner, http::respond_fn respond) const {
  // An id older than the shortest retention may name an event that retention
  // deleted. The id alone decides it (UUIDv7 carries its time), so the answer
  // says nothing about whether such an event ever existed.
  auto made = uuid_v7_time(id);
  bool may_have_expired = shortest_retention_ && made && *made < options_.clock->now() - *shortest_retention_;
  event_reply reply = [owner = std::move(owner), may_have_expired,
                       respond = std::move(respond)](result<event_lookup, api_error> r) {
    if (!r)
      return respond(error_response(r.error()));
    // Another producer's event is answered as if it did not exist (and an
    // old id as one that may have expired, whether it exists or not).
    bool absent = !r->record || (owner && r->record->producer != owner);
    if (absent && may_have_expired)
      return respond(error_response(
        {404, "expired", "no event with that id; it is older than the retention period, so it may have been deleted"}));
    if (absent)
      return respond(error_response({404, "not_found", "no event with that id"}));
    http::response res;
    res.body = event_json(*r->record, !owner);
    respond(std::move(res));
  };
  caf::anon_send(options_.http_actor, get_event_atom::value, std::move(id), std::move(reply));
}

void api::replay_dead(pg::replay_filter filter, http::respond_fn respond) const {
  if (filter.sinks.empty()) // every sink there is (a removed sink's rows stay dead)
    for (const auto& sink : *options_.sinks->current())
      filter.sinks.push_back(sink.name);
  replay_reply reply = [respond = std::move(respond)](result<replay_report, api_error> r) {
    if (!r)
      return respond(error_response(r.error()));
    json_writer w;
    w.begin_object().key("replayed").begin_array();
    for (const auto& d : r->deliveries)
      w.begin_object().key("id").string(d.id).key("sink").string(d.sink).end_object();
    w.end_array().key("more").boolean(r->more).end_object();
    http::response res;
    res.body = std::move(w).take();
    respond(std::move(res));
  };
  caf::anon_send(options_.http_actor, replay_atom::value, std::move(filter), std::move(reply));
}

std::vector<std::string> api::sink_instances(std::string_view name) const {
  std::vector<std::string> instances;
  for (const auto& s : *options_.sinks->current())
    if (s.name == name || s.partition_of == name)
      instances.push_back(s.name);
  return instances;
}

void api::list_dead(const std::string& name, const http::request& req, http::respond_fn respond) const {
  dead_list_request list;
  list.sinks = sink_instances(name);
  if (list.sinks.empty())
    return respond(error_response({404, "not_found", "no sink named \"" + name + "\""}));
  auto asked = limit_param(req, list.limit, 1000);
  if (!asked)
    return respond(error_response(asked.error()));
  list.limit = *asked;
  if (auto after = req.query_param("after")) {
    if (!is_uuid(*after))
      return respond(error_response({400, "invalid_query", "after must be a delivery id (a UUID) from an earlier page's next"}));
    list.after_id = std::move(*after);
  }
  const auto limit = list.limit;
  dead_list_reply reply = [limit, respond = std::move(respond)](result<dead_list, api_error> r) {
    if (!r)
      return respond(error_response(r.error()));
    json_writer w;
    w.begin_object().key("dead").begin_array();
    for (const auto& d : r->items) {
      w.begin_object().key("id").string(d.id).key("event_id").string(d.event_id).key("sink").string(d.sink);
      w.key("topic").string(d.topic).key("key").string_or_null(d.key).key("attempts").number(d.attempts);
      w.key("last_status").number_or_null(d.last_status).key("last_error").string_or_null(d.last_error);
      w.key("died_at").string(d.died_at).key("created_at").string(d.created_at).end_object();
    }
    w.end_array().key("next");
    // A full page may have more behind it: its last id is where the next starts.
    if (static_cast<int>(r->items.size()) == limit)
      w.string(r->items.back().id);
    else
      w.null();
    w.end_object();
    http::response res;
    res.body = std::move(w).take();
    respond(std::move(res));
  };
  caf::anon_send(options_.http_actor, dead_list_atom::value, std::move(list), std::move(reply));
}

namespace {

void write_search_page(json_writer& w, const pg::event_page& page) {
  w.begin_object().key("events").begin_array();
  for (const auto& e : page.events) {
    w.begin_object().key("id").string(e.id).key("topic").string(e.topic).key("key").string_or_null(e.key);
    w.key("created_at").string(e.created_at).key("routing").string(pg::to_string(e.routing));
    w.key("deliveries").begin_array();
    for (const auto& d : e.deliveries) {
      w.begin_object().key("id").string(d.id).key("sink").string(d.sink).key("status").string(d.status);
      w.key("attempts").number(d.attempts).key("last_status").number_or_null(d.last_status);
      w.key("last_error").string_or_null(d.last_error).key("updated_at").string(d.updated_at).end_object();
    }
    w.end_array().end_object();
  }
  w.end_array().key("next").string_or_null(page.next).end_object();
}

} // namespace

void api::search_events(const http::request& req, http::respond_fn respond) const {
  pg::event_query query;
  auto fail = [&](std::string message) { respond(error_response({400, "invalid_query", std::move(message)})); };
  for (const auto& [name, max] : {std::pair{"topic", 200}, std::pair{"key", 200}}) {
    auto value = req.query_param(name);
    if (!value)
      continue;
    if (value->empty() || value->size() > static_cast<std::size_t>(max))
      return fail(std::string{name} + " must be 1 to " + std::to_string(max) + " bytes");
    if (!is_text(*value)) // NUL or malformed: a prefix would be searched, or the database refuse it
      return fail(std::string{name} + " must be UTF-8 text without NUL");
    (std::string_view{name} == "topic" ? query.topic : query.key) = std::move(*value);
  }
  if (auto status = req.query_param("status")) {
    query.status = pg::parse_search_status(*status);
    if (!query.status)
      return fail("status must be pending, delivered, dead or rejected");
  }
  if (auto sink = req.query_param("sink")) {
    if (sink->empty() || !is_text(*sink))
      return fail("sink must be a sink's name");
    query.sinks = sink_instances(*sink);
    if (query.sinks.empty()) // a removed sink's deliveries keep its name
      query.sinks.push_back(std::move(*sink));
  }
  for (const auto& [name, field] : {std::pair{"since", &query.since}, std::pair{"until", &query.until}}) {
    auto value = req.query_param(name);
    if (!value)
      continue;
    auto at = parse_rfc3339(*value);
    if (!at)
      return fail(std::string{name} + " must be an RFC 3339 time, e.g. 2026-12-01T14:02:00Z");
    *field = *at;
  }
  if (auto cursor = req.query_param("cursor")) {
    if (!is_uuid(*cursor))
      return fail("cursor must be the next of an earlier page");
    query.before_id = std::move(*cursor);
  }
  auto limit = limit_param(req, 50, 500);
  if (!limit)
    return respond(error_response(limit.error()));
  query.limit = *limit;
  search_reply reply = [respond = std::move(respond)](result<pg::event_page, api_error> r) {
    if (!r)
      return respond(error_response(r.error()));
    json_writer w;
    write_search_page(w, *r);
    http::response res;
    res.body = std::move(w).take();
    respond(std::move(res));
  };
  caf::anon_send(options_.http_actor, search_atom::value, std::move(query), std::move(reply));
}

namespace {

std::string reload_json(const reload_report& r) {
  json_writer w;
  w.begin_object().strings("added", r.change.added_sinks).strings("changed", r.change.changed_sinks);
  w.key("removed").begin_array();
  for (const auto& [name, pending] : r.removed_pending)
    w.begin_object().key("name").string(name).key("pending").number_or_null(pending).end_object();
  w.end_array().key("routing_changed").boolean(r.change.routing_changed).strings("warnings", r.warnings);
  w.end_object();
  return std::move(w).take();
}

} // namespace

void api::get_nodes(http::respond_fn respond) const {
  nodes_reply reply = [self_id = options_.node_id, respond = std::move(respond)](result<node_list, api_error> r) {
    if (!r)
      return respond(error_response(r.error()));
    json_writer w;
    w.begin_object().key("self").string(self_id).key("nodes").begin_array();
    for (const auto& n : r->nodes) {
      w.begin_object().key("id").string(n.id).key("started_at").string(n.started_at);
      w.key("heartbeat_at").string(n.heartbeat_at).key("live").boolean(n.live).strings("leases", n.leases);
      w.end_object();
    }
    w.end_array().end_object();
    http::response res;
    res.body = std::move(w).take();
    respond(std::move(res));
  };
  caf::anon_send(options_.http_actor, nodes_atom::value, std::move(reply));
}

void api::reload_config(http::respond_fn respond) const {
  if (!options_.reload)
    return respond(error_response({404, "not_found", "this server has no config file to reload"}));
  // Reading the file and recording the topics block: never on the I/O thread.
  auto work = [reload = options_.reload, respond = std::move(respond)] {
    auto report = reload();
    if (!report)
      return respond(error_response(report.error()));
    http::response res;
    res.body = reload_json(*report);
    respond(std::move(res));
  };
  if (options_.offload)
    return options_.offload(std::move(work));
  work();
}

void api::get_metrics(http::respond_fn respond) const {
  counts_reply reply = [metrics = options_.metrics, clock = options_.clock,
                        respond = std::move(respond)](result<pending_counts, api_error> r) {
    http::response res;
    res.content_type = "text/plain; version=0.0.4";
    // Without the database the counters still render; pending counts are omitted.
    res.body = r ? metrics->render(r->by_sink, clock->now(), r->process) : metrics->render({}, clock->now());
    // (With backlog_error set, by_sink is empty: the counters render, pending counts are omitted.)
    respond(std::move(res));
  };
  caf::anon_send(options_.http_actor, counts_atom::value, std::move(reply));
}

void api::get_sinks(http::respond_fn respond) const {
  counts_reply reply = [sinks_now = options_.sinks->current(), metrics = options_.metrics, clock = options_.clock,
                        respond = std::move(respond)](result<pending_counts, api_error> r) {
    if (!r)
      return respond(error_response(r.error()));
    if (r->backlog_error)
      return respond(error_response(*r->backlog_error));
    json_writer w;
    w.begin_object().key("sinks").begin_array();
    for (const auto& sink : *sinks_now) {
      auto& m = metrics->sink(sink.name);
      auto& actor = metrics->actor("sender:" + sink.name);
      sink_backlog backlog{sink.name, 0, std::nullopt};
      for (const auto& b : r->by_sink)
        if (b.sink == sink.name)
          backlog = b;
      auto rel = std::memory_order_relaxed;
      auto now_ms = std::chrono::duration_cast<millis>(clock->now().time_since_epoch()).count();
      w.begin_object().key("name").string(sink.name);
      if (!sink.partition_of.empty())
        w.key("partition_of").string(sink.partition_of);
      w.key("kind").string(to_string(sink.kind));
      // Only the redacted form: a sink URL's path is often its credential.
      w.key("endpoint");
      if (sink.endpoint)
        w.string(sink.endpoint->redacted());
      else
        w.null();
      w.key("signed").boolean(!sink.secrets.empty());
      w.key("state").string(m.state(now_ms));
      w.key("circuit").string(to_string(static_cast<circuit_state>(m.circuit.load(rel))));
      w.key("circuit_opened").number(m.circuit_opened.load(rel));
      // An instant as RFC 3339, or null when there is none.
      auto instant_or_null = [&](std::optional<time_point> t) {
        if (t)
          w.string(format_rfc3339(*t));
        else
          w.null();
      };
      auto unix_ms_if = [](std::int64_t unix_ms, bool present) {
        return present ? std::optional<time_point>{time_point{millis{unix_ms}}} : std::nullopt;
      };
      auto until = m.wait_until_ms.load(rel);
      w.key("wait_until");
      instant_or_null(unix_ms_if(until, until > now_ms));
      w.key("paused").boolean(m.paused.load(rel) != 0);
      w.key("ordering").string(sink.ordering == delivery_ordering::per_key ? "per_key" : "none");
      w.key("pending").number(backlog.pending);
      w.key("oldest_pending_at");
      instant_or_null(backlog.oldest);
      w.key("in_flight").number(m.in_flight.load(rel));
      w.key("in_memory").number(m.in_memory.load(rel));
      w.key("delivered").number(m.delivered.load(rel));
      w.key("failed_attempts").number(m.failed_attempts.load(rel));
      w.key("dead").number(m.dead.load(rel));
      w.key("restarts").number(actor.restarts.load(rel));
      // The latest error stays after the sink recovered: the times say
      // which came last (this node's attempts; another node's are its own).
      auto [err, err_ms] = m.last_error_and_time();
      w.key("last_error");
      if (!err.empty())
        w.string(err);
      else
        w.null();
      w.key("last_error_at");
      instant_or_null(unix_ms_if(err_ms, err_ms > 0));
      auto success_ms = m.last_success_ms.load(rel);
      w.key("last_success_at");
      instant_or_null(unix_ms_if(success_ms, success_ms > 0));
      w.end_object();
    }
    w.end_array().end_object();
    http::response res;
    res.body = std::move(w).take();
    respond(std::move(res));
  };
  caf::anon_send(options_.http_actor, counts_atom::value, std::move(reply));
}

void api::control_sink(std::string name, sink_command cmd, http::respond_fn respond) const {
  control_reply reply = [name, cmd, respond = std::move(respond)](result<sink_command, api_error> r) {
    if (!r)
      return respond(error_response(r.error()));
    http::response res;
    json_writer w;
    w.begin_object().key("name").string(name).key("paused").boolean(cmd == sink_command::pause).end_object();
    res.body = std::move(w).take();
    respond(std::move(res));
  };
  caf::anon_send(options_.supervisor, sink_control_atom::value, std::move(name), cmd, std::move(reply));
}

void api::get_health(http::respond_fn respond) const {
  health_reply reply = [respond = std::move(respond)](result<bool, api_error> r) {
    // The reason (a host, a port, a user name) goes to the log, not to
    // whoever asks: /healthz needs no key.
    if (!r)
      return respond(error_response({503, "database_unavailable", "the database does not answer"}));
    http::response res;
    json_writer w;
    w.begin_object().key("status").string("ok").key("database").string("ok").end_object();
    res.body = std::move(w).take();
    respond(std::move(res));
  };
  caf::anon_send(options_.http_actor, health_atom::value, std::move(reply));
}

} // namespace txrelay
