// A fast local sink for benchmarks: answers 204 at once on keep-alive
// connections and measures, for each delivery, the time from the event's
// commit (its created_at) to the request's arrival.
//
//   txrelay_bench_sink --listen 127.0.0.1:PORT
//   GET  /stats  {"requests":N,"first_us":..,"last_us":..,"p50_ms":..,"p99_ms":..,"max_ms":..,"stalled":N}
//   POST /reset  forget everything so far
//   POST /stall/...  never answered: a dead sink that hangs until the client's
//                    timeout (the isolation workload); counted apart.
//
// It shares the machine with txrelay and PostgreSQL, and a real sink (Discord,
// a webhook) costs the engine's machine nothing, so it is as cheap as an HTTP
// server gets: one thread, one epoll loop, no timers, no allocation per
// request beyond the connection's buffers, every complete request in a read
// answered with one send. Built on txrelay's own HTTP server it took about a
// quarter of both cores during the delivery workload, as much as txrelay's
// I/O thread (docs/benchmarks.md). It speaks only what txrelay's client
// sends: HTTP/1.1 requests with Content-Length bodies.
#include "core/clock.hpp"

#include <simdjson.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace {

using namespace txrelay;

long long now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
    .count();
}

/// RFC 3339 with microseconds, as txrelay writes created_at; 0 if not that.
long long parse_created_at(std::string_view s) {
  auto seconds = parse_rfc3339(s);
  auto dot = s.find('.');
  if (!seconds || dot == std::string_view::npos)
    return 0;
  long long micros = 0;
  int digits = 0;
  for (auto i = dot + 1; i < s.size() && digits < 6 && s[i] >= '0' && s[i] <= '9'; ++i, ++digits)
    micros = micros * 10 + (s[i] - '0');
  for (; digits < 6; ++digits)
    micros *= 10;
  return std::chrono::duration_cast<std::chrono::microseconds>(seconds->time_since_epoch()).count() + micros;
}

struct stats {
  std::vector<std::uint32_t> latencies_us;
  long long requests = 0;
  long long first_us = 0;
  long long last_us = 0;
  long long stalled = 0;

