#include "cli/operator_views.hpp"

#include "cli/table.hpp"
#include "core/utf8.hpp"

namespace txrelay::cli {

namespace {

// Ids and instants are never cut: an operator copies them into the next command.
constexpr std::size_t id_width = 36;
constexpr std::size_t instant_width = 32;
constexpr std::size_t error_width = 60;

/// A member as a cell: "-" when missing or null, yes/no for booleans.
std::string text_at(const json_value& object, std::string_view name) {
  const auto* v = object.find(name);
  if (!v || v->is_null())
    return "-";
  if (v->is_bool())
    return v->as_bool() ? "yes" : "no";
  return v->to_text();
}

const json_value::array_t* array_at(const json_value& object, std::string_view name) {
  const auto* v = object.find(name);
  return v && v->is_array() ? &v->as_array() : nullptr;
}

/// "hook:dead(3) audit:delivered(1)": each delivery's sink, status and attempts.
std::string delivery_summary(const json_value& event) {
  const auto* deliveries = array_at(event, "deliveries");
  if (!deliveries || deliveries->empty())
    return "-";
  std::string out;
  for (const auto& d : *deliveries) {
    if (!out.empty())
      out += ' ';
    out += text_at(d, "sink") + ":" + text_at(d, "status") + "(" + text_at(d, "attempts") + ")";
  }
  return out;
}

std::string render_event(const json_value& event) {
  if (!event.is_object() || !event.find("id"))
    return {};
  std::string out;
  auto field = [&](const std::string& label, const std::string& value) {
    out += label + std::string(10 - label.size(), ' ') + table_cell(value, 200) + "\n";
  };
  field("event", text_at(event, "id"));
  field("topic", text_at(event, "topic"));
  field("key", text_at(event, "key"));
  field("created", text_at(event, "created_at"));
  field("routing", text_at(event, "routing"));
  if (const auto* rejection = event.find("rejection"); rejection && rejection->is_object())
    field("rejection", text_at(*rejection, "code") + ": " + text_at(*rejection, "message"));
  if (const auto* payload = event.find("payload"))
    field("payload", payload->to_json());

  const auto* deliveries = array_at(event, "deliveries");
  if (!deliveries || deliveries->empty()) {
    out += "\nno deliveries\n";
    return out;
  }
  table t{{{"DELIVERY", id_width},
           {"SINK", 32},
           {"STATUS", 10},
           {"ATTEMPTS", 8, true},
           {"NEXT_ATTEMPT_AT", instant_width},
           {"LAST_STATUS", 11, true},
           {"LAST_ERROR", error_width}}};
  for (const auto& d : *deliveries)
    t.add_row({text_at(d, "id"), text_at(d, "sink"), text_at(d, "status"), text_at(d, "attempts"),
               text_at(d, "next_attempt_at"), text_at(d, "last_status"), text_at(d, "last_error")});
  out += "\n" + t.render();

  // Only deliveries that failed at least once have a history.
  for (const auto& d : *deliveries) {
    const auto* history = array_at(d, "attempt_history");
    if (!history || history->empty())
      continue;
    table h{{{"#", 3, true},
             {"AT", instant_width},
             {"MS", 7, true},
             {"OUTCOME", 9},
             {"HTTP", 4, true},
             {"CLASS", 12},
             {"ERROR", 40},
             {"RESPONSE", error_width}}};
    for (const auto& a : *history)
      h.add_row({text_at(a, "attempt"), text_at(a, "at"), text_at(a, "duration_ms"), text_at(a, "outcome"),
                 text_at(a, "http_status"), text_at(a, "error_class"), text_at(a, "error"),
                 text_at(a, "response_excerpt")});
    out += "\nattempts to " + table_cell(text_at(d, "sink"), 64) + " (delivery " + table_cell(text_at(d, "id"), 64) + ")\n";
    out += h.render();
  }
  return out;
}

std::string render_events(const json_value::array_t& events) {
  if (events.empty())
    return "no events match\n";
  table t{{{"ID", id_width},
           {"CREATED_AT", instant_width},
           {"TOPIC", 32},
           {"KEY", 24},
           {"ROUTING", 8},
           {"DELIVERIES", 70}}};
  for (const auto& e : events)
    t.add_row({text_at(e, "id"), text_at(e, "created_at"), text_at(e, "topic"), text_at(e, "key"),
               text_at(e, "routing"), delivery_summary(e)});
  return t.render();
}

std::string render_sinks(const json_value::array_t& sinks) {
  if (sinks.empty())
    return "no sinks\n";
  table t{{{"NAME", 32},
           {"KIND", 8},
           {"STATE", 12},
           {"PAUSED", 6},
           {"PENDING", 9, true},
           {"OLDEST_PENDING_AT", instant_width},
           {"IN_FLIGHT", 9, true},
           {"DELIVERED", 10, true},
           {"FAILED", 8, true},
           {"DEAD", 8, true},
           {"LAST_ERROR", error_width}}};
  for (const auto& s : sinks)
    t.add_row({text_at(s, "name"), text_at(s, "kind"), text_at(s, "state"), text_at(s, "paused"),
               text_at(s, "pending"), text_at(s, "oldest_pending_at"), text_at(s, "in_flight"),
               text_at(s, "delivered"), text_at(s, "failed_attempts"), text_at(s, "dead"), text_at(s, "last_error")});
  return t.render();
}

std::string render_dead(const std::string& sink, const json_value::array_t& dead) {
  if (dead.empty())
    return "no dead deliveries for sink " + table_cell(sink, 64) + "\n";
  table t{{{"DELIVERY", id_width},
           {"EVENT", id_width},
           {"SINK", 32},
           {"TOPIC", 32},
           {"KEY", 24},
           {"ATTEMPTS", 8, true},
           {"LAST_STATUS", 11, true},
           {"DIED_AT", instant_width},
           {"LAST_ERROR", error_width}}};
  for (const auto& d : dead)
    t.add_row({text_at(d, "id"), text_at(d, "event_id"), text_at(d, "sink"), text_at(d, "topic"), text_at(d, "key"),
               text_at(d, "attempts"), text_at(d, "last_status"), text_at(d, "died_at"), text_at(d, "last_error")});
  return t.render();
}

std::string render_sink_action(const operator_command& cmd, const json_value& answer) {
  const auto sink = table_cell(cmd.target, 64);
  if (cmd.action == "pause")
    return "sink " + sink + " paused: nothing is sent to it until it is resumed\n";
  if (cmd.action == "resume")
    return "sink " + sink + " resumed\n";
  const auto* replayed = array_at(answer, "replayed");
  if (!replayed)
    return {};
  std::string out = "sink " + sink + ": " + std::to_string(replayed->size()) + " dead deliveries pending again\n";
  if (const auto* more = answer.find("more"); more && more->is_bool() && more->as_bool())
    out += "more remain: run the replay again\n";
  return out;
}

} // namespace

result<std::string, std::string> render_answer(const operator_command& cmd, const json_value& answer) {
  std::string text;
  if (cmd.group == "events" && cmd.action == "get") {
    text = render_event(answer);
  } else if (cmd.group == "events") {
    if (const auto* events = array_at(answer, "events"))
      text = render_events(*events);
  } else if (cmd.group == "dead") {
    if (const auto* dead = array_at(answer, "dead"))
      text = render_dead(cmd.target, *dead);
  } else if (cmd.action == "list") {
    if (const auto* sinks = array_at(answer, "sinks"))
      text = render_sinks(*sinks);
  } else {
    text = render_sink_action(cmd, answer);
  }
  if (text.empty())
    return unexpected{std::string{"the answer is not what txrelay sends for "} + cmd.group + " " + cmd.action +
                      " (an older server, or not txrelay?)"};
  return text;
}

error_summary summarize_error(int status, const std::string& body) {
  error_summary out{"http_" + std::to_string(status), ""};
  if (auto parsed = json_value::parse(body); parsed && parsed->is_object())
    if (const auto* error = parsed->find("error"); error && error->is_object()) {
      if (const auto* code = error->find("code"); code && code->is_string())
        out.code = code->as_string();
      if (const auto* message = error->find("message"); message && message->is_string())
        out.message = message->as_string();
    }
  if (out.message.empty())
    out.message = body.empty() ? "(no body)" : one_line_excerpt(body, 200);
  out.code = table_cell(out.code, 64);
  out.message = table_cell(out.message, 500);
  return out;
}

} // namespace txrelay::cli
