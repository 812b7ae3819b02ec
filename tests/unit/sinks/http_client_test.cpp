// The sinks' HTTP client against a real fake sink on loopback: what it sends,
// connection reuse, timeouts, refusals, and the one retry on a stale connection.
// (Over TLS: https_client_test.cpp.)
#include "sinks/http_client.hpp"

#include "http_client_fixture.hpp"
#include "support/eventually.hpp"
#include "support/fake_sink_server.hpp"

#include <gtest/gtest.h>

#include <future>
#include <thread>

using namespace txrelay;
using namespace txrelay::testing;
using namespace std::chrono_literals;

namespace {

fake_reply reply(int status, http::header_list headers = {}, std::string body = {}) {
  fake_reply r;
  r.status = status;
  r.headers = std::move(headers);
  r.body = std::move(body);
  return r;
}

TEST_F(http_client_fixture, sends_the_request_and_returns_status_headers_and_body) {
  fake_sink_server sink{[](const recorded_request&, std::size_t) {
    return reply(201, {{"X-Reply", "yes"}}, R"({"ok":true})");
  }};
  auto& client = client_for(sink.url());
  auto call = post("/hook/abc?q=1", R"({"n":1})");
  call.headers.emplace_back("webhook-id", "msg_1");

  auto out = send(client, call);
  ASSERT_TRUE(out.transport_ok) << out.transport_error;
  EXPECT_EQ(out.status, 201);
  EXPECT_EQ(http::find_header(out.headers, "x-reply"), "yes");
  EXPECT_EQ(out.body, R"({"ok":true})");
  EXPECT_FALSE(out.body_truncated);

  auto requests = sink.requests();
  ASSERT_EQ(requests.size(), 1u);
  const auto& r = requests[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/hook/abc?q=1");
  EXPECT_EQ(r.body, R"({"n":1})");
  EXPECT_EQ(r.header("host"), "127.0.0.1:" + std::to_string(sink.port()));
  EXPECT_EQ(r.header("user-agent"), "txrelay/0.1");
  EXPECT_EQ(r.header("content-length"), "7");
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(r.header("webhook-id"), "msg_1");
}

TEST_F(http_client_fixture, reuses_a_kept_alive_connection) {
  fake_sink_server sink;
  auto& client = client_for(sink.url());
  for (int i = 0; i < 3; ++i) {
    auto out = send(client, post("/hook"));
    ASSERT_TRUE(out.transport_ok) << out.transport_error;
    EXPECT_EQ(out.status, 204);
  }
  EXPECT_EQ(sink.request_count(), 3u);
  EXPECT_EQ(sink.connection_count(), 1u);
}

TEST_F(http_client_fixture, drops_a_connection_the_response_closed) {
  fake_sink_server sink{[](const recorded_request&, std::size_t) {
    return reply(200, {{"Connection", "close"}}, "bye");
  }};
  auto& client = client_for(sink.url());
  EXPECT_TRUE(send(client, post("/hook")).transport_ok);
  auto second = send(client, post("/hook"));
  ASSERT_TRUE(second.transport_ok) << second.transport_error;
  EXPECT_EQ(second.body, "bye");
  EXPECT_EQ(sink.connection_count(), 2u);
}

TEST_F(http_client_fixture, concurrent_sends_from_several_threads_all_complete) {
  fake_sink_server sink;
  auto& client = client_for(sink.url());
  std::vector<std::future<int>> statuses;
  for (int t = 0; t < 4; ++t)
    statuses.push_back(std::async(std::launch::async, [&client] {
      int ok = 0;
      for (int i = 0; i < 5; ++i)
        ok += send(client, post("/hook")).status == 204;
      return ok;
    }));
  int ok = 0;
  for (auto& s : statuses)
    ok += s.get();
  EXPECT_EQ(ok, 20);
  EXPECT_EQ(sink.request_count(), 20u);
  EXPECT_LE(sink.connection_count(), 4u); // at most one per concurrent call
}

TEST_F(http_client_fixture, a_stalled_sink_times_out_without_naming_the_path) {
  fake_sink_server sink{[](const recorded_request&, std::size_t) { fake_reply r;
    r.stall = true;
    return r; }};
  auto& client = client_for(sink.url());
  auto call = post("/hook/secret-token-123");
  call.timeout = 200ms;
  auto started = std::chrono::steady_clock::now();
  auto out = send(client, call);
  auto took = std::chrono::steady_clock::now() - started;

  EXPECT_FALSE(out.transport_ok);
  EXPECT_EQ(out.transport_error, "receive: timeout after 200 ms");
  EXPECT_EQ(out.transport_failure, failure_reason::timeout);
  EXPECT_EQ(out.transport_error.find("secret-token"), std::string::npos);
  EXPECT_GE(took, 190ms);
  EXPECT_LT(took, 5s);
  EXPECT_EQ(sink.request_count(), 1u); // a timeout is not retried
}

TEST_F(http_client_fixture, a_refused_connection_names_the_step) {
  std::uint16_t port;
  {
    fake_sink_server gone;
    port = gone.port();
  } // nothing listens there now
  auto& client = client_for("http://127.0.0.1:" + std::to_string(port) + "/hook");
  auto out = send(client, post("/hook/secret-token-123"));
  EXPECT_FALSE(out.transport_ok);
  EXPECT_EQ(out.transport_error, "connect: Connection refused");
  EXPECT_EQ(out.transport_failure, failure_reason::connect);
  EXPECT_EQ(out.status, 0);
}

TEST_F(http_client_fixture, redirects_are_returned_not_followed) {
  fake_sink_server sink{[](const recorded_request&, std::size_t) {
    return reply(302, {{"Location", "/elsewhere"}});
  }};
  auto& client = client_for(sink.url());
  auto out = send(client, post("/hook"));
  ASSERT_TRUE(out.transport_ok) << out.transport_error;
  EXPECT_EQ(out.status, 302);
  EXPECT_EQ(http::find_header(out.headers, "location"), "/elsewhere");
  EXPECT_EQ(sink.request_count(), 1u);
}

TEST_F(http_client_fixture, retries_once_when_the_sink_closed_the_idle_connection) {
  fake_sink_server sink;
  auto& client = client_for(sink.url());
  ASSERT_TRUE(send(client, post("/hook")).transport_ok);
  // The pooled one, behind the client's back. The client has its response a
  // moment before the fake's connection thread is back to waiting (idle).
  ASSERT_TRUE(eventually([&] { return sink.close_idle_connections() == 1u; }, std::chrono::seconds{5}));

  auto out = send(client, post("/hook", R"({"second":true})"));
  ASSERT_TRUE(out.transport_ok) << out.transport_error;
  EXPECT_EQ(out.status, 204);
  EXPECT_EQ(sink.connection_count(), 2u);
  auto requests = sink.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].body, R"({"second":true})");
}

TEST_F(http_client_fixture, a_response_body_over_the_limit_is_truncated) {
  fake_sink_server sink{[](const recorded_request&, std::size_t) {
    return reply(200, {}, std::string(2 << 20, 'b'));
  }};
  auto& client = client_for(sink.url());
  auto out = send(client, post("/hook"));
  ASSERT_TRUE(out.transport_ok) << out.transport_error;
  EXPECT_EQ(out.status, 200);
  EXPECT_TRUE(out.body_truncated);
  EXPECT_LE(out.body.size(), 1u << 20);
  // The unread rest makes that connection useless; the next call gets a new one.
  EXPECT_TRUE(send(client, post("/hook")).transport_ok);
  EXPECT_EQ(sink.connection_count(), 2u);
}

} // namespace
