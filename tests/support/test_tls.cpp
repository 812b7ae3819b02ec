#include "support/test_tls.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

namespace txrelay::testing {

namespace {

struct pkey_free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct x509_free {
  void operator()(X509* p) const { X509_free(p); }
};
struct bio_free {
  void operator()(BIO* p) const { BIO_free(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;
using x509_ptr = std::unique_ptr<X509, x509_free>;
using bio_ptr = std::unique_ptr<BIO, bio_free>;

[[noreturn]] void throw_openssl(const char* what) {
  char reason[256] = "no OpenSSL error queued";
  if (auto code = ERR_get_error())
    ERR_error_string_n(code, reason, sizeof reason);
  ERR_clear_error();
  throw std::runtime_error(std::string{"test TLS: "} + what + ": " + reason);
}

void check(int ok, const char* what) {
  if (ok != 1)
    throw_openssl(what);
}

pkey_ptr new_key() {
  pkey_ptr key{EVP_EC_gen("P-256")}; // EC: generating it takes microseconds, an RSA key would take a noticeable while
  if (!key)
    throw_openssl("EVP_EC_gen");
  return key;
}

void add_extension(X509* cert, X509V3_CTX& ctx, int nid, const std::string& value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext)
    throw_openssl("X509V3_EXT_conf_nid");
  int added = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  check(added, "X509_add_ext");
}

std::string subject_alt_name(const certificate_names& names) {
  std::string san;
  for (const auto& dns : names.dns)
    san += (san.empty() ? "" : ",") + std::string{"DNS:"} + dns;
  for (const auto& ip : names.ip_addresses)
    san += (san.empty() ? "" : ",") + std::string{"IP:"} + ip;
  return san;
}

/// A certificate for `key` named `common_name`; signed by `issuer` with
/// `issuer_key`, or self-signed when `issuer` is null.
x509_ptr make_certificate(EVP_PKEY* key, const std::string& common_name, bool is_ca, const certificate_names& names,
                          X509* issuer, EVP_PKEY* issuer_key) {
  static std::atomic<long> next_serial{1}; // unique per run is all a verifier needs here
  x509_ptr cert{X509_new()};
  if (!cert)
    throw_openssl("X509_new");
  check(X509_set_version(cert.get(), X509_VERSION_3), "X509_set_version");
  check(ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), next_serial++), "ASN1_INTEGER_set");
  // An hour of slack either way absorbs clock differences; a test is over long before.
  if (!X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) ||
      !X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600))
    throw_openssl("X509_gmtime_adj");
  check(X509_set_pubkey(cert.get(), key), "X509_set_pubkey");
  X509_NAME* subject = X509_get_subject_name(cert.get());
  check(X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0),
        "X509_NAME_add_entry_by_txt");
  X509* signer = issuer ? issuer : cert.get();
  check(X509_set_issuer_name(cert.get(), X509_get_subject_name(signer)), "X509_set_issuer_name");

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, signer, cert.get(), nullptr, nullptr, 0);
  add_extension(cert.get(), ctx, NID_subject_key_identifier, "hash");
  add_extension(cert.get(), ctx, NID_authority_key_identifier, "keyid:always");
  if (is_ca) {
    add_extension(cert.get(), ctx, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(cert.get(), ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_extension(cert.get(), ctx, NID_basic_constraints, "critical,CA:FALSE");
    add_extension(cert.get(), ctx, NID_key_usage, "critical,digitalSignature");
    add_extension(cert.get(), ctx, NID_ext_key_usage, "serverAuth");
    auto san = subject_alt_name(names);
    if (!san.empty())
      add_extension(cert.get(), ctx, NID_subject_alt_name, san);
  }
  if (X509_sign(cert.get(), issuer ? issuer_key : key, EVP_sha256()) == 0)
    throw_openssl("X509_sign");
  return cert;
}

std::string drain(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(size));
}

std::string certificate_to_pem(X509* cert) {
  bio_ptr bio{BIO_new(BIO_s_mem())};
  check(PEM_write_bio_X509(bio.get(), cert), "PEM_write_bio_X509");
  return drain(bio.get());
}

std::string key_to_pem(EVP_PKEY* key) {
  bio_ptr bio{BIO_new(BIO_s_mem())};
  check(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr), "PEM_write_bio_PrivateKey");
  return drain(bio.get());
}

std::string common_name_for(const certificate_names& names) {
  if (!names.dns.empty())
    return names.dns.front();
  if (!names.ip_addresses.empty())
    return names.ip_addresses.front();
  return "txrelay test server";
}

} // namespace

struct test_certificate_authority::impl {
  pkey_ptr key;
  x509_ptr certificate;
  std::string certificate_pem;
};

test_certificate_authority::test_certificate_authority(std::string_view common_name)
  : impl_(std::make_unique<impl>()) {
  impl_->key = new_key();
  impl_->certificate = make_certificate(impl_->key.get(), std::string{common_name}, true, {}, nullptr, nullptr);
  impl_->certificate_pem = certificate_to_pem(impl_->certificate.get());
}

test_certificate_authority::~test_certificate_authority() = default;

const std::string& test_certificate_authority::certificate_pem() const { return impl_->certificate_pem; }

tls_identity test_certificate_authority::issue_server_certificate(const certificate_names& names) const {
  auto key = new_key();
  auto cert = make_certificate(key.get(), common_name_for(names), false, names, impl_->certificate.get(),
                               impl_->key.get());
  return {certificate_to_pem(cert.get()), key_to_pem(key.get())};
}

tls_identity test_certificate_authority::self_signed_server_certificate(const certificate_names& names) {
  auto key = new_key();
  auto cert = make_certificate(key.get(), common_name_for(names), false, names, nullptr, nullptr);
  return {certificate_to_pem(cert.get()), key_to_pem(key.get())};
}

temp_file::temp_file(std::string_view contents, std::string_view suffix) {
  auto pattern = (std::filesystem::temp_directory_path() / "txrelay-test-XXXXXX").string() + std::string{suffix};
  int fd = ::mkstemps(pattern.data(), static_cast<int>(suffix.size()));
  if (fd < 0)
    throw std::runtime_error("temp_file: mkstemps failed");
  path_ = pattern;
  std::size_t written = 0;
  while (written < contents.size()) {
    auto n = ::write(fd, contents.data() + written, contents.size() - written);
    if (n <= 0) {
      ::close(fd);
      throw std::runtime_error("temp_file: write failed");
    }
    written += static_cast<std::size_t>(n);
  }
  ::close(fd);
}

temp_file::~temp_file() {
  std::error_code ignored;
  std::filesystem::remove(path_, ignored);
}

} // namespace txrelay::testing
