#pragma once

// Gossip topic admission (docs/ADMISSION.md): the gossip topic id and the membership key of a
// topic are derived from its name hash AND its secret, so that a peer that knows only the name
// can neither compute the topic id nor prove membership. A proof is bound to one TLS connection
// (its exporter value) and to both endpoint ids, so it cannot be replayed elsewhere.

#include "crypto/bytes.hpp"
#include "crypto/error.hpp"

#include <string_view>

namespace dtt::crypto {

/// What a topic member knows: the gossip topic id (on the wire) and the membership key
/// (never on the wire; proofs are made with it).
struct topic_membership {
  bytes32 topic_id{};
  bytes32 key{};
};

/// Derives both from the topic hash (PROTOCOL.md §1.1) and the initial secret hash (§1.2).
/// Membership follows the initial secret, not the per-minute rotation (§1.6).
topic_membership derive_membership(const bytes32& topic_hash, const bytes32& initial_secret_hash);

/// Bytes of a TLS exporter value used for proofs.
inline constexpr size_t admission_exporter_size = 32;
/// The TLS exporter label (RFC 8446 §7.5) both ends of a link use.
inline constexpr std::string_view admission_exporter_label = "EXPORTER-dtt-admission-v1";

/// The proof that `sender` holds the membership key of `topic_id`, for the TLS connection whose
/// exporter value is `exporter`, addressed to `receiver`.
bytes32 admission_proof(const bytes32& membership_key, const bytes32& exporter,
                        const bytes32& sender, const bytes32& receiver, const bytes32& topic_id);

/// Checks a proof in constant time.
bool check_admission_proof(const bytes32& membership_key, const bytes32& exporter,
                           const bytes32& sender, const bytes32& receiver,
                           const bytes32& topic_id, const bytes32& proof) noexcept;

/// An admission frame's body: topic id and proof (64 bytes on the wire).
struct admission {
  bytes32 topic_id{};
  bytes32 proof{};
  friend bool operator==(const admission& a, const admission& b) {
    return a.topic_id == b.topic_id && a.proof == b.proof;
  }
};

/// Size of an encoded admission.
inline constexpr size_t admission_size = 64;

/// Encodes `a` as topic_id || proof.
bytes encode_admission(const admission& a);

/// Parses exactly admission_size bytes (truncated / malformed otherwise).
result<admission> decode_admission(byte_view in);

} // namespace dtt::crypto
