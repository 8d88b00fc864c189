#pragma once

#include "gossip/transport/log.hpp"
#include "gossip/types.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dtt::net {

/// Settings of the peer transport. Durations are wall-clock (steady_clock).
struct transport_options {
  /// Where to listen. Port 0 picks a free port (see transport::local_addresses).
  gossip::socket_address bind{"127.0.0.1", 0};
  /// A second, IPv6-only listener beside `bind` (a dual-stack node: e.g. bind 0.0.0.0 and
  /// bind6 "::"); empty ip: none. Port 0: `bind`'s port if it is free on IPv6, else one the
  /// OS picks. Dialing needs no option: a peer's IPv6 addresses are dialed like the others.
  gossip::socket_address bind6{"", 0};
  /// Largest message in one frame (PROTOCOL.md §8.2: 4096 by default, at least 512). A peer
  /// that announces a longer frame is disconnected; send() refuses longer messages.
  uint32_t max_message_size = gossip::default_max_message_size;
  /// Per-peer send queue bounds, in messages and bytes not yet handed to the socket. A peer
  /// whose queue would overflow is disconnected. iroh-gossip bounds its per-peer queue at 64
  /// messages (PROTOCOL.md §8.2) but back-pressures its producer; dtt has no back-pressure
  /// towards the actor, so its bound absorbs a burst of broadcasts instead.
  size_t max_queued_messages = 1024;
  size_t max_queued_bytes = 4u << 20;
  /// TCP connect budget for one dial over all of the peer's addresses (dtt's choice).
  std::chrono::milliseconds dial_timeout{5000};
  /// Budget for the TLS handshake of one connection, from TCP connect/accept (dtt's choice).
  std::chrono::milliseconds handshake_timeout{5000};
  /// A link with nothing written for this long sends a keep-alive frame (dtt's choice; iroh's
  /// QUIC keep-alive plays this role).
  std::chrono::milliseconds keepalive_interval{5000};
  /// A link with nothing read for this long is closed (dtt's choice: several keep-alives).
  std::chrono::milliseconds idle_timeout{30000};
  /// After a duplicate connection said goodbye: how long to wait for the peer's goodbye, and
  /// how long a peer whose last link closed that way may take to bring up its replacement
  /// before it is reported closed.
  std::chrono::milliseconds drain_timeout{5000};
  /// Topic admission (docs/ADMISSION.md): every message's first 32 bytes are its topic id, and
  /// a topic's messages flow on a link only after the peer proved membership of that topic on
  /// that link. Off only in transport tests of framing that send bare bytes.
  bool require_admission = true;
  /// A link on which the peer has proven no topic this long after its handshake is closed, and
  /// so is a link whose peer leaves our proof for a topic unanswered this long (dtt's choice:
  /// one handshake timeout; keep-alives do not extend it).
  std::chrono::milliseconds admission_timeout{5000};
  /// Bounds on inbound work (flood protection; dtt's choice). Per remote IP address: TLS
  /// handshakes in progress and inbound links; in all: handshakes and links.
  size_t max_pending_handshakes = 64;
  size_t max_connections = 512;
  size_t max_pending_handshakes_per_ip = 8;
  /// TLS handshakes each remote IP may start per second, and in a burst (0: unlimited). A node
  /// dials a peer once per link; 20/s leaves room for many nodes behind one NAT.
  double handshake_rate_per_ip = 20;
  size_t handshake_burst_per_ip = 40;
  size_t max_connections_per_ip = 32;
  /// A connection refused by these bounds is held open, unread, for refused_hold before it is
  /// closed (at most max_refused_held at once; beyond that they are closed at once), so that a
  /// flooder that reopens every closed connection cannot make us accept in a tight loop.
  std::chrono::milliseconds refused_hold{5000};
  size_t max_refused_held = 1024;
  /// ALPN protocol both sides must agree on: the preferred one, then older ones still spoken
  /// (the handshake picks the first of ours the peer offers). Features newer than the oldest
  /// go only over links that negotiated `alpn` (frame.hpp, "Compatibility").
  std::string alpn = "dtt-gossip/3"; // 3: connection reversal frames (gossip/transport/reversal.hpp)
  std::vector<std::string> alpn_compat{"dtt-gossip/2"}; // 2: admission (docs/ADMISSION.md)
  /// Connection reversal (issue 15, gossip/transport/reversal.hpp): when a dial fails, ask up to this many
  /// connected peers to tell the target to dial us (0: never ask; relaying and answering
  /// notices stay on), and wait this long for its link before reporting the peer closed.
  size_t reversal_fanout = 3;
  std::chrono::milliseconds reversal_wait{5000};
  /// A dial with no link after this long asks for a reversal already (it goes on meanwhile;
  /// whichever link comes first stays): a black-holed address costs this, not the dial
  /// timeout. 0, or not below dial_timeout: only a failed dial asks.
  std::chrono::milliseconds reversal_after{1000};
  /// The port peers are asked to dial us at (0: the IPv4 listener's port; set it to the
  /// mapped or forwarded port when that differs).
  uint16_t reversal_port = 0;
  /// Hole punching (gossip/transport/reversal.hpp): when a peer we asked for a reversal hints
  /// where the target is, prime our NAT with one connect from our listening port to there,
  /// held for punch_timeout. For a node behind a NAT without a mapping; off, a reachable node
  /// saves the connect (answering hints and relaying them stay on either way).
  bool hole_punching = false;
  std::chrono::milliseconds punch_timeout{4000};
  /// Relayed links (gossip/transport/relay.hpp): when the reversal wait ends with no link, ask
  /// common peers, one after another (at most relay_tries), to forward a TLS link's bytes to
  /// the target (false: never ask, and take no relayed link from a relay either; the peer is
  /// reported closed as before).
  bool relay = true;
  size_t relay_tries = 3;
  /// Forward for others: carry relayed links between two of our admitted peers, within
  /// relay_table's bounds and byte budgets (false: refuse every request).
  bool relay_for_others = true;
  /// Our own relayed links at most (as either end); more requests are refused.
  size_t max_relayed_links = 8;
  /// A link the gossip layer asked to close (close_when_flushed) stays open while relayed
  /// links run over it, at most this long; then they are ended and it closes (two ends cannot
  /// keep a relay's links open for ever).
  std::chrono::milliseconds relay_close_limit{std::chrono::minutes(10)};
  /// Dial loopback addresses (127.0.0.0/8, ::1) found in the address book. Unset: only when
  /// every address we listen on is a loopback one (a test or single-host setup). Otherwise a
  /// peer's record naming 127.0.0.1:22 would make us connect to our own host's services.
  std::optional<bool> dial_loopback;
  /// Log lines; empty means stderr_log_sink().
  log_sink log;
};

