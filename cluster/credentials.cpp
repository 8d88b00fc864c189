#include "cluster/credentials.hpp"

#include "crypto/hash.hpp"
#include "crypto/random.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstdio>
#include <memory>

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

namespace dtt::cluster_core {

namespace {

template <class T, void (*F)(T*)>
struct deleter {
  void operator()(T* p) const { F(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, deleter<EVP_PKEY, EVP_PKEY_free>>;
using x509_ptr = std::unique_ptr<X509, deleter<X509, X509_free>>;
using bio_ptr = std::unique_ptr<BIO, deleter<BIO, BIO_free_all>>;

pkey_ptr ed25519_key(const bytes32& seed) {
  return pkey_ptr{EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), 32)};
}

bool add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr)
    return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

bool set_name(X509_NAME* name, const std::string& cn) {
  return X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                    reinterpret_cast<const unsigned char*>("dtt cluster"), -1,
                                    -1, 0) == 1 &&
         X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                    reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                    0) == 1;
}

std::string ca_name(const bytes32& ca_pub) {
  return "dtt cluster CA " + to_hex(byte_view(ca_pub.data(), 8));
}

// The CA certificate: every field fixed, so that each member produces the same bytes.
x509_ptr make_ca_cert(EVP_PKEY* ca_key, const bytes32& ca_pub) {
  x509_ptr cert{X509_new()};
  if (!cert || X509_set_version(cert.get(), 2) != 1)
    return nullptr;
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  if (ASN1_TIME_set_string(X509_getm_notBefore(cert.get()), "20200101000000Z") != 1 ||
      ASN1_TIME_set_string(X509_getm_notAfter(cert.get()), "99991231235959Z") != 1)
    return nullptr;
  if (!set_name(X509_get_subject_name(cert.get()), ca_name(ca_pub)) ||
      X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get())) != 1 ||
      X509_set_pubkey(cert.get(), ca_key) != 1)
    return nullptr;
  if (!add_ext(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
      !add_ext(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign") ||
      !add_ext(cert.get(), cert.get(), NID_subject_key_identifier, "hash"))
    return nullptr;
  if (X509_sign(cert.get(), ca_key, nullptr) <= 0)
    return nullptr;
  return cert;
}

std::string pem_of(X509* cert) {
  bio_ptr bio{BIO_new(BIO_s_mem())};
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1)
    return {};
  char* data = nullptr;
  auto n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

std::string pem_of_key(EVP_PKEY* key) {
  bio_ptr bio{BIO_new(BIO_s_mem())};
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return {};
  char* data = nullptr;
  auto n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

// Writes `text` to `path` with mode 0600 through a temporary file and a rename.
bool write_private(const std::string& path, const std::string& text) {
  auto tmp = path + ".tmp";
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return false;
  size_t done = 0;
  while (done < text.size()) {
    auto n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      ::close(fd);
      ::unlink(tmp.c_str());
      return false;
    }
    done += static_cast<size_t>(n);
  }
  bool ok = ::fsync(fd) == 0;
  ok = ::close(fd) == 0 && ok;
  ok = ok && ::rename(tmp.c_str(), path.c_str()) == 0;
  if (!ok)
    ::unlink(tmp.c_str());
  return ok;
}

} // namespace

bytes32 derive_ca_seed(std::string_view cluster_name, byte_view secret) {
  bytes ikm;
  put_be32(ikm, static_cast<uint32_t>(cluster_name.size()));
  append(ikm, byte_view::of(cluster_name));
  append(ikm, secret);
  auto prk = crypto::hkdf_extract(byte_view::of("dtt-cluster-ca-v1"), {ikm});
  sodium_memzero(ikm.data(), ikm.size());
  auto okm = crypto::hkdf_expand(prk, {byte_view::of("ca-key")}, 32);
  sodium_memzero(prk.data(), prk.size());
  auto seed = to_array<32>(okm);
  sodium_memzero(okm.data(), okm.size());
  return seed;
}

result<std::string> ca_certificate_pem(const bytes32& ca_seed) {
  auto key = ed25519_key(ca_seed);
  if (!key)
    return error{errc::crypto_failure, "CA key"};
  bytes32 pub{};
  size_t len = pub.size();
  if (EVP_PKEY_get_raw_public_key(key.get(), pub.data(), &len) != 1)
    return error{errc::crypto_failure, "CA public key"};
  auto cert = make_ca_cert(key.get(), pub);
  if (!cert)
    return error{errc::crypto_failure, "CA certificate"};
  return pem_of(cert.get());
}

result<credential_files> write_member_credentials(std::string_view cluster_name,
                                                  byte_view secret,
                                                  const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return error{errc::io_error, "cannot create " + dir};
  auto ca_seed = derive_ca_seed(cluster_name, secret);
  auto ca_key = ed25519_key(ca_seed);
  auto ca_pem = ca_certificate_pem(ca_seed);
  sodium_memzero(ca_seed.data(), ca_seed.size());
  if (!ca_key || !ca_pem)
    return error{errc::crypto_failure, "cluster CA"};
  bytes32 ca_pub{};
  size_t len = ca_pub.size();
  EVP_PKEY_get_raw_public_key(ca_key.get(), ca_pub.data(), &len);
  auto ca_cert = make_ca_cert(ca_key.get(), ca_pub);

  bytes32 member_seed{};
  crypto::os_random().fill(member_seed.data(), member_seed.size());
  auto member_key = ed25519_key(member_seed);
  sodium_memzero(member_seed.data(), member_seed.size());
  x509_ptr cert{X509_new()};
  if (!member_key || !ca_cert || !cert)
    return error{errc::crypto_failure, "member key"};
  byte_array<16> serial{};
  crypto::os_random().fill(serial.data(), serial.size());
  serial[0] &= 0x7f; // a positive serial
  auto* bn = BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr);
  bool ok = bn != nullptr && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get())) != nullptr;
  BN_free(bn);
  ok = ok && X509_set_version(cert.get(), 2) == 1 &&
       X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) != nullptr &&
       X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 24 * 3600) != nullptr &&
       set_name(X509_get_subject_name(cert.get()), "dtt cluster member") &&
       X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get())) == 1 &&
       X509_set_pubkey(cert.get(), member_key.get()) == 1 &&
       add_ext(cert.get(), ca_cert.get(), NID_basic_constraints, "critical,CA:FALSE") &&
       add_ext(cert.get(), ca_cert.get(), NID_key_usage, "critical,digitalSignature") &&
       add_ext(cert.get(), ca_cert.get(), NID_ext_key_usage, "serverAuth,clientAuth") &&
       X509_sign(cert.get(), ca_key.get(), nullptr) > 0;
  if (!ok)
    return error{errc::crypto_failure, "member certificate"};
  credential_files files{dir + "/member.crt", dir + "/member.key", dir + "/cluster-ca.crt"};
  auto key_pem = pem_of_key(member_key.get());
  ok = !key_pem.empty() && write_private(files.key, key_pem) &&
       write_private(files.certificate, pem_of(cert.get())) &&
       write_private(files.cafile, *ca_pem);
  sodium_memzero(key_pem.data(), key_pem.size());
  if (!ok)
    return error{errc::io_error, "cannot write the credentials into " + dir};
  return files;
}

} // namespace dtt::cluster_core
