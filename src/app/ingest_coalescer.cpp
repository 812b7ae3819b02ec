#include "app/ingest_coalescer.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

namespace txrelay {

void ingest_coalescer::submit(event_batch events, ingest_reply reply) {
  bool post = false;
  {
    std::lock_guard lock{mutex_};
    if (closed_) {
      reply(unexpected{api_error{503, "unavailable", "txrelay is shutting down"}});
      return;
    }
    queued_.push_back({std::move(events), std::move(reply)});
    post = !flush_posted_;
    flush_posted_ = true;
  }
  // post() runs the flush after the handlers already queued in this turn:
  // the other connections' reads that the same epoll wake completed.
  if (post)
    boost::asio::post(io_, [self = shared_from_this()] { self->flush(); });
}

void ingest_coalescer::submit_alone(event_batch events, ingest_reply reply) {
  caf::actor to;
  {
    std::lock_guard lock{mutex_};
    to = http_actor_;
  }
  if (!to) {
    reply(unexpected{api_error{503, "unavailable", "txrelay is shutting down"}});
    return;
  }
  ingest_requests one;
  one.push_back({std::move(events), std::move(reply)});
  caf::anon_send(to, ingest_atom::value, std::move(one));
}

void ingest_coalescer::flush() {
  ingest_requests batch;
  caf::actor to;
  {
    std::lock_guard lock{mutex_};
    batch.swap(queued_);
    flush_posted_ = false;
    to = http_actor_;
  }
  if (!batch.empty() && to)
    caf::anon_send(to, ingest_atom::value, std::move(batch));
}

void ingest_coalescer::close() {
  ingest_requests orphans;
  {
    std::lock_guard lock{mutex_};
    closed_ = true;
    orphans.swap(queued_);
    http_actor_ = caf::actor{};
  }
  for (auto& r : orphans)
    r.reply(unexpected{api_error{503, "unavailable", "txrelay is shutting down"}});
}

} // namespace txrelay
