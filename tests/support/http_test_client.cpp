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
  bhttp::write(stream, req, ec);
  if (ec)
    return {};
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64 << 20);
  bhttp::read(stream, buffer, parser, ec);
  if (ec)
    return {};
  auto& res = parser.get();
  test_response out;
  out.status = static_cast<int>(res.result_int());
  for (const auto& f : res)
    out.headers.emplace_back(std::string{f.name_string()}, std::string{f.value()});
  out.body = res.body();
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  return out;
}

test_response post_json(std::uint16_t port, const std::string& target, const std::string& body,
                        http::header_list headers) {
  headers.emplace_back("content-type", "application/json");
  return http_call(port, "POST", target, body, headers);
}

} // namespace txrelay::testing
