#include "routing/compensation.hpp"

#include "expr/event_document.hpp"

namespace txrelay {

compensation_event render_compensation(const std::string& topic, const std::optional<text_template>& key,
                                       const json_template& payload, const delivery_job& job,
                                       const std::string& error) {
  auto doc = delivery_document(job);
  doc.set("sink", job.sink);
  doc.set("error", error);
  compensation_event out;
  out.topic = topic;
  if (key) {
    auto rendered = key->render(doc);
    if (!rendered.empty())
      out.key = std::move(rendered);
  }
  auto body = payload.render(doc);
  out.payload_json = body.is_object() ? body.to_json() : "{}"; // config requires a mapping
  out.idempotency_key = "on_dead:" + job.id;
  return out;
}

} // namespace txrelay
