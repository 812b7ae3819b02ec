#pragma once
// txrelay's configuration as plain data. This part depends on core only:
// it knows no actor, socket or database.
#include "core/api_key.hpp"
#include "core/backoff.hpp"
#include "core/circuit_breaker.hpp"
#include "core/result.hpp"
#include "routing/routing_table.hpp"
#include "core/token_bucket.hpp"
#include "core/url.hpp"
#include "core/payload_schema.hpp"
#include "expr/condition.hpp"
#include "expr/json_template.hpp"
#include "expr/sql_statement.hpp"
#include "expr/text_template.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace txrelay {

struct listen_address {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
};

struct server_config {
  listen_address listen;
  std::size_t max_body_bytes = 1 << 20;
  // JSON nested deeper than this (objects and arrays) is refused with 400
  // before anything else looks at it.
  int max_json_depth = 64;
  // Open connections at most; more are accepted and closed at once.
  std::size_t max_connections = 1024;
  // A request's headers, and then its body, must arrive within this long:
  // a client sending byte by byte is closed, not waited for.
  millis read_timeout{10'000};
  // Events waiting for the database at most; beyond, ingest answers 503
  // with Retry-After instead of queueing without bound.
  std::size_t max_queued_events = 50'000;
  // When not empty, requests whose Host is not one of these are refused
  // (a DNS rebinding page cannot reach a loopback txrelay).
  std::vector<std::string> allowed_hosts;
  // On SIGTERM: queued ingests are answered and attempts under way finish
  // (their outcomes recorded) for at most this long, then txrelay exits.
  // 0: stop at once (attempts under way are sent again after the restart).
  millis shutdown_grace{10'000};
};

/// Who may call the API (`auth:`). No keys and not disabled: txrelay
/// serves only on a loopback address, to anyone who can reach it there.
struct auth_config {
  bool disabled = false; // explicitly no authentication, on any address
  std::vector<api_key> keys;
};

/// Events published from SQL (`txrelay.publish()` in the producer's own
/// transaction) wait in txrelay.unrouted_events until the router picks them up.
struct publish_config {
  millis poll_interval{5}; // how often the router looks for newly committed events
  int batch = 1000;         // events routed per transaction
};

/// How long finished history is kept (0: forever). Pending deliveries are
/// never deleted, nor an event that has one.
struct retention_config {
  millis delivered{7LL * 86'400'000};  // events whose deliveries all succeeded (or that had none)
  millis dead{30LL * 86'400'000};      // dead deliveries, counted from their last attempt
  millis rejected{30LL * 86'400'000};  // events published from SQL and refused when routed
  millis interval{60'000};             // how often the maintenance leader runs a pass
  int batch = 1000;                    // events deleted per transaction (short locks)

  /// The shortest that deletes anything; none when everything is kept.
  std::optional<millis> shortest() const {
    std::optional<millis> out;
    for (auto keep : {delivered, dead, rejected})
      if (keep.count() > 0 && (!out || keep < *out))
        out = keep;
    return out;
  }
};

struct database_config {
  std::string url; // libpq connection string or postgresql:// URL; empty = embedded
  // Every wait on PostgreSQL is bounded (a partition must not freeze a
  // thread): opening a connection, and each statement (the server cancels it
  // at statement_timeout; without an answer 10 s later the connection is
  // closed and reopened). The statement timeout is also what a client's
  // request can wait on a lock at most.
  millis connect_timeout{5'000};
  millis statement_timeout{30'000};
};

enum class sink_kind { webhook, log, discord, slack, notion, sql };

const char* to_string(sink_kind k);

/// How often a sink's sender may crash before its supervisor gives up on it
/// (OTP's restart intensity): more than max_restarts within restart_window
/// marks the sink failed instead of restarting in a hot loop.
struct supervision_policy {
  int max_restarts = 5;
  millis restart_window{60'000};
};

/// Whether a sink's deliveries may overtake each other. per_key: deliveries
/// of events with the same key are attempted strictly in commit order, and a
/// failing one holds back only its own key (events without a key are free).
enum class delivery_ordering { none, per_key };

/// TLS for an https:// sink. Verification is on unless turned off, which
/// only a test against a self-signed server should do.
struct tls_options {
  std::string ca_file; // PEM bundle of trusted CAs; empty: the system's
  bool verify = true;
};

/// How an event becomes the request body. Which of these apply depends on
/// the kind (checked at load): discord `content`; slack `text` and `blocks`;
/// webhook `body`. Unset: the kind's default rendering.
struct sink_templates {
  std::optional<text_template> content; // discord, escaped for Discord markdown
  std::optional<text_template> username;   // discord: the message's author name (its webhook's by default)
  std::optional<text_template> avatar_url; // discord: the author's picture
  std::optional<json_template> embeds;     // discord: a list of 1 to 10 embed objects
  std::optional<text_template> text;     // slack, escaped for Slack mrkdwn
  std::optional<json_template> blocks;   // slack Block Kit blocks
  std::optional<json_template> body;     // webhook: replaces the event envelope
};

/// One property of the Notion page a delivery creates.
struct notion_property_config {
  std::string name;           // the database column, "Name"
  std::string type;           // title, rich_text, date, number, select, email, url, checkbox
  text_template value;
  std::optional<condition> when; // the property is left out when false
};

struct notion_config {
  std::string token;                     // integration secret (Bearer): never logged
  std::string version = "2022-06-28";    // Notion-Version header
  bool data_source = false;              // parent is a data_source_id (API 2025-09-03+), else database_id
  std::string parent_id;
  std::vector<notion_property_config> properties;
};

/// When a sql sink's statement runs.
enum class sql_phase {
  after_commit,   // by its sender, in the transaction that marks the delivery done (exactly once)
  in_transaction, // in the ingest transaction itself: the event is refused if it fails
};

struct sql_sink_config {
  sql_statement statement;
  sql_phase phase = sql_phase::after_commit;
};

/// `on_dead: {publish: {...}}`: the event committed, in the same transaction
/// that marks a delivery dead, so a failure can be compensated (scenario 5).
struct compensation_config {
  std::string topic;
  std::optional<text_template> key;
  json_template payload;
};

struct sink_config {
  std::string name;
  sink_kind kind = sink_kind::log;
  std::optional<url> endpoint;       // webhook, discord, slack: required
  std::vector<std::string> secrets;  // webhook only: "whsec_..." (several during rotation)
  retry_policy retry;
  supervision_policy supervision;
  rate_limit rate;                   // per_second 0: unlimited; default_rate_limit(kind) when not set
  circuit_policy circuit;
  delivery_ordering ordering = delivery_ordering::none;
  millis request_timeout{10'000};
  millis connect_timeout{5'000};
  tls_options tls;
  int max_in_flight = 8;
  // A pass over the sink's pending rows this often, so a dispatch or an
  // outcome lost between actors is picked up within this bound. 0: off.
  millis safety_sweep{30'000};
  // A sink one sender cannot keep up with: its deliveries are divided by
  // event key into this many partitions, each sent by its own sender under
  // its own lease (on any node). 1: not divided.
  int partitions = 1;
  // Set on a partition (sink_instances): the configured sink it belongs to.
  std::string partition_of;
  sink_templates templates;
  std::optional<notion_config> notion;  // kind notion
  std::optional<sql_sink_config> sql;   // kind sql
  std::optional<compensation_config> on_dead;
  // The sink's entry as written in the file (YAML, normalised). Two loads
  // with equal fingerprints have equal settings: a running process's
  // environment, which the entry may interpolate, does not change. A
  // reload restarts exactly the sinks whose fingerprint changed.
  std::string fingerprint;

  /// A sql sink whose statement runs inside every ingest transaction of the
  /// events routed to it (phase in_transaction), instead of a sender's.
  bool runs_in_transaction() const { return sql && sql->phase == sql_phase::in_transaction; }
};

/// The request budget a sink of this kind gets for whatever its `rate_limit`
/// does not set: the provider's published limit (Discord 5 per 2 s per webhook,
/// Slack 1 per second with short bursts), so a config that forgets it does not
/// start by drawing 429s. Generic webhooks and log sinks are unlimited.
rate_limit default_rate_limit(sink_kind k);

/// Attempts in flight at once when `max_in_flight` is not set: 1 for the
/// providers that publish a rate limit (Discord, Slack, Notion), so a 429
/// reaches the sender before its next request leaves; their limits are a few
/// requests per second, which one connection carries. 8 otherwise.
int default_max_in_flight(sink_kind k);

/// The senders the configured sinks run as: each sink itself, or each of
/// its partitions (named by partition_name, partition_of set), which share
/// its rate limit (1/N each). Delivery rows, leases, pauses and metrics are
/// per instance (core/partition.hpp names them).
std::vector<sink_config> sink_instances(const std::vector<sink_config>& sinks);

/// What events of one topic must look like (`topics:` in the file).
struct topic_config {
  std::string topic;
  payload_schema schema;
};

struct txrelay_config {
  std::string source_file;
  // Each top-level section as written (server, auth, database, publish,
  // retention, node, routes, topics; absent ones empty), for telling what a reload changes.
  std::map<std::string, std::string> section_fingerprints;
  server_config server;
  auth_config auth;
  database_config database;
  publish_config publish;
  retention_config retention;
  std::string node_id; // node.id: this process among those sharing the database (default host-pid)
  std::vector<sink_config> sinks;   // enabled sinks only, in file order
  std::vector<route_rule> routes;
  std::vector<topic_config> topics;
  std::vector<std::string> disabled_sinks; // `optional: true` sinks whose url was empty
};

/// Whether `host` (a listen address) is reachable from this machine only.
bool is_loopback_host(std::string_view host);

/// Why this server config must not start as it is: listening beyond
/// loopback with no API keys and authentication not disabled. Names what
/// to add. Empty when it may start.
std::optional<std::string> exposure_problem(const listen_address& listen, const auth_config& auth);

/// The topics some route names, each once, sorted: what txrelay.publish()
/// accepts.
std::vector<std::string> routed_topics(const txrelay_config& config);

/// Every config error names the file, the key (a path such as "sinks[1].url")
/// and what is wrong with it.
struct config_error {
  std::string file;
  std::string key;
  std::string problem;
  std::string to_string() const; // "config/txrelay.yaml: sinks[1].url: ..."
};

using env_lookup = std::function<std::optional<std::string>(const std::string&)>;

/// "HOST:PORT", "[v6]:PORT"; port 0 means any free port.
result<listen_address, std::string> parse_listen_address(std::string_view text);

/// The process environment.
env_lookup process_env();

/// Replaces ${VAR}, ${VAR:-default} and ${VAR:+word} in `text`. An unset VAR with
/// no default is an error naming VAR. "$$" is a literal "$".
result<std::string, std::string> interpolate_env(std::string_view text, const env_lookup& env);

result<txrelay_config, config_error> load_config_file(const std::string& path, const env_lookup& env);
result<txrelay_config, config_error> load_config_text(const std::string& text, const std::string& file_name,
                                                      const env_lookup& env);

} // namespace txrelay
