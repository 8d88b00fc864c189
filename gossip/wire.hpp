#pragma once

// The gossip wire format: one topic envelope per message, carrying either a HyParView (swarm
// membership) or a PlumTree (broadcast) message (PROTOCOL.md §8.1, §8.3, §8.4). This is dtt's
// own compact binary encoding (iroh's postcard framing is not reproduced). Layout, big-endian:
//
//   message      = topic_id[32] family:u8 variant:u8 body       (family 0 = swarm, 1 = gossip)
//   peer_data?   = 0x00 | 0x01 count:u8 address*count           (count <= max_peer_addresses)
//   address      = 0x04 ipv4[4] port:u16 | 0x06 ipv6[16] port:u16  (port != 0)
//   peer_info    = endpoint_id[32] peer_data?
//   swarm 0 Join          peer_data?
//   swarm 1 ForwardJoin   peer_info ttl:u16
//   swarm 2 Shuffle       origin[32] count:u8 peer_info*count ttl:u16
//   swarm 3 ShuffleReply  count:u8 peer_info*count               (count <= max_shuffle_nodes)
//   swarm 4 Neighbor      priority:u8 (0 high, 1 low) peer_data?
//   swarm 5 Disconnect    alive:u8 (0 or 1)
//   gossip 0 Gossip       id[32] scope content_len:u32 content   (content fills the rest)
//   gossip 1 Prune        (empty)
//   gossip 2 Graft        0x00 round:u16 | 0x01 id[32] round:u16
//   gossip 3 IHave        count:u16 (id[32] round:u16)*count     (count >= 1)
//   scope        = 0x00 round:u16 (swarm) | 0x01 (neighbors)
//
// Decoding is strict: every length and count is checked against the bytes that remain and a
// hard limit, unknown tags and non-0/1 booleans are refused, and trailing bytes are an error.

#include "crypto/bytes.hpp"
#include "crypto/error.hpp"
#include "gossip/types.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <variant>
#include <vector>

namespace dtt::gossip {

/// Addresses where a peer can be dialed (iroh's PeerData, PROTOCOL.md §8.1).
using peer_data = std::vector<socket_address>;

/// At most this many addresses per peer_data (hard decoding limit).
inline constexpr size_t max_peer_addresses = 16;

/// At most this many peers in one Shuffle / ShuffleReply (the defaults send at most 8).
inline constexpr size_t max_shuffle_nodes = 64;

/// A peer and, if known, where it can be dialed.
struct peer_info {
  endpoint_id id{};
  std::optional<peer_data> data;
  friend bool operator==(const peer_info& a, const peer_info& b) {
    return a.id == b.id && a.data == b.data;
  }
};

/// Priority of a HyParView Neighbor request: High may not be refused (PROTOCOL.md §8.3).
enum class priority : uint8_t { high = 0, low = 1 };

/// The message bodies (PROTOCOL.md §8.3 HyParView, §8.4 PlumTree).
namespace msg {

/// HyParView: ask the receiver to take us into its active view.
struct join {
  std::optional<peer_data> data;
};
/// HyParView: introduce a newly joined peer along a random walk of `ttl` hops.
struct forward_join {
  peer_info peer;
  uint16_t ttl = 0;
};
/// HyParView: a random walk exchanging samples of the origin's views.
struct shuffle {
  endpoint_id origin{};
  std::vector<peer_info> nodes;
  uint16_t ttl = 0;
};
/// HyParView: the end of a shuffle walk answers the origin with its own sample.
struct shuffle_reply {
  std::vector<peer_info> nodes;
};
/// HyParView: ask to become (or confirm being) neighbours.
struct neighbor {
  gossip::priority prio = priority::high;
  std::optional<peer_data> data;
};
/// HyParView: we drop the receiver from our active view; `alive` false means we are leaving.
struct disconnect {
  bool alive = true;
};
/// PlumTree: a payload; `id` must be message_id_of(content), its SHA-256.
struct gossip {
  message_id id{};
  shared_bytes content;
  delivery_scope scope;
};
/// PlumTree: move the sender to the receiver's lazy set.
struct prune {};
/// PlumTree: move the sender to the receiver's eager set, and send message `id` if given.
struct graft {
  std::optional<message_id> id;
  uint16_t round = 0;
};
/// PlumTree: one announced message id with the round at which the announcer received it.
struct ihave_entry {
  message_id id{};
  uint16_t round = 0;
  friend bool operator==(const ihave_entry& a, const ihave_entry& b) {
    return a.id == b.id && a.round == b.round;
  }
};
/// PlumTree: lazy-push announcements.
struct ihave {
  std::vector<ihave_entry> entries;
};

bool operator==(const join& a, const join& b);
bool operator==(const forward_join& a, const forward_join& b);
bool operator==(const shuffle& a, const shuffle& b);
bool operator==(const shuffle_reply& a, const shuffle_reply& b);
bool operator==(const neighbor& a, const neighbor& b);
bool operator==(const disconnect& a, const disconnect& b);
bool operator==(const gossip& a, const gossip& b);
bool operator==(const prune& a, const prune& b);
bool operator==(const graft& a, const graft& b);
bool operator==(const ihave& a, const ihave& b);

/// Any message body. Indices 0-5 are HyParView (swarm), 6-9 PlumTree (gossip).
using body = std::variant<join, forward_join, shuffle, shuffle_reply, neighbor, disconnect,
                          gossip, prune, graft, ihave>;

/// True for the HyParView bodies.
inline bool is_swarm(const body& b) noexcept { return b.index() <= 5; }

} // namespace msg

/// One wire message: a body addressed to a topic.
struct message {
  topic_id topic{};
  msg::body body;
  friend bool operator==(const message& a, const message& b) {
    return a.topic == b.topic && a.body == b.body;
  }
};

/// Bytes of the envelope and Gossip fields around the content of a Gossip message
/// (topic 32 + tags 2 + id 32 + scope up to 3 + length 4).
inline constexpr size_t gossip_overhead = 73;

/// Bytes of one IHave entry, and of an IHave message with no entries.
inline constexpr size_t ihave_entry_size = 34;
inline constexpr size_t ihave_header_size = 36;

/// The encoding of `m`. Addresses that are not IPv4/IPv6 literals (or have port 0) are skipped,
/// and lists longer than the decoding limits are truncated, so the result always decodes.
bytes encode(const message& m);

/// encode(m) into a pooled buffer (gossip/buffer.hpp): what the transport sends.
shared_buffer encode_shared(const message& m);

/// The exact length of encode(m).
size_t encoded_size(const message& m);

/// Parses one message of at most `max_message_size` bytes. Errors: too_large (input or a count
/// over its limit), truncated, length_mismatch (a length field past the end), malformed (unknown
/// tag, bad boolean, bad address, trailing bytes).
result<message> decode(byte_view in, size_t max_message_size = default_max_message_size);

/// As decode(), but a Gossip payload is a slice of `frame` (shares it) instead of a copy.
result<message> decode(shared_buffer frame,
                       size_t max_message_size = default_max_message_size);

/// Where the topic and message id of a Gossip frame are (a peek at the fixed fields, no
/// validation: a hint to fetch memory early; decode() decides what the frame is).
struct gossip_peek {
  const uint8_t* topic = nullptr;
  const uint8_t* id = nullptr;
};
gossip_peek peek_gossip(byte_view frame) noexcept;

/// True if `ip` is an IPv4 or IPv6 literal that the wire format can carry.
bool is_ip_literal(const std::string& ip);

} // namespace dtt::gossip
