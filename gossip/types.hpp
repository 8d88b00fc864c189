#pragma once

#include "crypto/bytes.hpp"
#include "gossip/buffer.hpp"

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace dtt::gossip {

/// A node's Ed25519 public key: its identity on the transport and in DHT records.
using endpoint_id = dtt::endpoint_id;

/// The first four bytes of an endpoint id as hex, for log lines.
inline std::string short_id(const endpoint_id& id) { return to_hex(byte_view{id.data(), 4}); }

/// A gossip topic id (the 32-byte topic hash of crypto::topic_id).
using topic_id = bytes32;

/// A broadcast message id: SHA-256 of the content (iroh-gossip uses BLAKE3; dtt used BLAKE2b-256
/// until the unreleased dtt-gossip/3, whose ids are SHA-256: faster here with OpenSSL).
using message_id = bytes32;

/// Immutable bytes shared by their copies: a broadcast payload is held by the Graft cache,
/// each eager send and the outgoing frame at once without being copied. It may be a slice of a
/// larger shared buffer (a received payload is a slice of its frame: decoding copies nothing).
class shared_bytes {
public:
  shared_bytes() = default;
  shared_bytes(bytes b) : p_(shared_buffer::adopt(std::move(b))), off_(0), len_(p_.size()) {}
  shared_bytes(std::initializer_list<uint8_t> il) : shared_bytes(bytes(il)) {}
  /// The `len` bytes at `off` of `whole` (the caller checks the range).
  shared_bytes(shared_buffer whole, size_t off, size_t len)
    : p_(std::move(whole)), off_(off), len_(len) {}

  byte_view view() const noexcept { return {data(), len_}; }
  /// The same bytes as an application's payload (shares the block: no copy).
  dtt::payload to_payload() const;
  /// An application's payload, shared (no copy).
  static shared_bytes of(const dtt::payload& p);
  operator byte_view() const noexcept { return view(); }
  /// A copy as plain bytes (what an application receives).
  bytes to_bytes() const { return bytes(begin(), end()); }
  size_t size() const noexcept { return len_; }
  void prefetch() const noexcept { p_.prefetch(); }
  bool empty() const noexcept { return len_ == 0; }
  const uint8_t* data() const noexcept { return p_.data() ? p_.data() + off_ : nullptr; }
  const uint8_t* begin() const noexcept { return data(); }
  const uint8_t* end() const noexcept { return data() + len_; }

  friend bool operator==(const shared_bytes& a, const shared_bytes& b) {
    return a.view() == b.view();
  }
  friend bool operator==(const shared_bytes& a, const bytes& b) { return a.view() == byte_view(b); }
  friend bool operator==(const bytes& a, const shared_bytes& b) { return byte_view(a) == b.view(); }

private:
  shared_buffer p_;
  size_t off_ = 0;
  size_t len_ = 0;
};

/// Default and minimum frame payload sizes (PROTOCOL.md §8.2).
inline constexpr uint32_t default_max_message_size = 4096;
inline constexpr uint32_t min_max_message_size = 512;

// The application-facing types are public (include/dtt/events.hpp).
using dtt::delivery_scope;
using dtt::event;
using dtt::socket_address;

} // namespace dtt::gossip
