#pragma once

// The peer cache (issue 11, "joins that do not depend on the slot"): per topic, the peers a node
// was connected to and their addresses, kept in a file of the node's state directory so that a
// restarted node rejoins them without reading the DHT slot. Sans-IO encode/decode (the fuzzer's
// target) plus small file helpers; no CAF.
#include "crypto/error.hpp"
#include "crypto/topic_id.hpp"
#include "gossip/types.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace dtt::peer_cache {

/// One remembered peer.
struct entry {
  gossip::endpoint_id id{};                     ///< its endpoint id (Ed25519 public key)
  std::vector<gossip::socket_address> addresses; ///< its endpoint record's content (may be empty)
  int64_t last_seen = 0;                        ///< unix seconds when it was last a neighbour

  friend bool operator==(const entry& a, const entry& b) {
    return a.id == b.id && a.addresses == b.addresses && a.last_seen == b.last_seen;
  }
};

/// Peers kept per topic (dtt's choice: a dozen active/passive views' worth).
inline constexpr size_t max_entries = 64;
/// Addresses kept per peer (as the transport's address book keeps, gossip/transport).
inline constexpr size_t max_addresses = 8;
/// File magic, 8 ASCII bytes; the 1 is the format version.
inline constexpr std::string_view magic = "DTTPEER1";
/// Largest file the decoder accepts: header + 64 entries of 32 + 8 + 2 + 1000 bytes.
inline constexpr size_t max_file_size = 8 + 2 + max_entries * (32 + 8 + 2 + 1000);

/// File layout (all integers little-endian):
///   magic "DTTPEER1" (8) | LE16 count (≤ 64) | count × entry
///   entry: endpoint id (32) | LE64 last_seen (unix s, 0 ≤ t ≤ 2^53) | LE16 n (≤ 1000) |
///          n bytes: the peer's endpoint record value (actors/endpoint_record.hpp; n = 0: none)
/// Entries are written most recently seen first; at most max_addresses addresses each.
bytes encode(const std::vector<entry>& entries);

/// Strict parser of encode()'s layout: refuses input over `max_size` (errc::too_large), a wrong
/// magic, more than max_entries entries, a truncated entry, trailing bytes, an id that is not
/// an Ed25519 point or appears twice, a time outside [0, 2^53], and an endpoint record that
/// does not parse or lists more than max_addresses addresses. Never throws.
result<std::vector<entry>> decode(byte_view data, size_t max_size = max_file_size);

/// `seen` (peers that are neighbours now, stamped `now`) first, then the `cached` entries that
/// are not in `seen`, most recently seen first, cut to `bound`. A seen peer without addresses
/// keeps the addresses cached for it.
std::vector<entry> merge(const std::vector<entry>& cached, const std::vector<entry>& seen,
                         int64_t now, size_t bound = max_entries);

/// File name of a topic's cache: "peers-" + hex(SHA-256("dtt peer cache v1" || topic_hash ||
/// initial_secret_hash))[0..32] + ".bin": it reveals neither the topic name nor the secret.
std::string file_name(const crypto::topic_id& topic, const bytes32& initial_secret_hash);

/// Reads a file of at most `max_size` bytes (errc::too_large beyond, errc::io_error if it
/// cannot be read, errc::closed if it does not exist).
result<bytes> read_file(const std::string& path, size_t max_size = max_file_size);

/// Writes `data` to `path` atomically: a temporary file beside it (mode 0600), fsync, rename.
/// Creates the directory (mode 0700) if it is missing (one level).
status write_file_atomic(const std::string& path, byte_view data);

} // namespace dtt::peer_cache
