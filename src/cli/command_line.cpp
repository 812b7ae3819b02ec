#include "cli/command_line.hpp"

#include "cli/argument_reader.hpp"

#include "cli/operator_commands.hpp"
#include "cli/operator_run.hpp"
#include "core/version.hpp"

#include "app/engine.hpp"
#include "config/config.hpp"
#include "logging/log.hpp"
#include "persistence/embedded_postgres.hpp"
#include "persistence/migrations.hpp"
#include "persistence/outbox.hpp"

#include <csignal>
#include <cstdio>
#include <cstdlib>

#include <unistd.h>
#include <iostream>

namespace txrelay::cli {

namespace {

constexpr const char* usage = R"(txrelay: commit events to PostgreSQL, deliver them to sinks after the commit.

usage:
  txrelay serve --config FILE [--listen HOST:PORT] [--database-url URL] [--data-dir DIR]
  txrelay check-config --config FILE
  txrelay migrate [--config FILE] [--database-url URL] [--data-dir DIR]
  txrelay --help | --version

The database is --database-url, else $TXRELAY_DATABASE_URL, else database.url from
the config; when none is set, txrelay starts its own PostgreSQL under --data-dir
(default ./.txrelay) and stops it on exit.

)";

/// The embedded server when no URL is configured; `holder` keeps it running.
result<std::string, std::string> database_url_for(const options& opts, const txrelay_config* config,
                                                  std::unique_ptr<embedded_postgres>& holder) {
  std::optional<std::string> env_url;
  if (const char* v = std::getenv("TXRELAY_DATABASE_URL"); v && *v)
    env_url = v;
  auto url = resolve_database_url(opts, config ? config->database.url : std::string{}, env_url);
  if (!url.empty())
    return url;
  auto dir = opts.data_dir.value_or(".txrelay");
  log::info("no database configured: starting the embedded PostgreSQL in " + dir);
  auto started = embedded_postgres::start(dir, [](const std::string& line) { log::info(line); });
  if (!started)
    return unexpected{"embedded PostgreSQL: " + started.error()};
  holder = std::move(*started);
  return holder->connection_url();
}

int fail(const std::string& message) {
  log::error(message);
  log::flush();
  return 1;
}

int check_config(const options& opts) {
  auto config = load_config_file(opts.config_path, process_env());
  if (!config) {
    std::cerr << config.error().to_string() << '\n';
    return 1;
  }
  std::cout << opts.config_path << ": ok (" << config->sinks.size() << " sinks, " << config->routes.size()
            << " routes";
  if (!config->disabled_sinks.empty())
    std::cout << ", " << config->disabled_sinks.size() << " optional sinks disabled";
  std::cout << ")\n";
  return 0;
}

int migrate_command(const options& opts) {
  std::optional<txrelay_config> config;
  if (!opts.config_path.empty()) {
    auto loaded = load_config_file(opts.config_path, process_env());
    if (!loaded)
      return fail(loaded.error().to_string());
    config = std::move(*loaded);
  }
  std::unique_ptr<embedded_postgres> embedded;
  auto url = database_url_for(opts, config ? &*config : nullptr, embedded);
  if (!url)
    return fail(url.error());
  auto conn = pg::connection::open(*url);
  if (!conn)
    return fail(conn.error().message);
  auto version = pg::migrate(*conn);
  if (!version)
    return fail("migration failed: " + version.error().message);
  log::info("schema is at version " + std::to_string(*version));
  // With a config, txrelay.publish() accepts its routed topics from now on,
  // not only once txrelay serves.
  if (config) {
    if (auto declared = pg::declare_topics(*conn, routed_topics(*config)); !declared)
      return fail("cannot record the routed topics: " + declared.error().message);
    log::info("txrelay.publish() accepts " + std::to_string(routed_topics(*config).size()) + " topics");
  }
  log::flush();
  return 0;
}

int serve(const options& opts) {
  auto config = load_config_file(opts.config_path, process_env());
  if (!config)
    return fail(config.error().to_string());
  if (opts.listen) {
    auto listen = parse_listen_address(*opts.listen);
    if (!listen)
      return fail("--listen: " + listen.error());
    config->server.listen = *listen;
  }
  for (const auto& name : config->disabled_sinks)
    log::info("sink " + name + " is disabled: it is optional and its url is empty");

  // Signals are taken synchronously by this thread (sigwait), so they are
  // blocked before any other thread starts and inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1); // from the engine: an essential actor died
  sigaddset(&signals, SIGHUP);  // reload the config file
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::unique_ptr<embedded_postgres> embedded;
  auto url = database_url_for(opts, &*config, embedded);
  if (!url)
    return fail(url.error());

  engine_options eopts;
  eopts.config = std::move(*config);
  eopts.database_url = *url;
  eopts.on_essential_actor_down = [](const std::string&) { ::kill(::getpid(), SIGUSR1); };
  auto running = engine::start(std::move(eopts));
  if (!running)
    return fail(running.error());
  log::info("txrelay listening on port " + std::to_string((*running)->port()) + " (config " + opts.config_path + ")");
  log::flush();

  int sig = 0;
  // A reload reports for itself (log lines); a refused one changes nothing.
  while (sigwait(&signals, &sig) == 0 && sig == SIGHUP) {
    log::info("received SIGHUP, reloading " + opts.config_path);
    (void)(*running)->reload();
    log::flush();
  }
  if (sig == SIGUSR1)
    log::error("stopping after an essential actor died; exit status 70 asks the service manager for a restart");
  else
    log::info(std::string{"received "} + (sig == SIGINT ? "SIGINT" : "SIGTERM") + ", stopping");
  (*running)->stop();
  if (embedded)
    embedded->stop();
  log::info("stopped");
  log::flush();
  return sig == SIGUSR1 ? 70 : 0; // 70: EX_SOFTWARE
}

} // namespace

