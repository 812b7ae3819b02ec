// The sinks' HTTP client over TLS, against the fake sink in HTTPS mode on
// loopback, with a CA made by the test: certificate and host name
// verification, the explicit opt-out, keep-alive, the connect timeout, and
// that no failure names the URL's path.
#include "sinks/http_client.hpp"

#include "http_client_fixture.hpp"
#include "support/eventually.hpp"
#include "support/fake_sink_server.hpp"
#include "support/test_tls.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <gtest/gtest.h>

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

std::string https_url(const std::string& host, std::uint16_t port, const std::string& path = "/hook") {
  return "https://" + host + ":" + std::to_string(port) + path;
}

const certificate_names loopback_names{{"localhost"}, {"127.0.0.1"}};

class https_client_fixture : public http_client_fixture {
protected:
  /// Trusts the test's CA on top of the system store.
  http_client_options trusting_test_ca() const {
    http_client_options options;
    options.ca_file = ca_file_.path();
    return options;
  }

  test_certificate_authority ca_;
  temp_file ca_file_{ca_.certificate_pem()};
};

TEST_F(https_client_fixture, posts_over_https_when_the_ca_file_vouches_for_the_server_and_keeps_the_connection) {
  fake_sink_server sink{ca_.issue_server_certificate(loopback_names), [](const recorded_request&, std::size_t) {
                          return reply(201, {{"X-Reply", "yes"}}, R"({"ok":true})");
                        }};
  auto& client = client_for(https_url("localhost", sink.port()), trusting_test_ca());
  ASSERT_FALSE(client.setup_error()) << *client.setup_error();

  for (int i = 0; i < 3; ++i) {
    auto out = send(client, post("/hook/abc?q=1", R"({"n":1})"));
    ASSERT_TRUE(out.transport_ok) << out.transport_error;
    EXPECT_EQ(out.status, 201);
    EXPECT_EQ(http::find_header(out.headers, "x-reply"), "yes");
    EXPECT_EQ(out.body, R"({"ok":true})");
  }
  auto requests = sink.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].target, "/hook/abc?q=1");
  EXPECT_EQ(requests[0].body, R"({"n":1})");
  EXPECT_EQ(requests[0].header("host"), "localhost:" + std::to_string(sink.port()));
  EXPECT_EQ(requests[0].tls_server_name, "localhost"); // SNI
  EXPECT_EQ(sink.connection_count(), 1u);              // one handshake, then keep-alive
}

TEST_F(https_client_fixture, an_address_origin_is_checked_against_the_certificates_ip_names_and_sends_no_sni) {
  fake_sink_server sink{ca_.issue_server_certificate(loopback_names)};
  ASSERT_EQ(sink.url().rfind("https://127.0.0.1:", 0), 0u) << sink.url();
  auto& client = client_for(sink.url(), trusting_test_ca());
  auto out = send(client, post("/hook"));
  ASSERT_TRUE(out.transport_ok) << out.transport_error;
  EXPECT_EQ(out.status, 204);
  auto requests = sink.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].tls_server_name, ""); // SNI carries names only (RFC 6066)
}

TEST_F(https_client_fixture, with_the_system_store_only_a_private_ca_is_refused_and_nothing_is_sent) {
  fake_sink_server sink{ca_.issue_server_certificate(loopback_names)};
  auto& client = client_for(https_url("localhost", sink.port()));
  auto out = send(client, post("/hook/secret-token-123"));
  EXPECT_FALSE(out.transport_ok);
  EXPECT_EQ(out.transport_error,
            "TLS handshake failed: certificate verify failed (unable to get local issuer certificate)");
  EXPECT_EQ(out.transport_error.find("secret-token"), std::string::npos);
  EXPECT_EQ(out.status, 0);
  // The server saw the client give up in the handshake; no request reached it.
  EXPECT_TRUE(eventually([&] { return sink.tls_handshake_failures() == 1u; }, 5s));
  EXPECT_EQ(sink.request_count(), 0u);
}

