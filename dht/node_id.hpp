#pragma once

#include "crypto/bytes.hpp"
#include "crypto/error.hpp"
#include "crypto/random.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

/// Node ids, UDP endpoints and compact node info (BEP 5).
namespace dtt::dht {

/// A 160-bit node id or lookup target (BEP 5).
using node_id = byte_array<20>;


/// True if a is closer to target than b (XOR metric, ties false).
bool closer(const node_id& target, const node_id& a, const node_id& b) noexcept;

/// Number of leading bits a and b share (160 if equal).
int common_prefix_bits(const node_id& a, const node_id& b) noexcept;

/// A random id.
node_id random_id(crypto::random_source& rng);

/// A random id sharing exactly `bits` leading bits with `base` (the next bit differs), for
/// bucket refresh; bits ≥ 160 returns base.
node_id random_id_with_prefix(const node_id& base, int bits, crypto::random_source& rng);

/// A UDP endpoint: IPv4 (family 4, address in ip[0..4]) or IPv6 (family 6).
struct endpoint {
  std::array<uint8_t, 16> ip{};
  uint8_t family = 4;
  uint16_t port = 0;

  /// An IPv4 endpoint from four octets.
  static endpoint v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port);
  /// Parses "a.b.c.d:port" or "[v6]:port" (numeric only).
  static std::optional<endpoint> parse(const std::string& s);
  /// "a.b.c.d:port" or "[v6]:port".
  std::string to_string() const;
  /// The address bytes (4 or 16).
  byte_view address() const noexcept { return {ip.data(), family == 4 ? size_t{4} : size_t{16}}; }

  friend bool operator==(const endpoint& a, const endpoint& b) noexcept {
    return a.family == b.family && a.port == b.port && a.ip == b.ip;
  }
  friend bool operator!=(const endpoint& a, const endpoint& b) noexcept { return !(a == b); }
  friend bool operator<(const endpoint& a, const endpoint& b) noexcept {
    if (a.family != b.family)
      return a.family < b.family;
    if (a.ip != b.ip)
      return a.ip < b.ip;
    return a.port < b.port;
  }
};

/// A node's id and address.
struct node_entry {
  node_id id{};
  endpoint ep;
  friend bool operator==(const node_entry& a, const node_entry& b) noexcept {
    return a.id == b.id && a.ep == b.ep;
  }
};

/// True for an IPv4-mapped IPv6 address (::ffff:a.b.c.d). BEP 32 keeps the two DHTs apart: such
/// an address in "nodes6" is refused (an IPv4 node has no place in the IPv6 table).
bool is_v4_mapped(const endpoint& ep) noexcept;

/// The unit per-address limits count (one routing-table entry per IP, per-IP query rates,
/// verification pings): an IPv4 address, or the /64 prefix of an IPv6 address (one subnet, the
/// smallest a site is usually given: libtorrent's restrict_routing_ips also counts IPv6 nodes per
/// /64). Port 0.
endpoint address_unit(const endpoint& ep) noexcept;

/// True for addresses BEP 42 exempts from node-id checks: IPv4 loopback, private and
/// link-local ranges (127/8, 10/8, 172.16/12, 192.168/16, 169.254/16); IPv6 loopback,
/// link-local (fe80::/10) and unique-local (fc00::/7).
bool is_local_address(const endpoint& ep) noexcept;

/// CRC-32C (Castagnoli), the checksum BEP 42 derives node-id prefixes from.
uint32_t crc32c(byte_view data) noexcept;

/// True if `id` is a BEP 42 node id for the address of `ep`: its first 21 bits equal the
/// CRC-32C of the masked address combined with the id's last byte's low 3 bits. The port is
/// ignored; local addresses (is_local_address) always pass.
bool bep42_valid(const node_id& id, const endpoint& ep) noexcept;

/// A random BEP 42 node id for the address of `ep` (the last byte carries the 3 random bits
/// used in the prefix).
node_id bep42_id(const endpoint& ep, crypto::random_source& rng);

/// Compact peer info: 6 bytes (IPv4) or 18 bytes (IPv6), port big-endian (BEP 5).
bytes compact_endpoint(const endpoint& ep);
/// Parses 6 or 18 bytes of compact peer info.
std::optional<endpoint> parse_compact_endpoint(byte_view b);

/// Appends compact node info (id || compact endpoint) for each entry of the given family
/// (BEP 5 "nodes" = IPv4, BEP 32 "nodes6" = IPv6).
bytes compact_nodes(const std::vector<node_entry>& nodes, uint8_t family);
/// Parses a "nodes" (family 4, 26-byte records) or "nodes6" (family 6, 38-byte records, BEP 32)
/// string. Fails on a length that is not a multiple of the record size or over max_nodes
/// records. Records that cannot name a node of that DHT are left out and counted in `refused`
/// (if given): port 0, an unspecified address, and in "nodes6" an IPv4-mapped address.
result<std::vector<node_entry>> parse_compact_nodes(byte_view b, uint8_t family,
                                                    size_t max_nodes = 64,
                                                    size_t* refused = nullptr);

} // namespace dtt::dht
