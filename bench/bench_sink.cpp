// A fast local sink for benchmarks: answers 204 at once on keep-alive
// connections and measures, for each delivery, the time from the event's
// commit (its created_at) to the request's arrival.
//
//   txrelay_bench_sink --listen 127.0.0.1:PORT
//   GET  /stats  {"requests":N,"first_us":..,"last_us":..,"p50_ms":..,"p99_ms":..,"max_ms":..,"stalled":N}
//   POST /reset  forget everything so far
//   POST /stall/...  never answered: a dead sink that hangs until the client's
//                    timeout (the isolation workload); counted apart.
#include "core/json.hpp"
#include "http/server.hpp"

#include <boost/asio/io_context.hpp>
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <mutex>
#include <thread>
#include <vector>

namespace {

using namespace txrelay;

long long now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

/// RFC 3339 UTC with microseconds, as txrelay writes created_at.
long long parse_created_at(std::string_view s) {
  std::tm tm{};
  int micros = 0;
  if (std::sscanf(std::string{s}.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%6dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &micros) != 7)
    return 0;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<long long>(timegm(&tm)) * 1'000'000 + micros;
}

struct stats {
  std::mutex mutex;
  std::vector<std::uint32_t> latencies_us;
  long long requests = 0;
  long long first_us = 0;
  long long last_us = 0;
  long long stalled = 0;

  std::string json() {
    std::lock_guard guard{mutex};
    auto sorted = latencies_us;
    std::sort(sorted.begin(), sorted.end());
    auto pct = [&](double p) {
      if (sorted.empty())
        return 0.0;
      auto i = static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1));
      return sorted[i] / 1000.0;
    };
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  R"({"requests":%lld,"first_us":%lld,"last_us":%lld,"p50_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,"stalled":%lld})",
                  requests, first_us, last_us, pct(0.5), pct(0.99), sorted.empty() ? 0.0 : sorted.back() / 1000.0,
                  stalled);
    return buf;
  }
};

} // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:0";
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string{argv[i]} == "--listen")
      listen = argv[++i];
  auto colon = listen.rfind(':');
  http::server_options opts;
  opts.host = listen.substr(0, colon);
  opts.port = static_cast<std::uint16_t>(std::stoi(listen.substr(colon + 1)));
  opts.max_body_bytes = 8 << 20;

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  stats st;
  boost::asio::io_context io;
  http::server server{io, opts, [&st](http::request&& req, http::respond_fn respond) {
                        http::response res;
                        if (req.method == "GET" && req.path() == "/stats") {
                          res.body = st.json();
                          return respond(std::move(res));
                        }
                        if (req.method == "POST" && req.path() == "/reset") {
                          std::lock_guard guard{st.mutex};
                          st.latencies_us.clear();
                          st.requests = st.first_us = st.last_us = st.stalled = 0;
                          res.status = 204;
                          return respond(std::move(res));
                        }
                        if (req.path().rfind("/stall", 0) == 0) {
                          // Held unanswered: the respond function is dropped,
                          // and the connection hangs until the client gives up.
                          std::lock_guard guard{st.mutex};
                          ++st.stalled;
                          return;
                        }
                        auto arrived = now_us();
                        thread_local simdjson::dom::parser parser;
                        simdjson::dom::element doc;
                        std::string_view created;
                        long long committed = 0;
                        if (parser.parse(req.body).get(doc) == simdjson::SUCCESS &&
                            doc["created_at"].get_string().get(created) == simdjson::SUCCESS)
                          committed = parse_created_at(created);
                        {
                          std::lock_guard guard{st.mutex};
                          ++st.requests;
                          if (st.first_us == 0)
                            st.first_us = arrived;
                          st.last_us = arrived;
                          if (committed > 0 && arrived >= committed)
                            st.latencies_us.push_back(static_cast<std::uint32_t>(
                              std::min<long long>(arrived - committed, 0xffffffffLL)));
                        }
                        res.status = 204;
                        respond(std::move(res));
                      }};
  auto port = server.start();
  if (!port) {
    std::cerr << "bench sink: " << port.error() << "\n";
    return 1;
  }
  std::cout << "bench sink listening on port " << *port << std::endl;
  std::thread runner{[&io] { io.run(); }};
  int sig = 0;
  sigwait(&signals, &sig);
  server.stop();
  io.stop();
  runner.join();
  return 0;
}
