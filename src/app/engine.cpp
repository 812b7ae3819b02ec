#include "app/engine.hpp"

#include "actors/http_actor.hpp"
#include "actors/cluster_actor.hpp"
#include "actors/ledger_actor.hpp"
#include "actors/maintenance_actor.hpp"
#include "actors/persistence_actor.hpp"
#include "actors/router_actor.hpp"
#include "app/api.hpp"
#include "config/config_diff.hpp"
#include "core/partition.hpp"
#include "http/server.hpp"
#include "logging/log.hpp"
#include "persistence/migrations.hpp"
#include "persistence/cluster.hpp"
#include "persistence/partitions.hpp"
#include "sinks/sink_transport.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <unistd.h>

namespace txrelay {

struct engine::parts {
  engine_options options;
  std::shared_ptr<metrics_registry> metrics = std::make_shared<metrics_registry>();
  boost::asio::io_context io;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
  std::vector<std::thread> io_threads;
  // Parses large request bodies off the I/O thread (api_options::offload).
  std::optional<boost::asio::thread_pool> parse_pool;
  std::unique_ptr<caf::actor_system_config> caf_config;
  std::unique_ptr<caf::actor_system> system;
  caf::actor persistence;
  caf::actor ledger;
  caf::actor router;
  caf::actor supervisor;
  caf::actor http;
  caf::actor maintenance;
  caf::actor cluster;
  caf::actor watchdog;
  std::shared_ptr<ingest_coalescer> ingest;
  std::unique_ptr<api> rest;
  std::unique_ptr<http::server> server;
  std::uint16_t port = 0;
  std::atomic<bool> stopped = false;
  // What a reload replaces, and the lock that runs reloads one at a time.
  std::shared_ptr<admission_source> admission;
  std::shared_ptr<versioned<std::vector<sink_config>>> sinks;
  std::mutex reload_mutex;
};

engine::engine(std::unique_ptr<parts> p) : parts_(std::move(p)) {}

engine::~engine() { stop(); }

std::uint16_t engine::port() const { return parts_->port; }

namespace {

/// The actors nothing restarts in place (see watchdog), by name.
std::vector<std::pair<std::string, caf::actor>> essential_actors_of(const engine::parts& p) {
  return {{"persistence", p.persistence}, {"ledger", p.ledger},           {"router", p.router},
          {"supervisor", p.supervisor},   {"http", p.http}, {"maintenance", p.maintenance},
          {"cluster", p.cluster}};
}

/// Watches the actors nothing restarts. Ingest writers and senders are
/// restarted in place by their parents (they are many, and their state is a
/// cache of the database); these five are one each, hold the others'
/// handles, and die only of a bug: the process exits and its service manager
/// starts a fresh one, whose recovery rebuilds everything from PostgreSQL,
/// the same path a kill -9 takes (tests/process/crash_recovery_test.cpp).
caf::behavior watchdog(caf::event_based_actor* self, std::vector<std::pair<std::string, caf::actor>> watched,
                       std::function<void(const std::string&)> on_down) {
  auto names = std::make_shared<std::map<caf::actor_addr, std::string>>();
  for (const auto& [name, actor] : watched) {
    self->monitor(actor);
    (*names)[actor.address()] = name;
  }
  auto fired = std::make_shared<bool>(false);
  self->set_down_handler([names, on_down, fired](caf::down_msg& msg) {
    if (msg.reason == caf::exit_reason::user_shutdown || msg.reason == caf::exit_reason::normal || *fired)
      return;
    *fired = true;
    auto what = (*names)[msg.source] + " actor stopped (" + to_string(msg.reason) + ")";
    log::error("essential " + what + ": txrelay must be restarted; its state is rebuilt from PostgreSQL");
    if (on_down)
      on_down(what);
  });
  return {[](tick_atom) {}};
}

/// This process among the nodes sharing the database: host name and pid.
std::string default_node_id() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0')
    std::snprintf(host, sizeof host, "localhost");
  return std::string{host} + "-" + std::to_string(::getpid());
}

std::vector<std::string> names_of(const std::vector<sink_config>& sinks) {
  std::vector<std::string> names;
  for (const auto& s : sinks)
    names.push_back(s.name);
  return names;
}

/// How events are admitted under `config`: its routes (sinks in file order) and schemas.
event_admission admission_of(const txrelay_config& config) {
  std::vector<std::string> sink_order;
  for (const auto& s : config.sinks)
    sink_order.push_back(s.name);
  std::unordered_map<std::string, payload_schema> schemas;
  for (const auto& t : config.topics)
    schemas[t.topic] = t.schema;
  std::unordered_map<std::string, int> partitions;
  for (const auto& s : config.sinks)
    if (s.partitions > 1)
      partitions.emplace(s.name, s.partitions);
  return event_admission{routing_table{config.routes, sink_order}, std::move(schemas), std::move(partitions)};
}

result<reload_report, api_error> reload_config(engine::parts& p);

/// A sink whose `partitions` changed since the last start: the open rows
/// of partitions it no longer has (or of the sink itself, now divided) move
/// to the partitions it has now, and so do the keyed rows of partitions it
/// still has whose key now selects another, so that each key's rows are in
/// one partition (its order holds) before any sender runs. The commands and
/// faults of partitions that no longer exist are forgotten.
result<bool, pg::pg_error> move_to_current_partitions(pg::connection& conn, const std::vector<sink_config>& sinks) {
  auto open = pg::sinks_with_open_deliveries(conn);
  if (!open)
    return unexpected{open.error()};
  std::set<std::string> current;
  for (const auto& s : sink_instances(sinks))
    current.insert(s.name);
  auto owner_of = [&](const std::string& name) {
    return std::find_if(sinks.begin(), sinks.end(), [&](const auto& s) { return is_instance_of(name, s.name); });
  };
  for (const auto& name : *open) {
    auto owner = owner_of(name);
    if (owner == sinks.end())
      continue; // a removed sink's rows stay where they are
    bool exists = current.count(name) != 0;
    if (exists && owner->partitions <= 1)
      continue; // an undivided sink: nothing can be misplaced
    auto moved = pg::move_open_deliveries(conn, name, owner->name, owner->partitions, exists);
    if (!moved)
      return unexpected{moved.error()};
    if (*moved > 0)
      log::info("sink " + owner->name + " has " + std::to_string(owner->partitions) + " partition(s) now: " +
                std::to_string(*moved) + " pending or dead deliveries of " + name + " moved to the partitions of their keys");
  }
  auto stored = pg::load_sink_controls(conn);
  if (!stored)
    return unexpected{stored.error()};
  std::vector<std::string> gone;
  for (const auto& row : *stored)
    if (current.count(row.sink) == 0 && owner_of(row.sink) != sinks.end())
      gone.push_back(row.sink);
  if (auto forgotten = pg::forget_sink_state(conn, gone); !forgotten)
    return unexpected{forgotten.error()};
  return true;
}

} // namespace

