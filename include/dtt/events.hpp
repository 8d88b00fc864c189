#pragma once

// dtt's public value types: bytes, endpoint ids, transport addresses, and the events a topic
// delivers to the application. No CAF here (include/dtt/actors.hpp has the actor interfaces).

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace dtt {

/// An owned byte buffer.
using bytes = std::vector<uint8_t>;

/// A fixed-size byte array (keys, hashes, ids).
template <size_t N>
using byte_array = std::array<uint8_t, N>;

/// 32 bytes: topic hashes, Ed25519 public keys and seeds, X25519 keys.
using bytes32 = byte_array<32>;

/// A node's identity: its Ed25519 public key (also its id on the gossip transport).
using endpoint_id = bytes32;

/// How a message reached us (PROTOCOL.md §8.4).
struct delivery_scope {
  enum class kind : uint8_t { swarm, neighbors };
  kind k = kind::swarm;
  uint16_t round = 0; ///< hops so far, for swarm scope
  /// True for messages from a direct neighbour's own broadcast (Neighbors, or Swarm round 0).
  bool is_direct() const noexcept { return k == kind::neighbors || round == 0; }
  friend bool operator==(const delivery_scope& a, const delivery_scope& b) {
    return a.k == b.k && a.round == b.round;
  }
};

/// Message bytes, immutable and shared by every copy (copying a payload copies no byte): what
/// an event carries, straight from the frame it arrived in, and what a broadcast takes.
class payload {
public:
  using value_type = uint8_t;
  using const_iterator = const uint8_t*;

  payload() noexcept = default;
  /// Takes `b`'s storage (no copy of its bytes).
  payload(bytes b);
  payload(std::initializer_list<uint8_t> il) : payload(bytes(il)) {}
  payload(const payload& o) noexcept;
  payload(payload&& o) noexcept;
  payload& operator=(const payload& o) noexcept;
  payload& operator=(payload&& o) noexcept;
  ~payload();

  const uint8_t* data() const noexcept { return data_; }
  size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  const uint8_t* begin() const noexcept { return data_; }
  const uint8_t* end() const noexcept { return data_ + size_; }
  uint8_t operator[](size_t i) const noexcept { return data_[i]; }
  /// A copy as a vector.
  bytes to_bytes() const { return bytes(begin(), end()); }

  friend bool operator==(const payload& a, const payload& b) noexcept {
    return equal(a.data_, a.size_, b.data_, b.size_);
  }
  friend bool operator==(const payload& a, const bytes& b) noexcept {
    return equal(a.data_, a.size_, b.data(), b.size());
  }
  friend bool operator==(const bytes& a, const payload& b) noexcept { return b == a; }
  friend bool operator!=(const payload& a, const payload& b) noexcept { return !(a == b); }
  friend bool operator!=(const payload& a, const bytes& b) noexcept { return !(a == b); }
  friend bool operator!=(const bytes& a, const payload& b) noexcept { return !(b == a); }

private:
  friend struct payload_access;
  static bool equal(const uint8_t* a, size_t an, const uint8_t* b, size_t bn) noexcept;
  void* block_ = nullptr; ///< the shared block holding the bytes (internal), or null
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

/// A message written in place: `size()` writable bytes of a pooled, reference-counted block,
/// then share() hands them over as a payload (no copy; a broadcast of it keeps sharing the
/// block until the frame is written). The bytes are not initialised.
class payload_buffer {
public:
  /// Throws std::bad_alloc (also for sizes over 4 GiB).
  explicit payload_buffer(size_t n);
  uint8_t* data() noexcept { return data_; }
  size_t size() const noexcept { return p_.size(); }
  /// The bytes as a payload; this buffer is empty afterwards.
  payload share() && noexcept;

private:
  payload p_;
  uint8_t* data_ = nullptr;
};

/// An event of one topic, as delivered to applications (PROTOCOL.md §8.5).
struct event {
  enum class kind : uint8_t { neighbor_up, neighbor_down, received, lagged };
  kind k = kind::received;
  endpoint_id peer{};   ///< the neighbour (up/down), or the previous hop (received)
  payload content;      ///< received only: the message (shared, not copied)
  delivery_scope scope; ///< received only
  /// lagged only: how many events were dropped because the application read too slowly (the
  /// topic keeps config::event_buffer events for it).
  uint64_t lagged = 0;
};

/// A transport address: IPv4 or IPv6 literal and port.
struct socket_address {
  std::string ip;
  uint16_t port = 0;
  friend bool operator==(const socket_address& a, const socket_address& b) {
    return a.ip == b.ip && a.port == b.port;
  }
  friend bool operator<(const socket_address& a, const socket_address& b) {
    return a.ip < b.ip || (a.ip == b.ip && a.port < b.port);
  }
};

/// "ip:port", an IPv6 address in brackets ("[::1]:4000", RFC 3986 §3.2.2).
inline std::string to_string(const socket_address& a) {
  return (a.ip.find(':') != std::string::npos ? "[" + a.ip + "]" : a.ip) + ":"
         + std::to_string(a.port);
}

/// A short printable name of an event kind ("received", "neighbor_up", ...).
inline const char* to_string(event::kind k) noexcept {
  switch (k) {
    case event::kind::neighbor_up: return "neighbor_up";
    case event::kind::neighbor_down: return "neighbor_down";
    case event::kind::received: return "received";
    case event::kind::lagged: return "lagged";
  }
  return "unknown";
}

} // namespace dtt
