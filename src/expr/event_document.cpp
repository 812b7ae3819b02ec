#include "expr/event_document.hpp"

#include <utility>

namespace txrelay {

namespace {

// Ids and timestamps that are not chosen yet are empty; a condition sees them as null.
json_value text_or_null(std::string_view text) {
  if (text.empty())
    return json_value{};
  return json_value{std::string{text}};
}

} // namespace

json_value event_document(const event_fields& fields, json_value payload) {
  json_value::object_t members;
  members.reserve(6);
  members.emplace_back("topic", json_value{std::string{fields.topic}});
  members.emplace_back("key", fields.key ? json_value{std::string{*fields.key}} : json_value{});
  members.emplace_back("event_id", text_or_null(fields.event_id));
  members.emplace_back("delivery_id", text_or_null(fields.delivery_id));
  members.emplace_back("created_at", text_or_null(fields.created_at));
  members.emplace_back("payload", std::move(payload));
  return json_value{std::move(members)};
}

json_value event_document_from_json(const event_fields& fields, std::string_view payload_json) {
  auto payload = json_value::parse(payload_json);
  return event_document(fields, payload ? std::move(payload).value() : json_value{});
}

json_value delivery_document(const delivery_job& job) {
  return event_document_from_json(event_fields{job.topic, key_view(job.key), job.event_id, job.id, job.created_at},
                                  job.payload_json);
}

} // namespace txrelay
