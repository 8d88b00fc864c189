#pragma once

#include "crypto/bytes.hpp"
#include "crypto/ed25519.hpp"
#include "crypto/error.hpp"
#include "crypto/topic_id.hpp"

#include <vector>

namespace dtt::crypto {

/// Entries per list in gossip_record_content; part of the wire format (PROTOCOL.md §2.3).
inline constexpr size_t max_record_peers = 5;
inline constexpr size_t max_message_hashes = 5;

/// The content a tracker node publishes: up to 5 active peers and up to 5 recent message
/// hashes. Encoded as postcard does: 5×32 peer bytes then 5×32 hash bytes, exactly 320 bytes,
/// empty slots all zero.
struct gossip_record_content {
  static constexpr size_t encoded_size = 32 * (max_record_peers + max_message_hashes);

  std::array<bytes32, max_record_peers> active_peers{};
  std::array<bytes32, max_message_hashes> last_message_hashes{};

  /// Fills the slots from lists (extra entries are dropped, missing ones stay zero).
  static gossip_record_content make(const std::vector<bytes32>& peers,
                                    const std::vector<bytes32>& hashes);
  /// The 320-byte encoding.
  bytes encode() const;
  /// Decodes the first 320 bytes (trailing bytes are ignored, as postcard does).
  static result<gossip_record_content> decode(byte_view content);

  /// Non-zero active peers, in slot order.
  std::vector<bytes32> peers() const;
  /// Non-zero message hashes, in slot order.
  std::vector<bytes32> hashes() const;

  friend bool operator==(const gossip_record_content& a, const gossip_record_content& b) {
    return a.active_peers == b.active_peers && a.last_message_hashes == b.last_message_hashes;
  }
};

/// A signed record (PROTOCOL.md §2.1):
/// topic_hash(32) || LE64(minute) || pub_key(32) || content(N) || signature(64).
class record {
public:
  static constexpr size_t header_size = 72;
  static constexpr size_t signature_size = 64;
  static constexpr size_t min_size = header_size + signature_size;

  /// Signs `content` for (topic, minute) with the node key.
  static record sign(const bytes32& topic_hash, uint64_t minute, byte_view content,
                     const signing_key& node_key);
  /// Splits bytes into the fields; checks only the minimum length (§2.1).
  static result<record> from_bytes(byte_view data);

  /// The serialised record.
  bytes to_bytes() const;
  /// The signed message: every byte but the signature.
  bytes signed_data() const;
  /// Checks topic, minute, key and strict signature, in the order of §2.2.
  status verify(const bytes32& expected_topic, uint64_t expected_minute) const;

  const bytes32& topic() const noexcept { return topic_; }
  uint64_t unix_minute() const noexcept { return minute_; }
  const public_key& pub_key() const noexcept { return pub_key_; }
  const bytes& content() const noexcept { return content_; }
  const signature& sig() const noexcept { return signature_; }
  /// Decodes the content as gossip_record_content.
  result<gossip_record_content> gossip_content() const {
    return gossip_record_content::decode(content_);
  }

  friend bool operator==(const record& a, const record& b) {
    return a.topic_ == b.topic_ && a.minute_ == b.minute_ && a.pub_key_ == b.pub_key_
           && a.content_ == b.content_ && a.signature_ == b.signature_;
  }

private:
  bytes32 topic_{};
  uint64_t minute_ = 0;
  public_key pub_key_{};
  bytes content_;
  signature signature_{};
};

} // namespace dtt::crypto
