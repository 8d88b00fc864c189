#pragma once

// Credentials that make CAF's middleman links members-only (docs/CLUSTER.md, "Links"): the
// cluster's CA key is derived from the cluster name and secret with HKDF, so every member can
// compute it and nobody else can; each member signs a fresh certificate of its own with it.
// CAF's OpenSSL module (libcaf_openssl) then requires, on both ends of every link, a
// certificate that verifies against that CA. The CA key never touches the disk.

#include "crypto/bytes.hpp"
#include "crypto/error.hpp"

#include <string>
#include <string_view>

namespace dtt::cluster_core {

/// The files CAF's OpenSSL module reads (openssl.certificate, openssl.key, openssl.cafile).
struct credential_files {
  std::string certificate; ///< this member's certificate (PEM)
  std::string key;         ///< this member's private key (PEM, mode 0600)
  std::string cafile;      ///< the cluster CA's certificate (PEM)
};

/// The cluster CA's Ed25519 seed: HKDF-SHA256 with salt "dtt-cluster-ca-v1", input
/// BE32(len(name)) || name || secret, info "ca-key" (docs/CLUSTER.md).
bytes32 derive_ca_seed(std::string_view cluster_name, byte_view secret);

/// The CA certificate of a CA seed, in PEM. Deterministic (fixed serial, validity, subject;
/// Ed25519 signatures are deterministic): every member writes the same bytes.
result<std::string> ca_certificate_pem(const bytes32& ca_seed);

/// Writes the CA certificate and a fresh member key and certificate (signed by the CA) into
/// `dir` (created with mode 0700 when missing; files 0600, written atomically).
/// errc::io_error when a file cannot be written, errc::crypto_failure when OpenSSL fails.
result<credential_files> write_member_credentials(std::string_view cluster_name,
                                                  byte_view secret,
                                                  const std::string& dir);

} // namespace dtt::cluster_core
