#include "support/tcp_proxy.hpp"

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace txrelay::testing {

struct tcp_proxy::impl {
  std::string host;
  std::uint16_t target = 0;
  int listener = -1;
  std::uint16_t port = 0;
  std::atomic<bool> stalled{false};
  std::atomic<bool> stopping{false};
  std::mutex mutex;
  std::vector<std::thread> threads;
  std::vector<int> fds;

  int connect_target() const {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(target);
    ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }

  /// Moves bytes both ways until either side closes; while stalled, moves none.
  void pump(int a, int b) {
    char buf[16384];
    while (!stopping) {
      if (stalled) {
        std::this_thread::sleep_for(std::chrono::milliseconds{10});
        continue;
      }
      pollfd fds_[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
      int n = ::poll(fds_, 2, 50);
      if (n <= 0)
        continue;
      for (int i = 0; i < 2; ++i) {
        if (!(fds_[i].revents & (POLLIN | POLLHUP | POLLERR)))
          continue;
        int from = i == 0 ? a : b, to = i == 0 ? b : a;
        ssize_t got = ::recv(from, buf, sizeof buf, 0);
        if (got <= 0)
          return finish(a, b);
        for (ssize_t sent = 0; sent < got;) {
          ssize_t k = ::send(to, buf + sent, static_cast<std::size_t>(got - sent), MSG_NOSIGNAL);
          if (k <= 0)
            return finish(a, b);
          sent += k;
        }
      }
    }
  }
  void finish(int a, int b) {
    ::shutdown(a, SHUT_RDWR);
    ::shutdown(b, SHUT_RDWR);
  }

  void accept_loop() {
    while (!stopping) {
      pollfd p{listener, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0)
        continue;
      int client = ::accept(listener, nullptr, nullptr);
      if (client < 0)
        continue;
      // A stalled network: the connection is accepted (the kernel would
      // complete the handshake of an existing path) but nothing reaches the
      // server until the stall ends.
      while (stalled && !stopping)
        std::this_thread::sleep_for(std::chrono::milliseconds{10});
      int server = connect_target();
      if (server < 0) {
        ::close(client);
        continue;
      }
      std::lock_guard lock{mutex};
      fds.push_back(client);
      fds.push_back(server);
      threads.emplace_back([this, client, server] { pump(client, server); });
    }
  }
};

tcp_proxy::tcp_proxy(std::string target_host, std::uint16_t target_port) : impl_(std::make_unique<impl>()) {
  impl_->host = std::move(target_host);
  impl_->target = target_port;
  impl_->listener = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(impl_->listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(impl_->listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(impl_->listener, 64) != 0)
    throw std::runtime_error("tcp_proxy: cannot listen");
  socklen_t len = sizeof addr;
  ::getsockname(impl_->listener, reinterpret_cast<sockaddr*>(&addr), &len);
  impl_->port = ntohs(addr.sin_port);
  std::lock_guard lock{impl_->mutex};
  impl_->threads.emplace_back([i = impl_.get()] { i->accept_loop(); });
}

tcp_proxy::~tcp_proxy() {
  impl_->stopping = true;
  std::vector<std::thread> threads;
  {
    std::lock_guard lock{impl_->mutex};
    threads.swap(impl_->threads);
  }
  for (auto& t : threads)
    t.join();
  for (int fd : impl_->fds)
    ::close(fd);
  ::close(impl_->listener);
}

std::uint16_t tcp_proxy::port() const { return impl_->port; }
void tcp_proxy::stall() { impl_->stalled = true; }
void tcp_proxy::resume() { impl_->stalled = false; }

std::string with_port(const std::string& conninfo, std::uint16_t port) {
  // In a key=value string the last setting of a keyword wins.
  return conninfo + " host=127.0.0.1 port=" + std::to_string(port);
}

std::uint16_t port_of(const std::string& conninfo) {
  char* err = nullptr;
  std::unique_ptr<PQconninfoOption, void (*)(PQconninfoOption*)> opts{PQconninfoParse(conninfo.c_str(), &err),
                                                                        PQconninfoFree};
  if (!opts) {
    PQfreemem(err);
    throw std::runtime_error("cannot parse the database connection string");
  }
  for (auto* o = opts.get(); o->keyword; ++o)
    if (std::string{o->keyword} == "port" && o->val && *o->val)
      return static_cast<std::uint16_t>(std::stoi(o->val));
  return 5432;
}

} // namespace txrelay::testing
