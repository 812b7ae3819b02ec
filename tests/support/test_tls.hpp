#pragma once
// Throwaway TLS identities for loopback tests: a certificate authority and the
// certificates it signs, made in memory with OpenSSL when a test runs, so no
// key is checked in and nothing expires between runs.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace txrelay::testing {

/// What a TLS server presents: its certificate and private key, both PEM.
struct tls_identity {
  std::string certificate_pem;
  std::string private_key_pem;
};

/// The names a certificate is valid for (its subjectAltName).
struct certificate_names {
  std::vector<std::string> dns;         // "localhost"
  std::vector<std::string> ip_addresses; // "127.0.0.1"
};

class test_certificate_authority {
public:
  /// A self-signed CA with a fresh P-256 key. Throws std::runtime_error if
  /// OpenSSL fails (it does not, short of running out of memory).
  explicit test_certificate_authority(std::string_view common_name = "txrelay test CA");
  ~test_certificate_authority();
  test_certificate_authority(const test_certificate_authority&) = delete;
  test_certificate_authority& operator=(const test_certificate_authority&) = delete;

  /// The CA's certificate, to be trusted by a client.
  const std::string& certificate_pem() const;

  /// A server certificate for `names`, signed by this CA, with a fresh key.
  tls_identity issue_server_certificate(const certificate_names& names) const;

  /// A self-signed server certificate for `names` that no CA vouches for.
  static tls_identity self_signed_server_certificate(const certificate_names& names);

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// A file in the temporary directory with the given contents, removed when
/// this object goes.
class temp_file {
public:
  explicit temp_file(std::string_view contents, std::string_view suffix = ".pem");
  ~temp_file();
  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;

  const std::string& path() const { return path_; }

private:
  std::string path_;
};

} // namespace txrelay::testing
