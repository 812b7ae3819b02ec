#pragma once
// Rendering a sink's `on_dead: {publish: ...}` for a delivery that just died.
#include "core/delivery.hpp"
#include "expr/json_template.hpp"
#include "expr/text_template.hpp"

#include <optional>
#include <string>

namespace txrelay {

/// The compensation event for `job`: its payload (and key) rendered from the
/// dead delivery's event; the event document also carries `delivery_id` and
/// `error` (why it died), so a handler can say what happened.
compensation_event render_compensation(const std::string& topic, const std::optional<text_template>& key,
                                       const json_template& payload, const delivery_job& job,
                                       const std::string& error);

} // namespace txrelay
