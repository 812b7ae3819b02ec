#pragma once
// Requests that arrive in the same turn of the I/O loop travel to the actor
// world as one message. Under load one epoll wake hands the I/O thread many
// requests; sending each on its own costs a scheduler wake-up (a futex, a
// context switch: on a small VM the largest single cost per request) for
// each hop. Coalesced, the hops are paid once per turn. Requests stay
// separate all the way: each is committed all-or-nothing and answered alone.
#include "actors/protocol.hpp"

#include <caf/actor.hpp>

#include <mutex>

namespace boost::asio {
class io_context;
}

namespace txrelay {

class ingest_coalescer : public std::enable_shared_from_this<ingest_coalescer> {
public:
  ingest_coalescer(boost::asio::io_context& io, caf::actor http_actor) : io_(io), http_actor_(std::move(http_actor)) {}

  /// Queues the request; the queue leaves at the end of the current turn of
  /// the I/O loop. Thread-safe (the loop may run on several threads).
  void submit(event_batch events, ingest_reply reply);

  /// Sends the request on its own, now. For requests that run in_transaction
  /// statements: they commit in a transaction of their own, and a slow one
  /// must not hold up the answers of the requests it would be grouped with.
  void submit_alone(event_batch events, ingest_reply reply);

  /// At shutdown, before the actor system goes: queued requests are
  /// answered 503 and the actor handle is dropped (a flush still posted on
  /// the I/O loop then finds nothing to send and no actor to send it to).
  void close();

private:
  void flush();

  boost::asio::io_context& io_;
  caf::actor http_actor_;
  std::mutex mutex_;
  ingest_requests queued_;
  bool flush_posted_ = false;
  bool closed_ = false;
};

} // namespace txrelay