/// Why a link failed before it was established (transport_stats::handshake_failures).
enum class handshake_failure : uint8_t {
  dial,        ///< no address, or the TCP connect failed
  timeout,     ///< the dial or the TLS handshake took longer than its timeout
  tls,         ///< the TLS handshake (or its keying material export) failed
  certificate, ///< the peer's certificate was refused, or none was checked
  alpn,        ///< the peer did not agree on our ALPN protocol
  own_key,     ///< an inbound link presented our own key
};
/// How a link was made (issue 15): we or the peer dialed the other's published address
/// (direct), one side dialed because the other asked it through a common peer (reversed), or
/// that dial met our NAT-priming connect (punched: a TCP simultaneous open, or the dial
/// reached our listener through the NAT the primer opened; said by the side that primed), or
/// a common peer forwards its bytes (relayed: TLS end to end through it, relay.hpp).
enum class link_method : uint8_t { direct, reversed, punched, relayed };
/// "direct", "reversed", "punched", "relayed".
const char* link_method_name(link_method m) noexcept;

/// Number of handshake_failure kinds.
inline constexpr size_t handshake_failure_kinds = 6;
/// "dial", "timeout", "tls", "certificate", "alpn", "own_key" (metric labels).
const char* handshake_failure_name(handshake_failure f) noexcept;

} // namespace dtt::net
