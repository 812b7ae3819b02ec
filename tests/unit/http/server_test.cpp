// The HTTP server over real loopback sockets: keep-alive, replies that come
// later from other threads, and the answers the server gives by itself.
#include "http/server.hpp"

#include "support/http_test_client.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

using namespace txrelay;
using namespace txrelay::http;
using txrelay::testing::http_test_connection;
using txrelay::testing::test_response;

namespace {

using namespace std::chrono_literals;

/// An io_context run by two threads (so per-connection strands matter), a
/// server on an ephemeral port, and a record of what the server saw and said.
class server_fixture : public ::testing::Test {
protected:
  using work_guard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;

  void start(server_options options = {}) {
    options.host = "127.0.0.1";
    options.port = 0;
    server_ = std::make_unique<server>(
      io_, options, [this](request&& req, respond_fn respond) { on_request(std::move(req), std::move(respond)); },
      [this](std::string_view route, int status) {
        std::lock_guard guard{mutex_};
        statuses_.push_back(status);
        routes_.emplace_back(route);
      });
    auto bound = server_->start();
    ASSERT_TRUE(bound) << bound.error();
    port_ = *bound;
    for (int i = 0; i < 2; ++i)
      threads_.emplace_back([this] { io_.run(); });
  }

  void TearDown() override {
    if (server_)
      server_->stop();
    work_.reset();
    io_.stop();
    for (auto& t : threads_)
      t.join();
    server_.reset();
  }

  /// By default each request is answered at once with its own description;
  /// `defer_` keeps the respond_fn for the test to call later.
  void on_request(request&& req, respond_fn respond) {
    std::unique_lock lock{mutex_};
    seen_.push_back(req);
    if (defer_) {
      deferred_.push_back(std::move(respond));
      changed_.notify_all();
      return;
    }
    auto status = status_;
    lock.unlock();
    response res;
    res.status = status;
    res.headers = {{"X-Echo-Method", req.method}};
    res.route = req.method + " echo";
    res.body = "{\"path\":\"" + std::string{req.path()} + "\",\"body\":\"" + req.body + "\"}";
    respond(std::move(res));
  }

  respond_fn wait_for_deferred() {
    std::unique_lock lock{mutex_};
    if (!changed_.wait_for(lock, 10s, [&] { return !deferred_.empty(); }))
      return {};
    auto r = std::move(deferred_.front());
    deferred_.pop_front();
    return r;
  }

  std::vector<request> seen() {
    std::lock_guard guard{mutex_};
    return seen_;
  }

  std::vector<std::string> routes() {
    std::lock_guard guard{mutex_};
    return routes_;
  }

  std::vector<int> statuses() {
    std::lock_guard guard{mutex_};
    return statuses_;
  }

  boost::asio::io_context io_;
  std::optional<work_guard> work_{io_.get_executor()};
  std::vector<std::thread> threads_;
  std::unique_ptr<server> server_;
  std::uint16_t port_ = 0;

  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<request> seen_;
  std::vector<int> statuses_;
  std::vector<std::string> routes_; // as reported with each status
  std::deque<respond_fn> deferred_;
  bool defer_ = false;
  int status_ = 200;
};

TEST_F(server_fixture, answers_two_requests_on_one_kept_alive_connection) {
  start();
  http_test_connection conn{port_};
  ASSERT_TRUE(conn.connected());

  auto first = conn.call("POST", "/v1/events?x=1", "abc", {{"Content-Type", "application/json"}, {"X-Mine", "7"}});
  ASSERT_EQ(first.status, 200);
  EXPECT_EQ(first.body, R"({"path":"/v1/events","body":"abc"})");
  EXPECT_EQ(first.header("content-type"), "application/json");
  EXPECT_EQ(first.header("content-length"), std::to_string(first.body.size()));
  EXPECT_EQ(first.header("x-echo-method"), "POST");
  EXPECT_NE(first.header("connection"), "close");

  auto second = conn.call("GET", "/health");
  ASSERT_EQ(second.status, 200); // the same socket: the server kept it open
  EXPECT_EQ(second.header("x-echo-method"), "GET");

  auto requests = seen();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].target, "/v1/events?x=1");
  EXPECT_EQ(requests[0].body, "abc");
  EXPECT_EQ(requests[0].header("x-mine"), "7");
  EXPECT_EQ(requests[1].method, "GET");
  EXPECT_EQ(statuses(), (std::vector<int>{200, 200}));
}

TEST_F(server_fixture, closes_after_the_reply_when_the_client_asks) {
  start();
  http_test_connection conn{port_};
  auto res = conn.call("GET", "/x", {}, {{"Connection", "close"}});
  ASSERT_EQ(res.status, 200);
  EXPECT_EQ(res.header("connection"), "close");
  EXPECT_TRUE(conn.closed_by_peer());
}

TEST_F(server_fixture, a_reply_may_come_later_from_another_thread) {
  defer_ = true;
  start();
  auto pending = std::async(std::launch::async, [port = port_] {
    http_test_connection conn{port};
    auto first = conn.call("POST", "/slow", "1");
    auto second = conn.call("POST", "/slow", "2");
    return std::make_pair(first, second);
  });

  for (int status : {202, 409}) {
    auto respond = wait_for_deferred();
    ASSERT_TRUE(respond) << "the handler was not called";
    std::thread other{[respond = std::move(respond), status] {
      response res;
      res.status = status;
      res.body = "{}";
      respond(std::move(res));
    }};
    other.join();
  }
  auto [first, second] = pending.get();
  EXPECT_EQ(first.status, 202);
  EXPECT_EQ(second.status, 409);
  EXPECT_EQ(statuses(), (std::vector<int>{202, 409}));
}