std::vector<std::pair<std::string, caf::actor>> engine::essential_actors() const {
  return essential_actors_of(*parts_);
}

metrics_registry& engine::metrics() { return *parts_->metrics; }

result<std::unique_ptr<engine>, std::string> engine::start(engine_options options) {
  // The config file was checked when it loaded; --listen may have moved it since.
  if (auto exposed = exposure_problem(options.config.server.listen, options.config.auth))
    return unexpected{*exposed};
  if (options.config.auth.disabled)
    log::warn("AUTHENTICATION IS DISABLED (auth.disabled): anyone who can reach " +
              options.config.server.listen.host + ":" + std::to_string(options.config.server.listen.port) +
              " can post events, read every payload and replay deliveries");
  // Schema first, on this (non-actor) thread: nothing starts on an old schema.
  const pg::connection_limits db_limits{options.config.database.connect_timeout,
                                        options.config.database.statement_timeout};
  {
    auto conn = pg::connection::open(options.database_url, db_limits);
    if (!conn)
      return unexpected{conn.error().message};
    auto version = pg::migrate(*conn);
    if (!version)
      return unexpected{"schema migration failed: " + version.error().message};
    // txrelay.publish() refuses, in the producer's transaction, a topic no
    // route of this config names.
    if (auto declared = pg::declare_topics(*conn, routed_topics(options.config)); !declared)
      return unexpected{"cannot record the routed topics: " + declared.error().message};
    if (auto moved = move_to_current_partitions(*conn, options.config.sinks); !moved)
      return unexpected{"cannot move deliveries to their sinks' partitions: " + moved.error().message};
  }

  auto p = std::make_unique<parts>();
  p->options = std::move(options);
  auto& opts = p->options;
  transport_factory make_transport = [io = &p->io, clock = opts.clock, url = opts.database_url,
                                      wrap = opts.wrap_transport](const sink_config& sink) {
    auto built = make_sink_transport(sink, transport_environment{*io, clock, url});
    return wrap ? wrap(sink, std::move(built)) : built;
  };

  p->work.emplace(p->io.get_executor());
  for (std::size_t i = 0; i < std::max<std::size_t>(1, opts.io_threads); ++i)
    p->io_threads.emplace_back([io = &p->io] { io->run(); });

  // txrelay's CLI and YAML are its own; CAF's config is built by hand so CAF
  // neither reads argv nor looks for caf-application.ini.
  p->caf_config = std::make_unique<caf::actor_system_config>();
  // CAF 0.17's default work-stealing workers spin-poll when idle. On a small
  // machine that spinning takes the cores PostgreSQL and the I/O thread
  // need; the sharing policy's workers sleep on a condition variable.
  p->caf_config->set("scheduler.policy", caf::atom("sharing"));
  // Scheduled actors only route messages and build requests; blocking work
  // runs on detached actors and the I/O threads, and PostgreSQL wants cores
  // of its own. Every hop between two workers is a futex wake and a context
  // switch, so half the cores is the default: on 2 cores one worker took
  // ingest from about 100k to 116k requests in 8 s, and delivery did not
  // change (docs/benchmarks.md).
  p->caf_config->set("scheduler.max-threads",
                     opts.scheduler_threads > 0 ? opts.scheduler_threads
                                                : std::max(1u, std::thread::hardware_concurrency() / 2));
  p->system = std::make_unique<caf::actor_system>(*p->caf_config);

  // A partitioned sink runs, is leased, paused and counted as its partitions.
  const auto instances = sink_instances(opts.config.sinks);
  for (const auto& s : instances)
    p->metrics->sink(s.name); // every sink shows in /metrics from the start
  p->admission = std::make_shared<admission_source>(admission_of(opts.config));
  p->sinks = std::make_shared<versioned<std::vector<sink_config>>>(instances);
  const auto& admission = p->admission;

  persistence_options popts;
  popts.database_url = opts.database_url;
  popts.database_limits = db_limits;
  popts.clock = opts.clock;
  popts.metrics = p->metrics;
  popts.admission = admission;
  popts.max_queued_events = opts.config.server.max_queued_events;
  for (const auto& s : opts.config.sinks)
    if (s.runs_in_transaction())
      popts.in_transaction.emplace(s.name, s.sql->statement);
  p->ledger = spawn_ledger_actor(*p->system, popts);
  p->router = spawn_router_actor(*p->system, popts, opts.config.publish);
  p->persistence = spawn_persistence_actor(*p->system, std::move(popts));
  supervisor_options sopts;
  sopts.sinks = instances;
  sopts.make_transport = std::move(make_transport);
  sopts.ledger = p->ledger;
  sopts.clock = opts.clock;
  sopts.metrics = p->metrics;
  sopts.window = opts.sender_window;
  sopts.leased = true;
  p->supervisor = spawn_supervisor(*p->system, std::move(sopts));
  caf::anon_send(p->persistence, dispatch_to_atom::value, p->supervisor);
  caf::anon_send(p->ledger, dispatch_to_atom::value, p->supervisor);
  caf::anon_send(p->router, dispatch_to_atom::value, p->supervisor);

  http_actor_options hopts;
  hopts.persistence = p->persistence;
  hopts.ledger = p->ledger;
  hopts.metrics = p->metrics;
  p->http = spawn_http_actor(*p->system, std::move(hopts));
  const auto node_id = opts.config.node_id.empty() ? default_node_id() : opts.config.node_id;
  const node_context node{opts.database_url, db_limits, opts.clock, p->metrics, node_id};
  maintenance_options mopts;
  mopts.node = node;
  mopts.retention = opts.config.retention;
  p->maintenance = spawn_maintenance_actor(*p->system, std::move(mopts));
  cluster_options copts;
  copts.node = node;
  copts.sinks = names_of(instances);
  copts.supervisor = p->supervisor;
  p->cluster = spawn_cluster_actor(*p->system, std::move(copts));
  p->watchdog = p->system->spawn(watchdog, essential_actors_of(*p), opts.on_essential_actor_down);

  api_options aopts;
  aopts.http_actor = p->http;
  p->ingest = std::make_shared<ingest_coalescer>(p->io, p->http);
  aopts.ingest = p->ingest;
  for (const auto& s : opts.config.sinks)
    if (s.runs_in_transaction())
      aopts.in_transaction_sinks.insert(s.name);
  aopts.supervisor = p->supervisor;
  aopts.clock = opts.clock;
  aopts.admission = admission;
  aopts.metrics = p->metrics;
  aopts.sinks = p->sinks;
  if (!opts.config.source_file.empty())
    aopts.reload = [parts = p.get()] { return reload_config(*parts); };
  aopts.auth = opts.config.auth;
  aopts.retention = opts.config.retention;
  aopts.node_id = node_id;
  aopts.limits.max_depth = opts.config.server.max_json_depth;
  p->parse_pool.emplace(1);
  aopts.offload = [pool = &*p->parse_pool](std::function<void()> work) { boost::asio::post(*pool, std::move(work)); };
  aopts.allowed_hosts = opts.config.server.allowed_hosts;
  p->rest = std::make_unique<api>(std::move(aopts));

  http::server_options server_opts;
  server_opts.host = opts.config.server.listen.host;
  server_opts.port = opts.config.server.listen.port;
  server_opts.max_body_bytes = opts.config.server.max_body_bytes;
  server_opts.read_timeout = opts.config.server.read_timeout;
  server_opts.max_connections = opts.config.server.max_connections;
  server_opts.counters = std::shared_ptr<http_connection_metrics>(p->metrics, &p->metrics->connections);
  p->server = std::make_unique<http::server>(
    p->io, server_opts, [rest = p->rest.get()](http::request&& req, http::respond_fn respond) {
      rest->handle(std::move(req), std::move(respond));
    },
    [metrics = p->metrics](std::string_view route, int status) { metrics->count_http_response(route, status); });
  auto bound = p->server->start();
  std::unique_ptr<engine> e{new engine(std::move(p))};
  if (!bound) {
    auto why = "cannot listen on " + e->parts_->options.config.server.listen.host + ":" +
               std::to_string(e->parts_->options.config.server.listen.port) + ": " + bound.error();
    e->stop();
    return unexpected{why};
  }
  e->parts_->port = *bound;
  return e;
}

