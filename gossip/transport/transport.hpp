#pragma once

#include "crypto/ed25519.hpp"
#include "crypto/error.hpp"
#include "gossip/transport/options.hpp"
#include "gossip/types.hpp"

#include <boost/asio/io_context.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace dtt::net {

/// Upward events of the transport, called on the io thread. They may call back into the
/// transport (its calls post to the io thread).
struct transport_callbacks {
  /// The peer has its first established link (after our dial or its).
  std::function<void(const gossip::endpoint_id&)> connected;
  /// Messages from the peer (frame payloads, in order; those that arrived in one read come
  /// in one call, so a busy link costs one call per read rather than one per frame).
  std::function<void(const gossip::endpoint_id&, std::vector<gossip::shared_buffer>&&)> messages;
  /// The peer has no link left, or a dial to it failed; its queued messages are dropped.
  std::function<void(const gossip::endpoint_id&, const std::string& reason)> closed;
  /// A link to the peer ended without a goodbye while another link to it carries on: the
  /// peer stays connected (no closed()), but frames in flight on the ended link, either way,
  /// may be lost. The caller should repair what the peer may have missed.
  std::function<void(const gossip::endpoint_id&)> renewed;
};

/// One message for one peer (transport::send of a batch).
struct outgoing {
  gossip::endpoint_id to{};
  gossip::shared_buffer message;
};

/// Why a connection reversal request (relay side) or notice (dialing side) was refused.
enum class reversal_refusal : uint8_t {
  malformed,        ///< a body that does not decode (the link is closed)
  not_admitted,     ///< from a link on which the peer proved no topic
  self_target,      ///< a request naming its sender, or us; a notice naming us
  not_connected,    ///< request: we have no link to the target that speaks reversal
  requester_budget, ///< request: the requester's relay budget is spent
  target_budget,    ///< request: the target's relay budget is spent
  bad_address,      ///< request: the requester's address cannot be carried (link-local IPv6),
                    ///< or is a LAN address and the target is outside that LAN
  declined,         ///< notice: already linked, dialed it recently, or dial budget spent;
                    ///< punch hint: not asked, no reversal awaited, or a socket under way
};
/// Number of reversal_refusal kinds.
inline constexpr size_t reversal_refusal_kinds = 8;
/// "malformed", "not_admitted", ... (metric labels).
const char* reversal_refusal_name(reversal_refusal r) noexcept;

/// Counters, readable from any thread.
struct transport_stats {
  size_t links = 0;            ///< established TLS links (duplicates included while retiring)
  size_t peers = 0;            ///< peers with a link, a dial or queued messages
  uint64_t messages_in = 0;    ///< message frames received
  uint64_t messages_out = 0;   ///< message frames queued for sending
  uint64_t slow_peers_dropped = 0;
  uint64_t duplicates_retired = 0;
  uint64_t links_renewed = 0; ///< links ended without a goodbye while another carried on
  // Admission (docs/ADMISSION.md).
  uint64_t proofs_accepted = 0;       ///< topics proven to us by peers
  uint64_t proofs_refused = 0;        ///< proofs that did not verify (link closed)
  uint64_t proofs_unknown_topic = 0;  ///< proofs for topics we are not a member of
  uint64_t early_messages = 0;        ///< messages of an unproven topic (link closed)
  uint64_t links_without_topic = 0;   ///< links closed for proving no topic in time
  uint64_t proofs_unanswered = 0;     ///< links closed for leaving our proof unanswered
  uint64_t messages_not_member = 0;   ///< queued messages dropped: we left their topic
  // Connection budgets (transport_options).
  uint64_t refused_ip_handshakes = 0; ///< inbound refused: the IP's handshakes in progress
  uint64_t refused_ip_links = 0;      ///< inbound refused: the IP's inbound links
  uint64_t refused_total_limits = 0;  ///< inbound refused: the node-wide bounds
  size_t refused_held = 0;            ///< refused connections held open, unread, right now
  size_t pending_handshakes = 0;      ///< inbound TLS handshakes in progress
  /// Links that failed before they were established, by handshake_failure.
  std::array<uint64_t, handshake_failure_kinds> handshake_failures{};
  uint64_t bytes_in = 0;   ///< read from every link's TLS stream (frames and their headers)
  uint64_t bytes_out = 0;  ///< written to every link's TLS stream
  // Connection reversal (issue 15, gossip/transport/reversal.hpp).
  uint64_t reversal_requests_sent = 0;    ///< requests we sent after a failed dial
  uint64_t reversal_requests_relayed = 0; ///< requests we relayed as a notice to their target
  /// Requests we did not relay, by reason.
  std::array<uint64_t, reversal_refusal_kinds> reversal_requests_refused{};
  /// Notices we did not act on, by reason.
  std::array<uint64_t, reversal_refusal_kinds> reversal_notices_refused{};
  uint64_t reversed_dials = 0;         ///< dials we made because a notice asked us to
  uint64_t dials = 0;                  ///< outbound dials started (direct and reversed)
  uint64_t dials_held_back = 0;        ///< dials delayed: the peer was redialled too often
  uint64_t links_reversed = 0;         ///< links established by reversal (either side)
  uint64_t reversal_waits_expired = 0; ///< peers reported closed: no reversed link in time
  // Hole punching (gossip/transport/reversal.hpp).
  uint64_t punch_hints_sent = 0; ///< hints we sent to requesters with a relayed notice
  uint64_t punch_primers = 0;    ///< connects we made to prime our NAT after a hint
  uint64_t links_punched = 0;    ///< links made by a primer meeting the target's dial
  // Relayed links (gossip/transport/relay.hpp).
  uint64_t relay_requests_sent = 0;    ///< common peers we asked to relay a link of ours
  uint64_t links_relayed = 0;          ///< relayed links established (either end)
  uint64_t relay_requests_carried = 0; ///< relayed links we took on for others
  uint64_t relay_requests_refused = 0; ///< relay requests (or relayed links to us) we refused
  uint64_t relay_over_budget = 0;      ///< relayed links we carried, closed over their budget
  uint64_t relay_bytes = 0;            ///< bytes we forwarded for others
  size_t relayed_carried = 0;          ///< relayed links we carry now
};