TEST_F(server_fixture, a_body_over_the_limit_gets_413_without_reaching_the_handler) {
  server_options options;
  options.max_body_bytes = 1024;
  start(options);
  http_test_connection conn{port_};
  auto res = conn.call("POST", "/v1/events", std::string(4096, 'x'), {{"Content-Type", "application/json"}});
  ASSERT_EQ(res.status, 413);
  EXPECT_EQ(res.header("content-type"), "application/json");
  EXPECT_NE(res.body.find(R"({"error":{"code":"payload_too_large")"), std::string::npos) << res.body;
  EXPECT_TRUE(conn.closed_by_peer());
  EXPECT_TRUE(seen().empty());
  EXPECT_EQ(statuses(), (std::vector<int>{413}));
}

TEST_F(server_fixture, a_body_at_the_limit_is_accepted) {
  server_options options;
  options.max_body_bytes = 1024;
  start(options);
  http_test_connection conn{port_};
  EXPECT_EQ(conn.call("POST", "/v1/events", std::string(1024, 'x')).status, 200);
}

TEST_F(server_fixture, garbage_gets_400_and_the_connection_closed) {
  start();
  http_test_connection conn{port_};
  ASSERT_TRUE(conn.send_raw("this is not http\r\n\r\n"));
  auto res = conn.read_response();
  ASSERT_EQ(res.status, 400);
  EXPECT_NE(res.body.find(R"({"error":{"code":"bad_request")"), std::string::npos) << res.body;
  EXPECT_TRUE(conn.closed_by_peer());
  EXPECT_TRUE(seen().empty());
  EXPECT_EQ(statuses(), (std::vector<int>{400}));
  EXPECT_EQ(routes(), (std::vector<std::string>{""})) << "the server answered: no route";
}

TEST_F(server_fixture, headers_over_the_limit_get_431) {
  start();
  http_test_connection conn{port_};
  auto res = conn.call("GET", "/", {}, {{"X-Huge", std::string(32 * 1024, 'h')}});
  EXPECT_EQ(res.status, 431);
  EXPECT_TRUE(seen().empty());
}

TEST_F(server_fixture, expect_100_continue_is_answered_before_the_body) {
  start();
  http_test_connection conn{port_};
  ASSERT_TRUE(conn.send_raw("POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  EXPECT_EQ(conn.read_response().status, 100);
  ASSERT_TRUE(conn.send_raw("hello"));
  auto res = conn.read_response();
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, R"({"path":"/v1/events","body":"hello"})");
}

TEST_F(server_fixture, handler_statuses_are_reported_as_written) {
  start();
  http_test_connection conn{port_};
  for (int status : {201, 404, 503}) {
    {
      std::lock_guard guard{mutex_};
      status_ = status;
    }
    EXPECT_EQ(conn.call("GET", "/").status, status);
  }
  EXPECT_EQ(statuses(), (std::vector<int>{201, 404, 503}));
  EXPECT_EQ(routes(), (std::vector<std::string>{"GET echo", "GET echo", "GET echo"}));
}

TEST_F(server_fixture, stop_closes_open_connections) {
  defer_ = true;
  start();
  http_test_connection idle{port_};
  http_test_connection waiting{port_};
  ASSERT_TRUE(idle.connected());
  ASSERT_TRUE(waiting.send_raw("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto respond = wait_for_deferred(); // the request is with the handler
  ASSERT_TRUE(respond);

  server_->stop();
  EXPECT_TRUE(idle.closed_by_peer());
  EXPECT_TRUE(waiting.closed_by_peer());
  respond(response{}); // too late: nothing to write to, and nothing breaks
  server_->stop();     // twice is fine
}

TEST_F(server_fixture, start_reports_an_address_in_use) {
  start();
  server_options options;
  options.host = "127.0.0.1";
  options.port = port_;
  server second{io_, options, [](request&&, respond_fn) {}};
  auto bound = second.start();
  ASSERT_FALSE(bound);
  EXPECT_FALSE(bound.error().empty());
}

TEST_F(server_fixture, start_rejects_a_host_that_is_not_an_address) {
  server_options options;
  options.host = "not an address";
  options.port = 0;
  server s{io_, options, [](request&&, respond_fn) {}};
  auto bound = s.start();
  ASSERT_FALSE(bound);
  EXPECT_NE(bound.error().find("not an IP address"), std::string::npos);
}

TEST(server_lifetime, can_be_destroyed_after_its_io_context_stopped) {
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  std::promise<respond_fn> handed_over;
  auto s = std::make_unique<server>(io, server_options{"127.0.0.1", 0},
                                    [&](request&&, respond_fn respond) { handed_over.set_value(std::move(respond)); });
  auto bound = s->start();
  ASSERT_TRUE(bound);
  std::thread runner{[&] { io.run(); }};

  http_test_connection conn{*bound};
  ASSERT_TRUE(conn.send_raw("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto respond = handed_over.get_future().get(); // a connection is open and a reply pending

  io.stop();
  runner.join();
  s.reset();           // stop() posts into an io_context that no longer runs
  respond(response{}); // and so does a late reply
  SUCCEED();
}

} // namespace
