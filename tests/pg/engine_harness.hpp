#pragma once
// An engine started in-process from YAML config text against a throwaway
// database, listening on an ephemeral loopback port.
#include "app/engine.hpp"
#include "config/config.hpp"
#include "support/eventually.hpp"
#include "support/http_test_client.hpp"
#include "support/temp_config.hpp"
#include "support/test_database.hpp"

#include <gtest/gtest.h>


#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <string>

namespace txrelay::testing {

inline txrelay_config config_from_yaml(const std::string& yaml, std::map<std::string, std::string> env = {}) {
  auto loaded = load_config_text(yaml, "test.yaml", [env](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end())
      return std::nullopt;
    return it->second;
  });
  if (!loaded)
    throw std::runtime_error(loaded.error().to_string());
  auto config = std::move(*loaded);
  config.server.listen = {"127.0.0.1", 0};
  return config;
}

/// A config file on disk (for reloads), given to engine_harness instead of YAML text.
struct config_file {
  std::string path;
  /// Replaces the file's text (what an operator does before a reload).
  void write(const std::string& yaml) const { std::ofstream{path, std::ios::trunc} << yaml; }
};

inline config_file temp_config_file(const std::string& name, const std::string& yaml) {
  return config_file{write_temp_config(name, yaml)};
}

class engine_harness {
public:
  using transport_wrapper =
    std::function<std::shared_ptr<sink_transport>(const sink_config&, std::shared_ptr<sink_transport>)>;

  engine_harness(const test_database& db, const std::string& yaml, transport_wrapper wrap = {},
                 std::map<std::string, std::string> env = {})
    : engine_harness(db.url(), yaml, std::move(wrap), std::move(env)) {}

  /// Against a database reached through `database_url` (e.g. a tcp_proxy).
  engine_harness(const std::string& database_url, const std::string& yaml, transport_wrapper wrap = {},
                 std::map<std::string, std::string> env = {},
                 std::function<void(const std::string&)> on_essential_actor_down = {})
    : engine_harness(database_url, config_from_yaml(yaml, std::move(env)), yaml, std::move(wrap),
                     std::move(on_essential_actor_down)) {}

  /// From a file that POST /v1/admin/reload reads again.
  engine_harness(const test_database& db, const config_file& file, transport_wrapper wrap = {})
    : engine_harness(db.url(), loaded(file), read_all(file.path), std::move(wrap), {}) {}

  engine_harness(const std::string& database_url, txrelay_config config, const std::string& yaml,
                 transport_wrapper wrap, std::function<void(const std::string&)> on_essential_actor_down) {
    engine_options opts;
    opts.on_essential_actor_down = std::move(on_essential_actor_down);
    opts.config = std::move(config);
    // A test that leaves a sink stalled need not wait the default 10 s to stop.
    if (yaml.find("shutdown_grace") == std::string::npos)
      opts.config.server.shutdown_grace = std::chrono::milliseconds{1'000};
    opts.database_url = database_url;
    opts.wrap_transport = std::move(wrap);
    opts.scheduler_threads = 2;
    auto started = engine::start(std::move(opts));
    if (!started)
      throw std::runtime_error("engine did not start: " + started.error());
    engine_ = std::move(*started);
  }

  std::uint16_t port() const { return engine_->port(); }
  engine& get() { return *engine_; }
  void stop() { engine_->stop(); }

  test_response post_event(const std::string& body, http::header_list headers = {}) const {
    return post_json(port(), "/v1/events", body, std::move(headers));
  }
  test_response get(const std::string& target) const { return http_call(port(), "GET", target); }

private:
  static txrelay_config loaded(const config_file& file) {
    auto config = load_config_file(file.path, process_env());
    if (!config)
      throw std::runtime_error(config.error().to_string());
    config->server.listen = {"127.0.0.1", 0};
    return std::move(*config);
  }
  static std::string read_all(const std::string& path) {
    std::ifstream in{path};
    return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
  }

  std::unique_ptr<engine> engine_;
};

} // namespace txrelay::testing