TEST_F(https_client_fixture, a_certificate_for_another_host_fails_host_name_verification) {
  fake_sink_server sink{ca_.issue_server_certificate({{"other.example"}, {"10.9.8.7"}})};
  auto& by_name = client_for(https_url("localhost", sink.port()), trusting_test_ca());
  auto out = send(by_name, post("/hook/secret-token-123"));
  EXPECT_FALSE(out.transport_ok);
  EXPECT_EQ(out.transport_error, "TLS handshake failed: certificate verify failed (hostname mismatch)");

  auto& by_address = client_for(https_url("127.0.0.1", sink.port()), trusting_test_ca());
  out = send(by_address, post("/hook/secret-token-123"));
  EXPECT_FALSE(out.transport_ok);
  EXPECT_EQ(out.transport_error, "TLS handshake failed: certificate verify failed (IP address mismatch)");
  EXPECT_EQ(sink.request_count(), 0u);
}

TEST_F(https_client_fixture, verify_peer_false_accepts_an_untrusted_certificate_for_any_name) {
  fake_sink_server sink{test_certificate_authority::self_signed_server_certificate({{"other.example"}, {}})};
  // The same server is refused while verification is on...
  auto& verifying = client_for(https_url("localhost", sink.port()), trusting_test_ca());
  auto refused = send(verifying, post("/hook"));
  EXPECT_FALSE(refused.transport_ok);
  EXPECT_EQ(refused.transport_error, "TLS handshake failed: certificate verify failed (self-signed certificate)");

  // ...and accepted with the explicit opt-out.
  http_client_options options;
  options.verify_peer = false;
  auto& trusting = client_for(https_url("localhost", sink.port()), options);
  auto out = send(trusting, post("/hook"));
  ASSERT_TRUE(out.transport_ok) << out.transport_error;
  EXPECT_EQ(out.status, 204);
  EXPECT_EQ(sink.request_count(), 1u);
}

TEST_F(https_client_fixture, a_server_that_never_completes_the_handshake_hits_the_connect_timeout) {
  // The kernel completes the TCP handshake for a listening socket's backlog;
  // nothing ever accepts, so the ClientHello is never answered.
  boost::asio::io_context silent_io;
  boost::asio::ip::tcp::acceptor silent{silent_io, {boost::asio::ip::make_address("127.0.0.1"), 0}};
  auto port = silent.local_endpoint().port();

  auto options = trusting_test_ca();
  options.connect_timeout = 300ms;
  auto& client = client_for(https_url("localhost", port), options);
  auto call = post("/hook/secret-token-123");
  call.timeout = 20s;
  auto started = std::chrono::steady_clock::now();
  auto out = send(client, call);
  auto took = std::chrono::steady_clock::now() - started;

  EXPECT_FALSE(out.transport_ok);
  EXPECT_EQ(out.transport_error, "TLS handshake failed: timeout after 300 ms");
  EXPECT_GE(took, 290ms);
  EXPECT_LT(took, 5s); // the connect bound, far below the call's 20 s
}

TEST_F(https_client_fixture, the_calls_timeout_caps_a_longer_connect_timeout) {
  boost::asio::io_context silent_io;
  boost::asio::ip::tcp::acceptor silent{silent_io, {boost::asio::ip::make_address("127.0.0.1"), 0}};

  auto options = trusting_test_ca();
  options.connect_timeout = 20s;
  auto& client = client_for(https_url("localhost", silent.local_endpoint().port()), options);
  auto call = post("/hook");
  call.timeout = 300ms;
  auto started = std::chrono::steady_clock::now();
  auto out = send(client, call);
  auto took = std::chrono::steady_clock::now() - started;

  EXPECT_FALSE(out.transport_ok);
  EXPECT_EQ(out.transport_error, "TLS handshake failed: timeout after 300 ms");
  EXPECT_LT(took, 5s);
}

