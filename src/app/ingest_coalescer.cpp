#include "app/ingest_coalescer.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

namespace txrelay {

void ingest_coalescer::submit(event_batch events, ingest_reply reply) {
  bool post = false;
  {
    std::lock_guard lock{mutex_};
    queued_.push_back({std::move(events), std::move(reply)});
    post = !flush_posted_;
    flush_posted_ = true;
  }
  // post() runs the flush after the handlers already queued in this turn:
  // the other connections' reads that the same epoll wake completed.
  if (post)
    boost::asio::post(io_, [self = shared_from_this()] { self->flush(); });
}

void ingest_coalescer::flush() {
  ingest_requests batch;
  {
    std::lock_guard lock{mutex_};
    batch.swap(queued_);
    flush_posted_ = false;
  }
  if (!batch.empty())
    caf::anon_send(http_actor_, ingest_atom::value, std::move(batch));
}

} // namespace txrelay
