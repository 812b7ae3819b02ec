// The operator commands' HTTP client against the fake sink server on
// loopback (plain and HTTPS with a CA made by the test): what it sends,
// what it reads back, and how each kind of failure is reported.
#include "cli/api_client.hpp"

#include "support/fake_sink_server.hpp"
#include "support/test_tls.hpp"

#include <gtest/gtest.h>

using namespace txrelay;
using namespace txrelay::cli;
using namespace txrelay::testing;
using namespace std::chrono_literals;

namespace {

std::unique_ptr<api_client> client_for(const std::string& base, api_client_options options = {}) {
  auto u = parse_url(base);
  EXPECT_TRUE(u) << u.error();
  auto c = api_client::create(*u, std::move(options));
  EXPECT_TRUE(c) << c.error();
  return c ? std::move(*c) : nullptr;
}

TEST(api_client, sends_the_key_and_a_json_body_and_reads_status_and_body) {
  fake_sink_server server{[](const recorded_request&, std::size_t) {
    return fake_reply{404, {{"Content-Type", "application/json"}}, R"({"error":{"code":"not_found","message":"x"}})"};
  }};
  api_client_options options;
  options.api_key = "admin-key-0123456789abc";
  // A path in the base URL (a reverse proxy's prefix) goes before every request's.
  auto client = client_for("http://127.0.0.1:" + std::to_string(server.port()) + "/txrelay/", options);
  auto answer = client->call({"POST", "/v1/sinks/hook/pause", "{}"});
  ASSERT_TRUE(answer) << answer.error().message;
  EXPECT_EQ(answer->status, 404);
  EXPECT_EQ(answer->body, R"({"error":{"code":"not_found","message":"x"}})");

  ASSERT_EQ(server.request_count(), 1u);
  auto r = server.requests()[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/txrelay/v1/sinks/hook/pause");
  EXPECT_EQ(r.header("authorization"), "Bearer admin-key-0123456789abc");
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(r.header("host"), "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(r.body, "{}");
}

TEST(api_client, a_get_without_a_key_sends_no_authorization) {
  fake_sink_server server{[](const recorded_request&, std::size_t) { return fake_reply{200, {}, "{}"}; }};
  auto client = client_for("http://127.0.0.1:" + std::to_string(server.port()));
  auto answer = client->call({"GET", "/v1/sinks", ""});
  ASSERT_TRUE(answer) << answer.error().message;
  EXPECT_EQ(answer->status, 200);
  auto r = server.requests().at(0);
  EXPECT_EQ(r.target, "/v1/sinks");
  EXPECT_EQ(r.header("authorization"), "");
  EXPECT_EQ(r.header("content-type"), "");
}

TEST(api_client, an_answer_that_never_comes_is_a_timeout_within_the_bound) {
  fake_sink_server server{[](const recorded_request&, std::size_t) {
    fake_reply r;
    r.stall = true;
    return r;
  }};
  api_client_options options;
  options.timeout = millis{200};
  auto client = client_for("http://127.0.0.1:" + std::to_string(server.port()), options);
  auto started = std::chrono::steady_clock::now();
  auto answer = client->call({"GET", "/v1/sinks", ""});
  auto took = std::chrono::steady_clock::now() - started;
  server.release_stalled();
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().code, "timeout");
  EXPECT_NE(answer.error().message.find("no answer from http://127.0.0.1:"), std::string::npos) << answer.error().message;
  EXPECT_GE(took, 200ms);
  EXPECT_LT(took, 5s);
}

TEST(api_client, https_verifies_the_server_against_the_given_ca) {
  test_certificate_authority ca;
  fake_sink_server server{ca.issue_server_certificate({{"localhost"}, {"127.0.0.1"}}),
                          [](const recorded_request&, std::size_t) { return fake_reply{200, {}, R"({"sinks":[]})"}; }};
  temp_file ca_file{ca.certificate_pem()};
  auto base = "https://127.0.0.1:" + std::to_string(server.port());

  api_client_options trusting;
  trusting.ca_file = ca_file.path();
  trusting.api_key = "reader-key-0123456789ab";
  auto answer = client_for(base, trusting)->call({"GET", "/v1/sinks", ""});
  ASSERT_TRUE(answer) << answer.error().message;
  EXPECT_EQ(answer->status, 200);
  EXPECT_EQ(answer->body, R"({"sinks":[]})");

  // Without the CA the certificate is not trusted: a TLS failure, no request.
  auto refused = client_for(base)->call({"GET", "/v1/sinks", ""});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "tls");
  EXPECT_NE(refused.error().message.find("certificate"), std::string::npos) << refused.error().message;
  EXPECT_EQ(server.request_count(), 1u);
}

TEST(api_client, an_unreadable_ca_file_is_refused_before_any_request) {
  api_client_options options;
  options.ca_file = "/nonexistent/ca.pem";
  auto c = api_client::create(*parse_url("https://127.0.0.1:1"), options);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find("/nonexistent/ca.pem"), std::string::npos) << c.error();
}

TEST(api_client, the_key_is_in_no_failure_message) {
  api_client_options options;
  options.api_key = "admin-key-0123456789abc";
  options.timeout = millis{500};
  auto answer = client_for("http://127.0.0.1:1", options)->call({"GET", "/v1/sinks", ""});
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().code, "unreachable");
  EXPECT_EQ(answer.error().message.find("admin-key"), std::string::npos);
}

} // namespace
