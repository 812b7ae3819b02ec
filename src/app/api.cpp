#include "app/api.hpp"

#include "actors/protocol.hpp"
#include "core/ids.hpp"
#include "core/json.hpp"

namespace txrelay {

http::response error_response(const api_error& err) {
  http::response res;
  res.status = err.status;
  res.body = err.to_json();
  return res;
}

namespace {

constexpr std::size_t max_idempotency_key = 200;

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

std::string receipt_json(const pg::ingest_receipt& r) {
  std::string out = "{\"id\":";
  append_json_string(out, r.event_id);
  out += ",\"topic\":";
  append_json_string(out, r.topic);
  out += ",\"created_at\":";
  append_json_string(out, r.created_at);
  out += ",\"deliveries\":[";
  for (std::size_t i = 0; i < r.deliveries.size(); ++i) {
    if (i > 0)
      out += ',';
    out += "{\"id\":";
    append_json_string(out, r.deliveries[i].id);
    out += ",\"sink\":";
    append_json_string(out, r.deliveries[i].sink);
    out += '}';
  }
  out += "]}";
  return out;
}

std::string event_json(const pg::event_record& e) {
  std::string out = "{\"id\":";
  append_json_string(out, e.id);
  out += ",\"topic\":";
  append_json_string(out, e.topic);
  out += ",\"key\":";
  if (e.key)
    append_json_string(out, *e.key);
  else
    out += "null";
  out += ",\"payload\":";
  out += e.payload_json;
  out += ",\"created_at\":";
  append_json_string(out, e.created_at);
  out += ",\"deliveries\":[";
  for (std::size_t i = 0; i < e.deliveries.size(); ++i) {
    const auto& d = e.deliveries[i];
    if (i > 0)
      out += ',';
    out += "{\"id\":";
    append_json_string(out, d.id);
    out += ",\"sink\":";
    append_json_string(out, d.sink);
    out += ",\"status\":";
    append_json_string(out, d.status);
    out += ",\"attempts\":" + std::to_string(d.attempts);
    out += ",\"next_attempt_at\":";
    if (d.status == "pending")
      append_json_string(out, d.next_attempt_at);
    else
      out += "null";
    out += ",\"last_status\":";
    out += d.last_status ? std::to_string(*d.last_status) : "null";
    out += ",\"last_error\":";
    if (d.last_error)
      append_json_string(out, *d.last_error);
    else
      out += "null";
    out += ",\"updated_at\":";
    append_json_string(out, d.updated_at);
    out += '}';
  }
  out += "]}";
  return out;
}

http::response method_not_allowed(std::string_view allow) {
  auto res = error_response({405, "method_not_allowed", "use " + std::string{allow} + " on this path"});
  res.headers.emplace_back("Allow", std::string{allow});
  return res;
}

} // namespace

void api::handle(http::request&& req, http::respond_fn respond) const {
  auto path = req.path();
  if (path == "/v1/events") {
    if (req.method != "POST")
      return respond(method_not_allowed("POST"));
    return post_event(std::move(req), std::move(respond));
  }
  if (path.rfind("/v1/events/", 0) == 0) {
    if (req.method != "GET")
      return respond(method_not_allowed("GET"));
    auto id = std::string{path.substr(11)};
    if (!is_uuid(id))
      return respond(error_response({404, "not_found", "no event with that id"}));
    return get_event(std::move(id), std::move(respond));
  }
  if (path == "/metrics") {
    if (req.method != "GET")
      return respond(method_not_allowed("GET"));
    return get_metrics(std::move(respond));
  }
  if (path == "/healthz") {
    if (req.method != "GET")
      return respond(method_not_allowed("GET"));
    return get_health(std::move(respond));
  }
  respond(error_response({404, "not_found", "no such endpoint"}));
}

void api::post_event(http::request&& req, http::respond_fn respond) const {
  if (!is_json_content_type(req.header("content-type")))
    return respond(error_response({415, "unsupported_media_type", "send the event as application/json"}));
  event_submission submission;
  auto idem = req.header("idempotency-key");
  if (!idem.empty()) {
    if (idem.size() > max_idempotency_key)
      return respond(error_response(
        {400, "invalid_idempotency_key", "Idempotency-Key is longer than " + std::to_string(max_idempotency_key)}));
    submission.idempotency_key = std::string{idem};
  }
  auto parsed = parse_event_body(req.body, options_.limits);
  if (!parsed)
    return respond(error_response(parsed.error()));
  const auto& sinks = options_.routes.sinks_for(parsed->topic);
  if (sinks.empty())
    return respond(error_response({422, "no_route", "no route for topic \"" + parsed->topic + "\""}));
  submission.topic = std::move(parsed->topic);
  submission.key = std::move(parsed->key);
  submission.payload_json = std::move(parsed->payload_json);
  submission.sinks = sinks;
  ingest_reply reply = [respond = std::move(respond)](result<pg::ingest_receipt, api_error> r) {
    if (!r)
      return respond(error_response(r.error()));
    http::response res;
    res.status = r->created ? 201 : 200;
    res.body = receipt_json(*r);
    respond(std::move(res));
  };
  caf::anon_send(options_.http_actor, ingest_atom::value, std::move(submission), std::move(reply));
}

void api::get_event(std::string id, http::respond_fn respond) const {
  event_reply reply = [respond = std::move(respond)](result<event_lookup, api_error> r) {
    if (!r)
      return respond(error_response(r.error()));
    if (!r->record)
      return respond(error_response({404, "not_found", "no event with that id"}));
    http::response res;
    res.body = event_json(*r->record);
    respond(std::move(res));
  };
  caf::anon_send(options_.http_actor, get_event_atom::value, std::move(id), std::move(reply));
}

void api::get_metrics(http::respond_fn respond) const {
  counts_reply reply = [metrics = options_.metrics, respond = std::move(respond)](result<pending_counts, api_error> r) {
    http::response res;
    res.content_type = "text/plain; version=0.0.4";
    // Without the database the counters still render; pending counts are omitted.
    res.body = metrics->render(r ? r->by_sink : std::vector<std::pair<std::string, long long>>{});
    respond(std::move(res));
  };
  caf::anon_send(options_.http_actor, counts_atom::value, std::move(reply));
}

void api::get_health(http::respond_fn respond) const {
  health_reply reply = [respond = std::move(respond)](result<bool, api_error> r) {
    if (!r)
      return respond(error_response({503, "database_unavailable", r.error().message}));
    http::response res;
    res.body = R"({"status":"ok","database":"ok"})";
    respond(std::move(res));
  };
  caf::anon_send(options_.http_actor, health_atom::value, std::move(reply));
}

} // namespace txrelay
