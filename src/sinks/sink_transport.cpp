#include "sinks/sink_transport.hpp"

#include "config/config.hpp"
#include "sinks/discord_sink.hpp"
#include "sinks/slack_sink.hpp"
#include "sinks/webhook_sink.hpp"

namespace txrelay {

std::shared_ptr<sink_transport> make_sink_transport(const sink_config& config, boost::asio::io_context& io,
                                                   std::shared_ptr<const txrelay::clock> clock) {
  switch (config.kind) {
    case sink_kind::log:
      return std::make_shared<log_sink>(config.name);
    case sink_kind::webhook: {
      std::vector<secret_key> keys;
      for (const auto& s : config.secrets)
        if (auto k = decode_webhook_secret(s))
          keys.push_back(std::move(*k)); // validated at config load
      return std::make_shared<webhook_sink>(io, *config.endpoint, std::move(keys), config.request_timeout,
                                            std::move(clock));
    }
    case sink_kind::discord:
      return std::make_shared<discord_sink>(io, *config.endpoint, config.request_timeout, std::move(clock));
    case sink_kind::slack:
      return std::make_shared<slack_sink>(io, *config.endpoint, config.request_timeout, std::move(clock));
  }
  return nullptr;
}

} // namespace txrelay