  std::string json() const {
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

  void reset() {
    latencies_us.clear();
    requests = first_us = last_us = stalled = 0;
  }

  void record(std::string_view body) {
    auto arrived = now_us();
    ++requests;
    if (first_us == 0)
      first_us = arrived;
    last_us = arrived;
    simdjson::dom::element doc;
    std::string_view created;
    if (parser.parse(body.data(), body.size()).get(doc) != simdjson::SUCCESS ||
        doc["created_at"].get_string().get(created) != simdjson::SUCCESS)
      return;
    auto committed = parse_created_at(created);
    if (committed > 0 && arrived >= committed)
      latencies_us.push_back(static_cast<std::uint32_t>(std::min<long long>(arrived - committed, 0xffffffffLL)));
  }

  simdjson::dom::parser parser;
};

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

struct connection {
  int fd = -1;
  std::string in;
  std::size_t consumed = 0; // bytes of `in` already answered
  std::string out;
  bool stalled = false; // held unanswered until the client gives up
  bool close_after = false;
  bool watching_out = false; // EPOLLOUT armed: a send would block
};

constexpr std::size_t max_body_bytes = 64 << 20;

constexpr std::string_view no_content = "HTTP/1.1 204 No Content\r\nServer: bench-sink\r\n\r\n";

void respond_json(connection& c, const std::string& body) {
  c.out += "HTTP/1.1 200 OK\r\nServer: bench-sink\r\nContent-Type: application/json\r\nContent-Length: ";
  c.out += std::to_string(body.size());
  c.out += "\r\n\r\n";
  c.out += body;
}

/// Answers every complete request in the connection's input, in order.
void serve(connection& c, stats& st) {
  while (!c.stalled && !c.close_after) {
    std::string_view pending{c.in.data() + c.consumed, c.in.size() - c.consumed};
    auto head_end = pending.find("\r\n\r\n");
    if (head_end == std::string_view::npos)
      return;
    auto head = pending.substr(0, head_end);
    auto line_end = head.find("\r\n");
    auto request_line = head.substr(0, line_end);
    auto sp1 = request_line.find(' ');
    auto sp2 = request_line.find(' ', sp1 + 1);
    if (sp1 == std::string_view::npos || sp2 == std::string_view::npos) {
      c.out += "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      c.close_after = true;
      return;
    }
    auto method = request_line.substr(0, sp1);
    auto path = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
    std::size_t content_length = 0;
    bool chunked = false;
    for (auto at = line_end; at != std::string_view::npos && at < head.size();) {
      auto next = head.find("\r\n", at + 2);
      auto field = head.substr(at + 2, next == std::string_view::npos ? std::string_view::npos : next - at - 2);
      auto colon = field.find(':');
      if (colon != std::string_view::npos) {
        auto name = field.substr(0, colon);
        auto value = field.substr(colon + 1);
        while (!value.empty() && value.front() == ' ')
          value.remove_prefix(1);
        if (iequals(name, "content-length"))
          content_length = std::strtoull(std::string{value}.c_str(), nullptr, 10);
        else if (iequals(name, "transfer-encoding"))
          chunked = true;
        else if (iequals(name, "connection") && iequals(value, "close"))
          c.close_after = true;
      }
      at = next;
    }
    if (chunked) {
      c.out += "HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      c.close_after = true;
      return;
    }
    if (content_length > max_body_bytes) {
      c.out += "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      c.close_after = true;
      return;
    }
    auto total = head_end + 4 + content_length;
    if (pending.size() < total) {
      if (c.close_after) // not complete yet: read on before closing
        c.close_after = false;
      return;
    }
    auto body = pending.substr(head_end + 4, content_length);
    c.consumed += total;
    if (method == "GET" && path == "/stats") {
      respond_json(c, st.json());
    } else if (method == "POST" && path == "/reset") {
      st.reset();
      c.out += no_content;
    } else if (path.rfind("/stall", 0) == 0) {
      ++st.stalled;
      c.stalled = true;
      c.close_after = false; // held open whatever the client asked for
    } else {
      st.record(body);
      c.out += no_content;
    }
  }
}

} // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:0";
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string{argv[i]} == "--listen")
      listen = argv[++i];
  auto colon = listen.rfind(':');
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(std::stoi(listen.substr(colon + 1))));
  auto host = listen.substr(0, colon);
  if (inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host.c_str(), &addr.sin_addr) != 1) {
    std::cerr << "bench sink: \"" << host << "\" is not an IPv4 address\n";
    return 1;
  }
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  socklen_t len = sizeof addr;
  if (bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listener, SOMAXCONN) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::cerr << "bench sink: " << std::strerror(errno) << "\n";
    return 1;
  }

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigprocmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  int sigfd = signalfd(-1, &signals, SFD_CLOEXEC);

  int ep = epoll_create1(EPOLL_CLOEXEC);
  auto watch = [ep](int fd, std::uint32_t events, int op) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    epoll_ctl(ep, op, fd, &ev);
  };
  watch(listener, EPOLLIN, EPOLL_CTL_ADD);
  watch(sigfd, EPOLLIN, EPOLL_CTL_ADD);
  std::cout << "bench sink listening on port " << ntohs(addr.sin_port) << std::endl;

  stats st;
  std::unordered_map<int, std::unique_ptr<connection>> connections;
  auto drop = [&](int fd) {
    close(fd); // also leaves the epoll set
    connections.erase(fd);
  };
  // Sends what is queued; false when the connection is done with.
  auto flush = [&](connection& c) {
    while (!c.out.empty()) {
      auto n = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EAGAIN) {
        if (!c.watching_out)
          watch(c.fd, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
        c.watching_out = true;
        return true;
      }
      if (n <= 0)
        return false;
      c.out.erase(0, static_cast<std::size_t>(n));
    }
    if (c.watching_out)
      watch(c.fd, EPOLLIN, EPOLL_CTL_MOD);
    c.watching_out = false;
    return !c.close_after;
  };

  std::vector<epoll_event> events(256);
  char buffer[64 * 1024];
  for (;;) {
    int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), -1);
    if (n < 0 && errno == EINTR)
      continue;
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == sigfd)
        return 0;
      if (fd == listener) {
        for (int client; (client = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0;) {
          setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          auto c = std::make_unique<connection>();
          c->fd = client;
          connections.emplace(client, std::move(c));
          watch(client, EPOLLIN, EPOLL_CTL_ADD);
        }
        continue;
      }
      auto it = connections.find(fd);
      if (it == connections.end())
        continue;
      auto& c = *it->second;
      if (events[i].events & EPOLLOUT) {
        if (!flush(c)) {
          drop(fd);
          continue;
        }
      }
      if (!(events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        continue;
      bool gone = false;
      for (;;) {
        auto got = recv(fd, buffer, sizeof buffer, 0);
        if (got > 0) {
          if (!c.stalled) // a held connection's further input is ignored
            c.in.append(buffer, static_cast<std::size_t>(got));
          continue;
        }
        gone = got == 0 || errno != EAGAIN;
        break;
      }
      serve(c, st);
      c.in.erase(0, c.consumed); // a request cut by the read stays, at the front
      c.consumed = 0;
      // Answers first: a client may send its last request and close at once.
      if (!flush(c) || gone)
        drop(fd);
    }
  }
}
