#pragma once
// An engine started in-process from YAML config text against a throwaway
// database, listening on an ephemeral loopback port.
#include "app/engine.hpp"
#include "config/config.hpp"
#include "support/eventually.hpp"
#include "support/http_test_client.hpp"
#include "support/test_database.hpp"

#include <gtest/gtest.h>

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
                 std::function<void(const std::string&)> on_essential_actor_down = {}) {
    engine_options opts;
    opts.on_essential_actor_down = std::move(on_essential_actor_down);
    opts.config = config_from_yaml(yaml, std::move(env));
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
  std::unique_ptr<engine> engine_;
};

} // namespace txrelay::testing
