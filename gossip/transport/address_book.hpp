#pragma once

#include "gossip/types.hpp"

#include <cstdint>
#include <map>
#include <vector>

namespace dtt::net {

/// Where a known address came from; dial order follows this order.
enum class address_source : uint8_t {
  confirmed, ///< an outbound connection to it succeeded
  hint,      ///< given by the application (add_addresses: DHT records, Join peer data)
  observed,  ///< the remote address of an inbound connection (often an ephemeral port)
};

/// endpoint id → addresses to dial it at. Bounded: a peer keeps at most `max_per_peer`
/// addresses (the oldest of the weakest source goes first) and the book at most `max_peers`
/// peers (the least recently touched goes first).
class address_book {
public:
  /// Bounds default to 8 addresses per peer and 4096 peers (dtt's choice: a node's record
  /// lists a handful of addresses, and a topic's swarm is far smaller than the book).
  explicit address_book(size_t max_peers = 4096, size_t max_per_peer = 8);

  /// Adds or refreshes an address of `id` (a refresh can only raise its source).
  void add(const gossip::endpoint_id& id, const gossip::socket_address& addr,
           address_source src);
  /// Adds a list in its order of preference (an endpoint record's: a mapped address before
  /// the LAN ones): the first ends up the newest, so candidates() gives them in that order.
  void add_all(const gossip::endpoint_id& id, const std::vector<gossip::socket_address>& addrs,
               address_source src);
  /// Addresses of `id` to dial, best first (confirmed, hint, observed; newest first within).
  std::vector<gossip::socket_address> candidates(const gossip::endpoint_id& id) const;
  /// Forgets every address of `id`.
  void forget(const gossip::endpoint_id& id);
  /// Number of peers with at least one address.
  size_t size() const noexcept { return peers_.size(); }

private:
  struct entry {
    gossip::socket_address addr;
    address_source src;
    uint64_t stamp;
  };
  struct peer_entry {
    std::vector<entry> addrs;
    uint64_t touched = 0;
  };
  size_t max_peers_;
  size_t max_per_peer_;
  uint64_t clock_ = 0;
  std::map<gossip::endpoint_id, peer_entry> peers_;
};

} // namespace dtt::net
