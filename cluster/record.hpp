#pragma once

// A cluster member's signed record (docs/CLUSTER.md): who it is (endpoint id, CAF node id),
// where its middleman accepts connections, which incarnation of it this is, and the names of
// the actors it publishes. Members gossip these records over the cluster's dtt topic; every
// field read from the wire is hostile and bounded here.

#include "crypto/bytes.hpp"
#include "crypto/ed25519.hpp"
#include "crypto/error.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dtt::cluster_core {

/// Hard limits of a record (the wire format and the membership table both enforce them).
struct record_limits {
  /// Encoded size, signature included; a gossip broadcast carries 4096 - 73 bytes
  /// (PROTOCOL.md §8.2), so a record always fits one broadcast.
  size_t max_record_size = 2048;
  size_t max_node_id_size = 64;  ///< CAF 0.17.6's node id is 24 bytes (host hash + pid)
  size_t max_addresses = 8;      ///< middleman addresses per member
  size_t max_names = 32;         ///< published actor names per member
  size_t max_name_size = 48;     ///< bytes per actor name
};

/// A member record as sent. `seq` grows with every announcement of one incarnation (gossip
/// drops a message it has seen, so each re-announce must differ); `incarnation` grows when
/// the member restarts (unix time in µs at start), so a restarted member replaces its entry.
struct member_record {
  endpoint_id id{};                       ///< the member's Ed25519 key: signs the record
  uint64_t incarnation = 0;               ///< start time of this run of the member
  uint64_t seq = 0;                       ///< announcement number within the incarnation
  bool leaving = false;                   ///< a goodbye: drop the member now
  bytes node;                             ///< the CAF node id, opaque bytes
  std::vector<socket_address> addresses;  ///< where its middleman accepts TLS links
  std::vector<std::string> names;         ///< published actor names, sorted, unique
};

/// True for a name a member may publish: 1..max_name_size bytes of [A-Za-z0-9._:/-].
bool valid_name(std::string_view name, const record_limits& lim = {});

/// Encodes and signs a record for the cluster `cluster_id` (the signature covers a context
/// label, the cluster id and every byte before it, so a record cannot be replayed into
/// another cluster). errc::too_large / invalid_argument when the record breaks a limit.
result<bytes> encode_record(const member_record& r, const crypto::signing_key& key,
                            const bytes32& cluster_id, const record_limits& lim = {});

/// Parses and verifies a record of cluster `cluster_id`: bounded in every field, names valid,
/// sorted and unique, addresses numeric, signature by the record's own endpoint id.
result<member_record> decode_record(byte_view wire, const bytes32& cluster_id,
                                    const record_limits& lim = {});

} // namespace dtt::cluster_core
