#pragma once
// A TCP proxy on loopback between a client and a server, for partition
// tests: while stalled it stops moving bytes either way but keeps every
// connection open and keeps accepting, as a network that drops packets does
// (nothing is refused, nothing is reset; only silence). Resumed, it forwards
// what waited, as TCP retransmission would.
#include <cstdint>
#include <memory>
#include <string>

namespace txrelay::testing {

class tcp_proxy {
public:
  tcp_proxy(std::string target_host, std::uint16_t target_port);
  ~tcp_proxy();
  tcp_proxy(const tcp_proxy&) = delete;
  tcp_proxy& operator=(const tcp_proxy&) = delete;

  std::uint16_t port() const;
  void stall();
  void resume();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// A key=value connection string (test_database::url()) pointed at
/// 127.0.0.1:`port` instead.
std::string with_port(const std::string& conninfo, std::uint16_t port);
/// The port a connection string names (5432 when it names none).
std::uint16_t port_of(const std::string& conninfo);

} // namespace txrelay::testing
