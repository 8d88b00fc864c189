#pragma once

#include "crypto/ed25519.hpp"
#include "crypto/error.hpp"
#include "gossip/types.hpp"

#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace dtt::net {

/// What the certificate check of one TLS session saw. Attached to the SSL object of each
/// connection (attach_verification) before its handshake.
struct peer_verification {
  /// The endpoint id the dialer expects; empty on the listening side (it learns the id).
  std::optional<gossip::endpoint_id> expected;
  /// The Ed25519 key of the certificate the peer presented, once checked.
  std::optional<gossip::endpoint_id> presented;
  /// Why the peer's certificate was refused (empty if it was not).
  std::string failure;
};

/// A node's TLS 1.3 context: a self-signed X.509 certificate made in memory from the node's
/// Ed25519 key (DESIGN.md "Transport and addressing"), mutual authentication (both sides
/// present certificates), and a list of ALPN protocols, newest first, of which both sides
/// must agree on one (the newest both speak; see frame.hpp on compatibility).
///
/// Peer certificates are not checked against any CA: the check accepts exactly one
/// self-consistent Ed25519 certificate whose key is a valid endpoint id, and, when the dialer
/// named the id it expects, only that key.
class tls_identity {
public:
  /// Builds the certificate and the context. Fails with crypto_failure if OpenSSL does.
  static result<std::shared_ptr<tls_identity>> create(const crypto::signing_key& key,
                                                      const std::string& alpn);
  /// With several ALPN protocols, in order of preference (alpns[0] is alpn()).
  static result<std::shared_ptr<tls_identity>> create(const crypto::signing_key& key,
                                                      std::vector<std::string> alpns);

  /// The asio context to build ssl::stream objects from.
  boost::asio::ssl::context& context() noexcept { return ctx_; }
  /// This node's endpoint id (the certificate's key).
  const gossip::endpoint_id& id() const noexcept { return id_; }
  /// The preferred ALPN protocol (without its length prefix).
  const std::string& alpn() const noexcept { return alpns_.front(); }

  /// Prepares a client session: offers the ALPN protocol.
  void prepare_client(SSL* ssl) const;
  /// Attaches the verification record that the certificate check fills in. `v` must outlive
  /// the handshake.
  static void attach_verification(SSL* ssl, peer_verification* v);
  /// After a handshake: the index in our list of the negotiated ALPN protocol (0: the
  /// preferred one), or nullopt if none of ours was negotiated.
  std::optional<size_t> alpn_agreed(SSL* ssl) const;

  tls_identity(const tls_identity&) = delete;
  tls_identity& operator=(const tls_identity&) = delete;

private:
  explicit tls_identity(std::vector<std::string> alpns);

  boost::asio::ssl::context ctx_;
  gossip::endpoint_id id_{};
  std::vector<std::string> alpns_;
  std::string alpn_wire_; // length-prefixed, as ALPN lists are sent
};

/// The Ed25519 public key of a certificate, or an error if it has another key type.
result<gossip::endpoint_id> certificate_key(X509* cert);

} // namespace dtt::net