/// An established link to a peer (transport::link_of).
struct link_info {
  gossip::socket_address remote;               ///< the peer's address on the link
  std::chrono::system_clock::time_point since; ///< when the link was established
  uint64_t bytes_in = 0;                       ///< read on the link (TLS plaintext)
  uint64_t bytes_out = 0;                      ///< written on the link
  link_method method = link_method::direct;    ///< how the link was made
};

/// The peer transport (DESIGN.md "Transport and addressing"): TCP + TLS 1.3 links keyed by
/// endpoint id, one link per peer pair carrying every topic, `BE32(len) || message` frames.
///
/// - Listens on `bind`; an inbound peer is identified by its certificate's Ed25519 key, a dialed
///   peer must present the key it is dialed as.
/// - send() dials on demand from the address book (add_addresses, plus addresses confirmed by a
///   dial and observed on inbound links).
/// - Both sides dialing at once: both links come up, then each side keeps the link dialed by
///   the smaller endpoint id and retires the other with a goodbye frame after its in-flight
///   data, so no queued or sent message is lost and neither side sees the peer go down.
/// - Each peer has a bounded send queue; a peer that lets it overflow is disconnected.
/// - A link the peer closed gracefully (goodbye) is reported closed only after the drain
///   timeout, and only if no other link to the peer came up meanwhile.
///
/// Every socket runs on the caller's io_context (one thread). All member functions are
/// thread-safe: they post to that thread. Callbacks stop after shutdown() has run there.
class transport {
public:
  /// Binds and starts listening. Fails on an invalid option (invalid_argument), a TLS setup
  /// failure (crypto_failure) or a bind error (io_error).
  static result<std::unique_ptr<transport>> create(boost::asio::io_context& io,
                                                   const crypto::signing_key& key,
                                                   transport_options opts,
                                                   transport_callbacks callbacks);
  /// Shuts down (see shutdown()).
  ~transport();
  transport(const transport&) = delete;
  transport& operator=(const transport&) = delete;

  /// This node's endpoint id.
  const gossip::endpoint_id& id() const noexcept;
  /// Where this node accepts connections: the bound address, or every interface address when
  /// bound to the unspecified address.
  const std::vector<gossip::socket_address>& local_addresses() const noexcept;
  /// The frame payload limit in force.
  uint32_t max_message_size() const noexcept;

  /// Makes us a member of `topic` for admission (docs/ADMISSION.md): its messages may flow
  /// on a link once the peer proved the same membership there; we prove ours with `key`.
  void add_topic(const gossip::topic_id& topic, const bytes32& membership_key);
  /// Ends our membership of `topic`: proofs for it are no longer answered, and messages for it
  /// still queued for peers that have not proven it are dropped.
  void remove_topic(const gossip::topic_id& topic);
  /// Address hints for dialing `id`.
  void add_addresses(const gossip::endpoint_id& id, std::vector<gossip::socket_address> addrs);
  /// Queues a message for `id`, dialing if needed. Refuses (too_large) a message over the max
  /// message size, and (invalid_argument) our own id or, under admission, a message shorter
  /// than a topic id; other failures arrive as closed().
  status send(const gossip::endpoint_id& id, gossip::shared_buffer message);
  /// Queues several messages, in order, with one hand-off to the io thread (each peer's write
  /// then starts once, with as much of the batch as fits). Each message is checked as send()
  /// checks it; the refused ones are returned with the reason, the others are queued.
  std::vector<std::pair<gossip::endpoint_id, error>> send(std::vector<outgoing> batch);
  /// Closes every link to `id` and drops its queue; closed() follows.
  void disconnect(const gossip::endpoint_id& id, std::string reason);
  /// Closes the links to `id` gracefully once every message queued for it so far is written,
  /// without reporting closed() (the caller asked). A later send() to `id` cancels it or, if
  /// too late, dials a new link.
  void close_when_flushed(const gossip::endpoint_id& id);
  /// Stops listening, closes every link, cancels timers, and releases the callbacks. Idempotent.
  void shutdown();
  /// True if some peer has at least `messages` messages or `bytes` bytes accepted by send()
  /// and not yet written to its socket (nor dropped): the producer outruns that link, whose
  /// queue overflows (and the peer is disconnected) at the max_queued_* bounds.
  bool backlogged(size_t messages, size_t bytes) const;
  /// What waits for `id`: {messages, bytes} accepted by send() and not yet written or dropped.
  std::pair<size_t, size_t> backlog_of(const gossip::endpoint_id& id) const;
  /// Current counters.
  transport_stats stats() const;
  /// The oldest established link to `id` (its bytes summed over every established link to
  /// `id`, duplicates included), or nullopt. Readable from any thread.
  std::optional<link_info> link_of(const gossip::endpoint_id& id) const;

  class impl;

private:
  explicit transport(std::shared_ptr<impl> p);
  std::shared_ptr<impl> impl_;
};

} // namespace dtt::net
