#include "support/http_test_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace txrelay::testing {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

bhttp::request<bhttp::string_body> make_request(std::uint16_t port, const std::string& method,
                                                const std::string& target, const std::string& body,
                                                const http::header_list& headers) {
  bhttp::request<bhttp::string_body> req;
  req.version(11);
  req.method_string(method);
  req.target(target);
  req.set(bhttp::field::host, "127.0.0.1:" + std::to_string(port));
  for (const auto& [k, v] : headers)
    req.set(k, v);
  req.body() = body;
  if (!body.empty() || method == "POST" || method == "PUT")
    req.prepare_payload();
  return req;
}

test_response read_one(beast::tcp_stream& stream, beast::flat_buffer& buffer, std::chrono::milliseconds timeout) {
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64 << 20);
  beast::error_code ec;
  stream.expires_after(timeout);
  bhttp::read(stream, buffer, parser, ec);
  if (ec)
    return {};
  auto& res = parser.get();
  test_response out;
  out.status = static_cast<int>(res.result_int());
  for (const auto& f : res)
    out.headers.emplace_back(std::string{f.name_string()}, std::string{f.value()});
  out.body = std::move(res.body());
  return out;
}

} // namespace

test_response http_call(std::uint16_t port, const std::string& method, const std::string& target,
                        const std::string& body, const http::header_list& headers,
                        std::chrono::milliseconds timeout) {
  net::io_context io;
  beast::tcp_stream stream{io};
  stream.expires_after(timeout);
  beast::error_code ec;
  stream.connect(tcp::endpoint{net::ip::make_address("127.0.0.1"), port}, ec);
  if (ec)
    return {};
  auto req = make_request(port, method, target, body, headers);
  bhttp::write(stream, req, ec);
  if (ec)
    return {};
  beast::flat_buffer buffer;
  auto out = read_one(stream, buffer, timeout);
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  return out;
}

test_response post_json(std::uint16_t port, const std::string& target, const std::string& body,
                        http::header_list headers) {
  headers.emplace_back("content-type", "application/json");
  return http_call(port, "POST", target, body, headers);
}

struct http_test_connection::impl {
  net::io_context io;
  beast::tcp_stream stream{io};
  beast::flat_buffer buffer;
  std::uint16_t port;
  std::chrono::milliseconds timeout;
  bool connected = false;
};

http_test_connection::http_test_connection(std::uint16_t port, std::chrono::milliseconds timeout)
  : impl_(std::make_unique<impl>()) {
  impl_->port = port;
  impl_->timeout = timeout;
  impl_->stream.expires_after(timeout);
  beast::error_code ec;
  impl_->stream.connect(tcp::endpoint{net::ip::make_address("127.0.0.1"), port}, ec);
  impl_->connected = !ec;
}

http_test_connection::~http_test_connection() {
  beast::error_code ignored;
  impl_->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

bool http_test_connection::connected() const { return impl_->connected; }

test_response http_test_connection::call(const std::string& method, const std::string& target,
                                         const std::string& body, const http::header_list& headers) {
  auto req = make_request(impl_->port, method, target, body, headers);
  beast::error_code ec;
  impl_->stream.expires_after(impl_->timeout);
  bhttp::write(impl_->stream, req, ec);
  if (ec)
    return {};
  return read_response();
}

bool http_test_connection::send_raw(std::string_view bytes) {
  beast::error_code ec;
  impl_->stream.expires_after(impl_->timeout);
  net::write(impl_->stream, net::buffer(bytes.data(), bytes.size()), ec);
  return !ec;
}

test_response http_test_connection::read_response() { return read_one(impl_->stream, impl_->buffer, impl_->timeout); }

bool http_test_connection::closed_by_peer() {
  if (impl_->buffer.size() > 0)
    return false; // unread bytes: the peer said more
  char byte;
  beast::error_code ec;
  impl_->stream.expires_after(impl_->timeout);
  impl_->stream.read_some(net::buffer(&byte, 1), ec);
  return ec == net::error::eof || ec == net::error::connection_reset;
}

} // namespace txrelay::testing
