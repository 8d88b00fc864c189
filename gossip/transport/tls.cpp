#include "gossip/transport/tls.hpp"

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstring>

namespace dtt::net {

namespace {

struct pkey_deleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct x509_deleter {
  void operator()(X509* p) const { X509_free(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_deleter>;
using x509_ptr = std::unique_ptr<X509, x509_deleter>;

int verification_index() {
  static const int idx = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return idx;
}

// Replaces OpenSSL's chain verification (there is no CA: every node signs its own certificate).
int check_peer_certificate(X509_STORE_CTX* store, void*) {
  auto* ssl = static_cast<SSL*>(
    X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* v = ssl ? static_cast<peer_verification*>(SSL_get_ex_data(ssl, verification_index()))
                : nullptr;
  auto refuse = [&](std::string why) {
    if (v)
      v->failure = std::move(why);
    X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
  };
  if (!v)
    return refuse("no verification state attached");
  X509* cert = X509_STORE_CTX_get0_cert(store);
  if (!cert)
    return refuse("peer presented no certificate");
  auto key = certificate_key(cert);
  if (!key)
    return refuse(key.err().what);
  if (X509_verify(cert, X509_get0_pubkey(cert)) != 1)
    return refuse("certificate is not signed by its own key");
  if (!crypto::is_valid_public_key(*key))
    return refuse("certificate key " + to_hex(*key) + " is not a valid endpoint id");
  if (v->expected && *v->expected != *key)
    return refuse("peer presented key " + to_hex(*key) + ", expected "
                  + to_hex(*v->expected));
  v->presented = *key;
  return 1;
}

int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void* arg) {
  auto* wire = static_cast<const std::string*>(arg);
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen,
                            reinterpret_cast<const unsigned char*>(wire->data()),
                            static_cast<unsigned>(wire->size()), in, inlen)
      != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

// A self-signed v3 certificate for the node key. The subject CN is the endpoint id in hex;
// peers ignore it and check only the key.
result<x509_ptr> make_certificate(EVP_PKEY* pkey, const gossip::endpoint_id& id) {
  x509_ptr cert{X509_new()};
  if (!cert)
    return error{errc::crypto_failure, "X509_new failed"};
  uint64_t serial = 0;
  crypto::os_random().fill(reinterpret_cast<uint8_t*>(&serial), sizeof serial);
  serial >>= 1; // keep it positive
  bool ok = X509_set_version(cert.get(), 2) == 1
            && ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert.get()), serial) == 1
            && X509_gmtime_adj(X509_getm_notBefore(cert.get()), -24 * 3600) != nullptr
            && X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 24 * 3600)
                 != nullptr
            && X509_set_pubkey(cert.get(), pkey) == 1;
  X509_NAME* name = X509_get_subject_name(cert.get());
  std::string cn = to_hex(id); // 64 characters: the most a CN may have
  ok = ok
       && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                     reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                     0)
            == 1
       && X509_set_issuer_name(cert.get(), name) == 1
       && X509_sign(cert.get(), pkey, nullptr) > 0; // Ed25519 signs without a digest
  if (!ok)
    return error{errc::crypto_failure, "building the self-signed certificate failed"};
  return cert;
}

} // namespace

result<gossip::endpoint_id> certificate_key(X509* cert) {
  EVP_PKEY* pk = X509_get0_pubkey(cert);
  if (!pk || EVP_PKEY_get_id(pk) != EVP_PKEY_ED25519)
    return error{errc::bad_key, "certificate key is not Ed25519"};
  gossip::endpoint_id id{};
  size_t len = id.size();
  if (EVP_PKEY_get_raw_public_key(pk, id.data(), &len) != 1 || len != id.size())
    return error{errc::bad_key, "cannot read the certificate's Ed25519 key"};
  return id;
}

tls_identity::tls_identity(std::vector<std::string> alpns)
  : ctx_(boost::asio::ssl::context::tls), alpns_(std::move(alpns)) {
  for (auto& a : alpns_) {
    alpn_wire_.push_back(static_cast<char>(a.size()));
    alpn_wire_ += a;
  }
}

result<std::shared_ptr<tls_identity>> tls_identity::create(const crypto::signing_key& key,
                                                           const std::string& alpn) {
  return create(key, std::vector<std::string>{alpn});
}

result<std::shared_ptr<tls_identity>> tls_identity::create(const crypto::signing_key& key,
                                                           std::vector<std::string> alpns) {
  if (alpns.empty() || alpns.size() > 8)
    return error{errc::invalid_argument, "1 to 8 ALPN protocols"};
  for (auto& a : alpns)
    if (a.empty() || a.size() > 255)
      return error{errc::invalid_argument, "ALPN protocol must have 1 to 255 bytes"};
  std::shared_ptr<tls_identity> self{new tls_identity(std::move(alpns))};
  self->id_ = key.public_key_bytes();
  pkey_ptr pkey{EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, key.seed().data(),
                                             key.seed().size())};
  if (!pkey)
    return error{errc::crypto_failure, "EVP_PKEY_new_raw_private_key(Ed25519) failed"};
  auto cert = make_certificate(pkey.get(), self->id_);
  if (!cert)
    return cert.err();
  SSL_CTX* ctx = self->ctx_.native_handle();
  bool ok = SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) == 1
            && SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) == 1
            && SSL_CTX_use_certificate(ctx, cert->get()) == 1
            && SSL_CTX_use_PrivateKey(ctx, pkey.get()) == 1
            && SSL_CTX_check_private_key(ctx) == 1
            // Links are long-lived and never resumed: no session tickets, no cache.
            && SSL_CTX_set_num_tickets(ctx, 0) == 1;
  if (!ok)
    return error{errc::crypto_failure, "configuring the TLS 1.3 context failed"};
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  SSL_CTX_set_cert_verify_callback(ctx, check_peer_certificate, nullptr);
  SSL_CTX_set_alpn_select_cb(ctx, select_alpn, &self->alpn_wire_);
  return self;
}

void tls_identity::prepare_client(SSL* ssl) const {
  SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>(alpn_wire_.data()),
                      static_cast<unsigned>(alpn_wire_.size()));
}

void tls_identity::attach_verification(SSL* ssl, peer_verification* v) {
  SSL_set_ex_data(ssl, verification_index(), v);
}

std::optional<size_t> tls_identity::alpn_agreed(SSL* ssl) const {
  const unsigned char* p = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(ssl, &p, &len);
  for (size_t i = 0; p && i < alpns_.size(); ++i)
    if (len == alpns_[i].size() && std::memcmp(p, alpns_[i].data(), len) == 0)
      return i;
  return std::nullopt;
}

} // namespace dtt::net
