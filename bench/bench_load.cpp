// An open-loop load generator: POSTs events at a fixed rate, whatever the
// server's speed, and measures each response from the moment the request
// was *due* (so a slow server cannot hide its queueing: no coordinated
// omission). Prints one JSON line.
//
//   txrelay_bench_load --port P --rate 1000 --duration 10 [--payload-bytes 300]
//                      [--connections 8] [--topic bench]
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using steady = std::chrono::steady_clock;

int main(int argc, char** argv) {
  int port = 8080, connections = 8, payload_bytes = 300;
  double rate = 1000, duration = 10;
  std::string topic = "bench";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--port") port = std::stoi(v);
    else if (k == "--rate") rate = std::stod(v);
    else if (k == "--duration") duration = std::stod(v);
    else if (k == "--payload-bytes") payload_bytes = std::stoi(v);
    else if (k == "--connections") connections = std::stoi(v);
    else if (k == "--topic") topic = v;
    else {
      std::cerr << "unknown option " << k << "\n";
      return 2;
    }
  }
  // A payload shaped like scenario 1's feedback, padded to the requested size.
  std::string body = R"({"topic":")" + topic + R"(","key":"user-42","payload":{"user_id":42,"user_name":"kim","content":")";
  std::string tail = R"("}})";
  auto pad = std::max<int>(1, payload_bytes - static_cast<int>(body.size() + tail.size()));
  body += std::string(static_cast<std::size_t>(pad), 'x') + tail;

  const auto total = static_cast<long long>(rate * duration);
  const auto interval = std::chrono::nanoseconds{static_cast<long long>(1e9 / rate)};
  const auto start = steady::now() + std::chrono::milliseconds{100};
  std::atomic<long long> next{0}, ok{0}, errors{0};
  std::mutex mutex;
  std::vector<double> latencies_ms;
  latencies_ms.reserve(static_cast<std::size_t>(total));

  std::vector<std::thread> workers;
  for (int c = 0; c < connections; ++c) {
    workers.emplace_back([&] {
      net::io_context io;
      std::optional<beast::tcp_stream> stream;
      beast::flat_buffer buffer;
      std::vector<double> mine;
      for (;;) {
        auto n = next.fetch_add(1);
        if (n >= total)
          break;
        auto due = start + interval * n;
        std::this_thread::sleep_until(due);
        beast::error_code ec;
        if (!stream) {
          stream.emplace(io);
          stream->connect(tcp::endpoint{net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)}, ec);
          if (ec) {
            stream.reset();
            errors.fetch_add(1);
            continue;
          }
        }
        bhttp::request<bhttp::string_body> req{bhttp::verb::post, "/v1/events", 11};
        req.set(bhttp::field::host, "127.0.0.1");
        req.set(bhttp::field::content_type, "application/json");
        req.body() = body;
        req.prepare_payload();
        bhttp::write(*stream, req, ec);
        bhttp::response<bhttp::string_body> res;
        if (!ec)
          bhttp::read(*stream, buffer, res, ec);
        auto done = steady::now();
        if (ec || res.result_int() != 201) {
          errors.fetch_add(1);
          if (ec)
            stream.reset();
          continue;
        }
        ok.fetch_add(1);
        mine.push_back(std::chrono::duration<double, std::milli>(done - due).count());
      }
      std::lock_guard guard{mutex};
      latencies_ms.insert(latencies_ms.end(), mine.begin(), mine.end());
    });
  }
  for (auto& t : workers)
    t.join();
  auto elapsed = std::chrono::duration<double>(steady::now() - start).count();
  std::sort(latencies_ms.begin(), latencies_ms.end());
  auto pct = [&](double p) {
    return latencies_ms.empty() ? 0.0 : latencies_ms[static_cast<std::size_t>(p * (latencies_ms.size() - 1))];
  };
  std::printf(R"({"sent":%lld,"ok":%lld,"errors":%lld,"seconds":%.3f,"rate":%.1f,"p50_ms":%.3f,"p99_ms":%.3f})"
              "\n",
              total, ok.load(), errors.load(), elapsed, static_cast<double>(ok.load()) / elapsed, pct(0.5), pct(0.99));
  return errors.load() == 0 ? 0 : 1;
}
