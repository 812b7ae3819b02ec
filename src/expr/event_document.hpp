#pragma once
// The one JSON document conditions and templates see for an event:
//   {"topic": ..., "key": ... | null, "event_id": ..., "delivery_id": ... | null,
//    "created_at": "RFC 3339", "payload": {...}}
// so `payload.user.name`, `topic` and `created_at` are plain paths.
#include "core/delivery.hpp"
#include "core/json_value.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace txrelay {

struct event_fields {
  std::string_view topic;
  std::optional<std::string_view> key;
  std::string_view event_id;    // may be empty (before ids are chosen): then null
  std::string_view delivery_id; // may be empty: then null
  std::string_view created_at;  // may be empty: then null
};

/// The document for an event whose payload is already parsed.
json_value event_document(const event_fields& fields, json_value payload);

/// The same from the payload's JSON text; a payload that does not parse
/// (never the case for a stored event) becomes null.
json_value event_document_from_json(const event_fields& fields, std::string_view payload_json);

/// An optional key as event_fields wants it.
inline std::optional<std::string_view> key_view(const std::optional<std::string>& key) {
  return key ? std::optional<std::string_view>{*key} : std::nullopt;
}

/// The document of the event a delivery carries, with the delivery's id:
/// what a sink's templates, statement and on_dead render from.
json_value delivery_document(const delivery_job& job);

} // namespace txrelay
