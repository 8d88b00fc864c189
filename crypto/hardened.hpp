#pragma once

#include "crypto/keys.hpp"

#include <cstdint>
#include <string_view>

/// dtt's opt-in hardened record slots (docs/HARDENED.md): the per-minute BEP 44 signing key
/// and salt are derived from the topic AND its per-minute secret with HKDF-SHA256, so that
/// someone who knows only the topic name cannot compute (and flood) the slot (PROTOCOL.md
/// §10.1). Not compatible with distributed-topic-tracker's records (§1.4, §1.5).
namespace dtt::crypto::hardened {

/// HKDF-Extract salt (15 ASCII bytes).
inline constexpr std::string_view extract_salt = "dtt-hardened-v1";
/// HKDF-Expand info prefix of the DHT signing seed (followed by LE64(minute)).
inline constexpr std::string_view dht_seed_label = "dtt-hardened-v1 dht-seed";
/// HKDF-Expand info prefix of the salt (followed by LE64(minute)).
inline constexpr std::string_view salt_label = "dtt-hardened-v1 salt";

/// Largest seq a hardened record uses: 2^53, the last integer every IEEE double holds exactly
/// (storage nodes written in JavaScript decode BEP 44 integers as doubles).
inline constexpr int64_t max_seq = int64_t{1} << 53;

/// The BEP 44 address of one minute in hardened mode.
struct slot_secrets {
  bytes32 dht_seed; ///< Ed25519 seed of the minute's BEP 44 signing key
  bytes32 salt;     ///< the minute's BEP 44 salt
};

/// prk = HKDF-Extract(extract_salt, topic_hash || minute_secret);
/// dht_seed = HKDF-Expand(prk, dht_seed_label || LE64(minute), 32);
/// salt = HKDF-Expand(prk, salt_label || LE64(minute), 32).
/// `minute_secret` is the minute's encryption seed, rotation.derive(topic_hash, minute, ish)
/// (PROTOCOL.md §1.6), so the slot follows secret rotation as the encryption key does.
slot_secrets derive(const bytes32& topic_hash, const bytes32& minute_secret, uint64_t minute);

/// derive() with minute_secret = rotation.derive(topic.hash(), minute, initial_secret_hash).
slot_secrets derive(const topic_id& topic, const rotation_handle& rotation,
                    const bytes32& initial_secret_hash, uint64_t minute);

/// The BEP 44 seq of a hardened record written at `unix_seconds`: that time clamped to
/// [1, max_seq].
int64_t seq_at(int64_t unix_seconds) noexcept;

} // namespace dtt::crypto::hardened
