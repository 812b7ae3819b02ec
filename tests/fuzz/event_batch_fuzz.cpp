// libFuzzer target: the body of POST /v1/events:batch (core/event_parser.hpp,
// parse_event_batch). The whole input is the request body, parsed with the
// API's limits (1000 events) and with a limit of 3, so both the count check
// and every item's checks are reached with short inputs. Aborts when the
// result breaks the contract: 1..max events on success, each valid as
// parse_event_body would accept it; on failure a 400 whose item indexes are
// strictly increasing. Deterministic; no I/O.
#include "core/event_parser.hpp"
#include "core/json_value.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace {

using namespace txrelay;

[[noreturn]] void broken(const char* what) {
  std::fprintf(stderr, "event_batch_fuzz: invariant broken: %s\n", what);
  std::abort();
}

void check_api_error(const api_error& e) {
  if (e.status != 400)
    broken("batch error is not a 400");
  if (!json_value::parse(e.to_json()))
    broken("api_error::to_json is not valid JSON");
}

void run(std::string_view body, const event_limits& limits, std::size_t max_events) {
  auto batch = parse_event_batch(body, limits, max_events);
  if (batch) {
    if (batch->empty() || batch->size() > max_events)
      broken("accepted batch has 0 or too many events");
    for (const auto& ev : *batch) {
      if (ev.topic.empty() || ev.topic.size() > limits.max_topic_length)
        broken("accepted topic is empty or over the limit");
      if (ev.key && ev.key->size() > limits.max_key_length)
        broken("accepted key over the limit");
      auto payload = json_value::parse(ev.payload_json);
      if (!payload || !payload->is_object())
        broken("accepted payload_json is not a JSON object");
    }
    return;
  }
  const auto& err = batch.error();
  check_api_error(err.error);
  bool first = true;
  std::size_t last = 0;
  for (const auto& item : err.items) {
    if (!first && item.index <= last)
      broken("batch item indexes are not strictly increasing");
    if (item.index >= max_events)
      broken("batch item index beyond max_events");
    first = false;
    last = item.index;
    check_api_error(item.error);
  }
  if (!err.items.empty() && err.error.code != "invalid_batch")
    broken("a batch with bad items is not invalid_batch");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view body{reinterpret_cast<const char*>(data), size};
  run(body, event_limits{}, 1000); // what api.cpp uses (max_batch_events)
  run(body, event_limits{8, 8}, 3);
  return 0;
}
