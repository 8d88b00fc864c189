#pragma once

#include "crypto/bytes.hpp"

#include <cstdint>
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

/// A broadcast message id: BLAKE2b-256 of the content (iroh-gossip uses BLAKE3; see issue #5).
using message_id = bytes32;

/// Immutable bytes shared by their copies: a broadcast payload is held by the Graft cache,
/// each eager send and the outgoing frame at once without being copied.
class shared_bytes {
public:
  shared_bytes() = default;
  shared_bytes(bytes b) : p_(std::make_shared<const bytes>(std::move(b))) {}
  shared_bytes(std::initializer_list<uint8_t> il) : shared_bytes(bytes(il)) {}

  const bytes& get() const noexcept { return p_ ? *p_ : empty_bytes(); }
  operator const bytes&() const noexcept { return get(); }
  operator byte_view() const noexcept { return get(); }
  size_t size() const noexcept { return get().size(); }
  bool empty() const noexcept { return get().empty(); }
  const uint8_t* data() const noexcept { return get().data(); }
  auto begin() const noexcept { return get().begin(); }
  auto end() const noexcept { return get().end(); }

  friend bool operator==(const shared_bytes& a, const shared_bytes& b) {
    return a.get() == b.get();
  }
  friend bool operator==(const shared_bytes& a, const bytes& b) { return a.get() == b; }
  friend bool operator==(const bytes& a, const shared_bytes& b) { return a == b.get(); }

private:
  static const bytes& empty_bytes() noexcept {
    static const bytes empty;
    return empty;
  }
  std::shared_ptr<const bytes> p_;
};

/// Default and minimum frame payload sizes (PROTOCOL.md §8.2).
inline constexpr uint32_t default_max_message_size = 4096;
inline constexpr uint32_t min_max_message_size = 512;

// The application-facing types are public (include/dtt/events.hpp).
using dtt::delivery_scope;
using dtt::event;
using dtt::socket_address;

} // namespace dtt::gossip
