#pragma once
// What the http_client tests share: an io_context on its own thread, one
// client under test, and a bounded blocking send().
#include "sinks/http_client.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>

namespace txrelay::testing {

class http_client_fixture : public ::testing::Test {
protected:
  using work_guard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;

  void SetUp() override { runner_ = std::thread{[this] { io_.run(); }}; }

  void TearDown() override {
    client_.reset();
    work_.reset();
    io_.stop();
    runner_.join();
  }

  http_client& client_for(const std::string& text, http_client_options options = {}) {
    auto origin = parse_url(text);
    EXPECT_TRUE(origin) << text;
    client_.emplace(io_, *origin, std::move(options));
    return *client_;
  }

  /// Sends and waits for `done` (bounded, so a lost callback fails the test).
  static http_outcome send(http_client& client, http_call call) {
    auto promise = std::make_shared<std::promise<http_outcome>>();
    auto future = promise->get_future();
    client.send(std::move(call), [promise](http_outcome out) { promise->set_value(std::move(out)); });
    if (future.wait_for(std::chrono::seconds{30}) != std::future_status::ready) {
      ADD_FAILURE() << "done was not called";
      return {};
    }
    return future.get();
  }

  static http_call post(std::string target, std::string body = "{}") {
    http_call call;
    call.target = std::move(target);
    call.body = std::move(body);
    call.headers = {{"content-type", "application/json"}};
    return call;
  }

  boost::asio::io_context io_;
  std::optional<work_guard> work_{io_.get_executor()};
  std::thread runner_;
  std::optional<http_client> client_;
};

} // namespace txrelay::testing