namespace {

std::vector<std::string> union_of(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  std::sort(a.begin(), a.end());
  a.erase(std::unique(a.begin(), a.end()), a.end());
  return a;
}

std::string joined(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& part : parts)
    out += (out.empty() ? "" : "; ") + part;
  return out;
}

result<reload_report, api_error> reload_config(engine::parts& p) {
  std::lock_guard lock{p.reload_mutex};
  auto& running = p.options.config;
  const auto& file = running.source_file;
  if (p.stopped)
    return unexpected{api_error{503, "shutting_down", "txrelay is stopping; nothing was reloaded"}};
  auto loaded = load_config_file(file, process_env());
  if (!loaded) {
    log::error("config reload refused, nothing changed: " + loaded.error().to_string());
    return unexpected{api_error{422, "invalid_config", loaded.error().to_string() + " (nothing changed)"}};
  }
  reload_report report;
  report.change = diff_configs(running, *loaded);
  if (!report.change.needs_restart.empty()) {
    auto why = file + ": " + joined(report.change.needs_restart);
    log::error("config reload refused, nothing changed: " + why + "; restart txrelay to apply it");
    return unexpected{api_error{409, "restart_required", why + "; restart txrelay to apply it (nothing changed)"}};
  }
  if (report.change.empty()) {
    log::info("config reload: " + file + " is unchanged");
    return report;
  }

  // txrelay.publish() must accept a new topic before a producer can be told
  // of it, and refuse a dropped one only once nothing routes it any more:
  // first every topic of both, then, after the switch, the new ones alone.
  auto conn = pg::connection::open(p.options.database_url,
                                   {running.database.connect_timeout, running.database.statement_timeout});
  if (!conn)
    return unexpected{api_error{503, "database_unavailable", "cannot reach PostgreSQL: " + conn.error().message +
                                                                 " (nothing changed)"}};
  auto topics = routed_topics(*loaded);
  if (auto declared = pg::declare_topics(*conn, union_of(routed_topics(running), topics)); !declared)
    return unexpected{api_error{503, "database_unavailable", "cannot record the routed topics: " +
                                                                 declared.error().message + " (nothing changed)"}};

  // Senders before routes: once a new route admits an event, its sink's
  // sender is already there (the supervisor takes its messages in order).
  const auto instances = sink_instances(loaded->sinks);
  for (const auto& s : instances)
    p.metrics->sink(s.name);
  caf::anon_send(p.supervisor, reconfigure_atom::value, instances);
  caf::anon_send(p.cluster, reconfigure_atom::value, names_of(instances));
  p.admission->replace(admission_of(*loaded));
  p.sinks->replace(instances);
  running.sinks = loaded->sinks;
  running.routes = loaded->routes;
  running.topics = loaded->topics;
  running.disabled_sinks = loaded->disabled_sinks;
  running.section_fingerprints = loaded->section_fingerprints;

  if (auto declared = pg::declare_topics(*conn, topics); !declared)
    report.warnings.push_back("txrelay.publish() still accepts the removed topics until the next reload or restart: " +
                              declared.error().message);
  if (!report.change.removed_sinks.empty()) {
    auto counts = pg::pending_counts(*conn);
    for (const auto& name : report.change.removed_sinks) {
      std::optional<long long> pending; // unknown if the count failed
      if (counts) {
        pending = 0;
        for (const auto& b : *counts)
          if (is_instance_of(b.sink, name))
            *pending += b.pending;
      }
      report.removed_pending.emplace_back(name, pending);
    }
    if (!counts)
      report.warnings.push_back("cannot count the removed sinks' pending deliveries: " + counts.error().message);
  }
  std::string summary = "config reload of " + file + " applied:";
  auto list = [&](const char* what, const std::vector<std::string>& names) {
    if (!names.empty())
      summary += std::string{" "} + what + " " + joined(names) + ";";
  };
  list("added", report.change.added_sinks);
  list("changed", report.change.changed_sinks);
  list("removed", report.change.removed_sinks);
  if (report.change.routing_changed)
    summary += " routes or topics changed;";
  for (const auto& [name, n] : report.removed_pending)
    if (n.value_or(0) > 0)
      summary += " " + name + " keeps " + std::to_string(*n) + " pending deliveries;";
  log::info(summary);
  for (const auto& w : report.warnings)
    log::warn("config reload: " + w);
  return report;
}

} // namespace

