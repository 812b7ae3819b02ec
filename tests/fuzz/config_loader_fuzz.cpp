// libFuzzer target: the config loader (config/config.hpp): load_config_text
// (YAML, ${VAR} interpolation, every key's checks, conditions, templates, sql
// statements, schemas, compensation routes) and interpolate_env on its own.
//
// The whole input is the config text, loaded with a fixed environment (no
// getenv). When it loads, the result is used the way the engine uses it
// without actors: the routing table and event admission are built, and each
// route's condition, each sink's templates, statement and on_dead
// compensation are evaluated against a fixed event. Any exception escaping
// load_config_text is a crash (it promises a config_error).
// Deterministic; no network, no file reads. (One caveat: a `tls.ca_file`
// value is checked with std::filesystem::is_regular_file, a stat() call.)
#include "config/config.hpp"
#include "core/json_value.hpp"
#include "expr/event_document.hpp"
#include "routing/compensation.hpp"
#include "routing/event_admission.hpp"
#include "routing/routing_table.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <unordered_map>

namespace {

using namespace txrelay;

[[noreturn]] void broken(const char* what) {
  std::fprintf(stderr, "config_loader_fuzz: invariant broken: %s\n", what);
  std::abort();
}

const env_lookup& fixed_env() {
  static const std::map<std::string, std::string> vars{
    {"FOO", "bar"},
    {"EMPTY", ""},
    {"URL", "http://127.0.0.1:9/hook"},
    {"HTTPS_URL", "https://example.invalid/services/T/B/x"},
    {"SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
    {"NESTED", "${FOO}"}, // values are not expanded again
    {"DOLLARS", "$$"},
    {"NUMBER", "42"},
    {"DURATION", "1.5s"},
    {"TXRELAY_DATABASE_URL", "postgresql://user@localhost:5432/db"},
  };
  static const env_lookup env = [](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end())
      return std::nullopt;
    return it->second;
  };
  return env;
}

const parsed_event& fixed_event(std::string topic) {
  static parsed_event ev;
  ev.topic = std::move(topic);
  ev.key = "user-42";
  ev.payload_json =
    R"({"user_id":42,"user_name":"kim","content":"hi *there* ```x```","closed":false,"title":"Lunch <b>",)"
    R"("rating":4,"tags":["a","b"],"when":"2026-11-23T10:00:00+02:00","nested":{"a":{"b":[1,2.5,null]}}})";
  return ev;
}

delivery_job fixed_job(const std::string& topic, const std::string& sink) {
  delivery_job job;
  job.id = "0192b9a4-6c5e-7d1a-8f00-000000000002";
  job.event_id = "0192b9a4-6c5e-7d1a-8f00-000000000001";
  job.sink = sink;
  job.topic = topic;
  job.key = "user-42";
  job.payload_json = fixed_event(topic).payload_json;
  job.created_at = "2026-11-23T10:00:00.123Z";
  return job;
}

void use(const txrelay_config& config) {
  (void)routed_topics(config);
  std::vector<std::string> sink_order;
  for (const auto& s : config.sinks) {
    sink_order.push_back(s.name);
    if (s.endpoint)
      (void)s.endpoint->redacted();
  }
  std::unordered_map<std::string, payload_schema> schemas;
  for (const auto& t : config.topics)
    schemas[t.topic] = t.schema;
  event_admission admission{routing_table{config.routes, sink_order}, std::move(schemas)};

  for (const auto& route : config.routes) {
    const auto& ev = fixed_event(route.topic);
    auto admitted = admission.admit(ev);
    if (!admitted && admitted.error().code != "schema_violation")
      broken("a routed topic was refused for something other than its schema");
    auto doc = event_document_from_json(event_fields{ev.topic, key_view(ev.key), "e1", "", "2026-11-23T10:00:00Z"},
                                        ev.payload_json);
    if (route.when)
      (void)route.when->matches(doc);
  }

  for (const auto& sink : config.sinks) {
    auto job = fixed_job(config.routes.empty() ? std::string{"t"} : config.routes.front().topic, sink.name);
    auto doc = delivery_document(job);
    const auto& t = sink.templates;
    if (t.content)
      (void)t.content->render(doc);
    if (t.text)
      (void)t.text->render(doc);
    if (t.blocks)
      (void)t.blocks->render(doc).to_json();
    if (t.body)
      (void)t.body->render(doc).to_json();
    if (sink.notion)
      for (const auto& p : sink.notion->properties) {
        (void)p.value.render(doc);
        if (p.when)
          (void)p.when->matches(doc);
      }
    if (sink.sql)
      (void)sink.sql->statement.bind(doc);
    if (sink.on_dead) {
      auto ev = render_compensation(sink.on_dead->topic, sink.on_dead->key, sink.on_dead->payload, job, "HTTP 500");
      auto payload = json_value::parse(ev.payload_json);
      if (!payload || !payload->is_object())
        broken("a compensation payload is not a JSON object");
    }
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text{reinterpret_cast<const char*>(data), size};

  auto config = load_config_text(text, "fuzz.yaml", fixed_env());
  if (config) {
    if (config->source_file != "fuzz.yaml")
      broken("source_file is not the given name");
    use(*config);
  } else {
    if (config.error().file != "fuzz.yaml")
      broken("config_error does not name the file");
    (void)config.error().to_string();
  }

  auto expanded = interpolate_env(text, fixed_env());
  if (expanded)
    (void)expanded->size();
  return 0;
}