std::string resolve_database_url(const options& opts, const std::string& config_url,
                                 const std::optional<std::string>& env_url) {
  if (opts.database_url && !opts.database_url->empty())
    return *opts.database_url;
  if (env_url && !env_url->empty())
    return *env_url;
  return config_url;
}

result<options, std::string> parse_arguments(const std::vector<std::string>& args) {
  options opts;
  if (args.empty())
    return unexpected{std::string{"no command given (serve, check-config, migrate, events, sinks, dead; --help for usage)"}};
  const auto& first = args[0];
  if (first == "--help" || first == "-h" || first == "help") {
    opts.command = "help";
    return opts;
  }
  if (first == "--version" || first == "version") {
    opts.command = "version";
    return opts;
  }
  if (first != "serve" && first != "check-config" && first != "migrate")
    return unexpected{"unknown command \"" + first + "\" (serve, check-config, migrate, events, sinks, dead; --help for usage)"};
  opts.command = first;
  for (argument_reader reader{args}; !reader.done();) {
    auto arg = reader.next();
    const auto& flag = arg.name;
    std::optional<std::string>* target = nullptr;
    std::optional<std::string> config;
    if (flag == "--config" || flag == "-c")
      target = &config;
    else if (flag == "--listen" && opts.command == "serve")
      target = &opts.listen;
    else if (flag == "--database-url" && opts.command != "check-config")
      target = &opts.database_url;
    else if (flag == "--data-dir" && opts.command != "check-config")
      target = &opts.data_dir;
    else if (flag == "--help" || flag == "-h") {
      opts.command = "help";
      return opts;
    } else
      return unexpected{"unknown option \"" + flag + "\" for " + opts.command + " (--help for usage)"};
    auto v = reader.value_of(arg);
    if (!v)
      return unexpected{v.error()};
    *target = *v;
    if (config)
      opts.config_path = *config;
  }
  if (opts.config_path.empty() && opts.command != "migrate")
    return unexpected{opts.command + " needs --config FILE"};
  return opts;
}

int run(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  // The operator commands talk to a running server; they have their own
  // parser and exit codes (operator_commands.hpp).
  if (!args.empty() && is_operator_group(args[0]))
    return run_operator_command(args);
  auto opts = parse_arguments(args);
  if (!opts) {
    std::cerr << "txrelay: " << opts.error() << '\n';
    return 2;
  }
  if (opts->command == "help") {
    std::cout << usage << operator_usage();
    return 0;
  }
  if (opts->command == "version") {
    std::cout << "txrelay " << version << '\n';
    return 0;
  }
  if (opts->command == "check-config")
    return check_config(*opts);
  if (opts->command == "migrate")
    return migrate_command(*opts);
  return serve(*opts);
}

} // namespace txrelay::cli