TEST_F(https_client_fixture, retries_once_when_the_sink_closed_the_idle_tls_connection) {
  fake_sink_server sink{ca_.issue_server_certificate(loopback_names)};
  auto& client = client_for(https_url("localhost", sink.port()), trusting_test_ca());
  ASSERT_TRUE(send(client, post("/hook")).transport_ok);
  // The pooled one, behind the client's back (a TCP close, no close_notify).
  ASSERT_TRUE(eventually([&] { return sink.close_idle_connections() == 1u; }, 5s));

  auto out = send(client, post("/hook", R"({"second":true})"));
  ASSERT_TRUE(out.transport_ok) << out.transport_error;
  EXPECT_EQ(out.status, 204);
  EXPECT_EQ(sink.connection_count(), 2u);
  auto requests = sink.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].body, R"({"second":true})");
}

TEST_F(https_client_fixture, a_stalled_https_sink_times_out_in_receive) {
  fake_sink_server sink{ca_.issue_server_certificate(loopback_names), [](const recorded_request&, std::size_t) {
                          fake_reply r;
                          r.stall = true;
                          return r;
                        }};
  auto& client = client_for(https_url("localhost", sink.port()), trusting_test_ca());
  auto call = post("/hook/secret-token-123");
  call.timeout = 300ms;
  auto out = send(client, call);
  EXPECT_FALSE(out.transport_ok);
  EXPECT_EQ(out.transport_error, "receive: timeout after 300 ms");
  EXPECT_EQ(sink.request_count(), 1u);
}

TEST_F(https_client_fixture, redirects_are_returned_not_followed) {
  fake_sink_server sink{ca_.issue_server_certificate(loopback_names), [](const recorded_request&, std::size_t) {
                          return reply(307, {{"Location", "http://127.0.0.1:1/elsewhere"}});
                        }};
  auto& client = client_for(https_url("localhost", sink.port()), trusting_test_ca());
  auto out = send(client, post("/hook"));
  ASSERT_TRUE(out.transport_ok) << out.transport_error;
  EXPECT_EQ(out.status, 307);
  EXPECT_EQ(sink.request_count(), 1u);
}

TEST_F(https_client_fixture, an_unreadable_ca_file_fails_every_call_with_a_setup_error) {
  http_client_options options;
  options.ca_file = "/nonexistent/txrelay-ca.pem";
  auto& client = client_for("https://localhost:1/hook", options);
  ASSERT_TRUE(client.setup_error());
  EXPECT_EQ(*client.setup_error(),
            "TLS setup failed: cannot load ca_file /nonexistent/txrelay-ca.pem: No such file or directory");
  auto out = send(client, post("/hook/secret-token-123"));
  EXPECT_FALSE(out.transport_ok);
  EXPECT_EQ(out.transport_error, *client.setup_error());
}

TEST_F(https_client_fixture, a_ca_file_without_certificates_is_a_setup_error) {
  temp_file not_a_certificate{"hello\n"};
  auto options = trusting_test_ca();
  options.ca_file = not_a_certificate.path();
  auto& client = client_for("https://localhost:1/hook", options);
  ASSERT_TRUE(client.setup_error());
  EXPECT_EQ(*client.setup_error(),
            "TLS setup failed: cannot load ca_file " + not_a_certificate.path() + ": no certificate or crl found");
}

TEST_F(https_client_fixture, an_http_origin_ignores_the_tls_options) {
  fake_sink_server sink;
  http_client_options options;
  options.ca_file = "/nonexistent/txrelay-ca.pem";
  auto& client = client_for(sink.url(), options);
  EXPECT_FALSE(client.setup_error());
  auto out = send(client, post("/hook"));
  ASSERT_TRUE(out.transport_ok) << out.transport_error;
  EXPECT_EQ(out.status, 204);
}

} // namespace