result<reload_report, api_error> engine::reload() { return reload_config(*parts_); }

/// A graceful stop, within `grace`: no new connection or request, queued
/// ingests answered, attempts under way finished and their outcomes
/// recorded durably. What is not done by then is cut off as by a kill (its
/// rows are pending and sent again after the restart).
void drain(engine::parts& p, millis grace) {
  using steady = std::chrono::steady_clock;
  const auto started = steady::now();
  const auto deadline = started + grace;
  auto left = [&] {
    return std::max(millis{1}, std::chrono::duration_cast<millis>(deadline - steady::now()));
  };
  p.server->stop_accepting();
  caf::scoped_actor self{*p.system};
  auto ask = [&](const caf::actor& whom, millis within) {
    bool done = false;
    self->request(whom, within, drain_atom::value).receive([&](bool ok) { done = ok; }, [&](caf::error&) {});
    return done;
  };
  bool answered = ask(p.persistence, left());
  // The answers are on their way to the sockets: let the I/O thread write them.
  while (p.server->requests_in_progress() > 0 && steady::now() < deadline)
    std::this_thread::sleep_for(millis{5});
  bool finished = ask(p.supervisor, left());
  // Outcomes are recorded even when the grace is spent: they are what keeps
  // the next process from sending these deliveries again.
  bool recorded = ask(p.ledger, std::max(left(), millis{5'000}));
  // Leases go back now: the other nodes take the sinks and the maintenance over at their next beat.
  ask(p.cluster, millis{2'000});
  ask(p.maintenance, millis{2'000});
  auto took = std::chrono::duration_cast<millis>(steady::now() - started).count();
  if (answered && finished && recorded)
    log::info("stopped gracefully in " + std::to_string(took) + " ms: queued requests answered, attempts finished "
              "and recorded");
  else
    log::warn("graceful stop incomplete after " + std::to_string(took) + " ms (" +
              (answered ? "" : "queued requests not all answered; ") +
              (finished ? "" : "attempts still under way; ") + (recorded ? "" : "outcomes not recorded; ") +
              "their deliveries stay pending and are sent again after the restart)");
}

void engine::stop() {
  auto& p = *parts_;
  if (p.stopped)
    return;
  p.stopped = true;
  { std::lock_guard wait_for_reload{p.reload_mutex}; } // one under way finishes; none starts after
  if (p.server && p.system && p.options.config.server.shutdown_grace.count() > 0)
    drain(p, p.options.config.server.shutdown_grace);
  if (p.server)
    p.server->stop();
  // Before the API it calls into goes: what is queued is dropped (its
  // connections are closed), what runs finishes.
  if (p.parse_pool) {
    p.parse_pool->stop();
    p.parse_pool->join();
  }
  for (auto* a : {&p.watchdog, &p.http, &p.router, &p.supervisor, &p.persistence, &p.ledger, &p.maintenance, &p.cluster})
    if (*a)
      caf::anon_send_exit(*a, caf::exit_reason::user_shutdown);
  // I/O first: once its threads are joined no connection or sink callback
  // runs, so the actors can go without anyone calling into them.
  p.work.reset();
  p.io.stop();
  for (auto& t : p.io_threads)
    t.join();
  p.io_threads.clear();
  p.server.reset();
  if (p.ingest)
    p.ingest->close();
  p.rest.reset();
  p.watchdog = p.http = p.router = p.supervisor = p.persistence = p.ledger = p.maintenance = p.cluster = caf::actor{};
  p.system.reset(); // waits for every actor
  log::flush();
}

} // namespace txrelay
