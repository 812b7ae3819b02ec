#pragma once
// How a sender actor hands one delivery to the outside world. A transport
// knows one provider's protocol (request shape, what each status means); the
// sender actor owns everything about *when* (retries, backoff, windows).
#include "core/delivery.hpp"

#include <functional>
#include <memory>
#include <string>

namespace boost::asio {
class io_context;
}

namespace txrelay {

struct sink_config;

using attempt_callback = std::function<void(attempt_result)>;

/// A request body made from a delivery (a sink's configured template). Sinks
/// take an empty one to mean their default rendering.
using body_renderer = std::function<std::string(const delivery_job&)>;

class sink_transport {
public:
  virtual ~sink_transport() = default;

  /// Starts one attempt. Must not block: `done` is called exactly once, from
  /// any thread, possibly before attempt() returns. May throw for a bug in
  /// the transport; the sender's supervisor restarts the sender then.
  virtual void attempt(const delivery_job& job, attempt_callback done) = 0;
};

/// What transports share: the I/O threads, the clock, and txrelay's own
/// database (where sql sinks project).
struct transport_environment {
  boost::asio::io_context& io;
  std::shared_ptr<const txrelay::clock> clock;
  std::string database_url;
};

/// The transport for a configured sink, by its kind, with its templates,
/// timeouts and TLS settings (sink_transport.cpp).
std::shared_ptr<sink_transport> make_sink_transport(const sink_config& config, const transport_environment& env);

} // namespace txrelay
