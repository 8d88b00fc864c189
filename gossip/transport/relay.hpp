#pragma once

// Relayed links (issue 15), the part without I/O. When A and B can link neither directly, nor
// by connection reversal, nor by hole punching (symmetric NATs, a router that rejects instead
// of dropping), a peer R that has a link to both forwards opaque bytes between them. A and B
// run TLS end to end over that byte stream, so R sees ciphertext only and cannot pose as
// either (each checks the other's certificate key, as on a direct link). R forwards within a
// byte budget per relayed link and a bound on relayed links.
//
// The transport (transport.cpp) carries these bodies in control frames of code `relay`
// (frame.hpp), runs each end's TLS connection over a local socket pair (relay_pipe.hpp), and
// asks for a relay when a reversal wait ended with no link (transport_options::relay).
//
// Wire (the body of a transport control frame):
//   open     (A -> R): 0x01 || channel (BE32) || B's endpoint id (32)            37 bytes
//   incoming (R -> B): 0x02 || channel (BE32) || A's endpoint id (32)            37 bytes
//   data     (any hop, either way): 0x03 || channel (BE32) || 1..max_relay_chunk bytes
//   close    (any hop, either way): 0x04 || channel (BE32) || reason (1)          6 bytes
//
// Channel numbers are per link. The side that sends `open` or `incoming` picks a number below
// 2^31 for the channel on that link; every frame it sends for the channel carries that number,
// and every frame the other side sends carries it with the top bit set. So a number received
// names one channel without doubt: top bit set, a channel we opened on that link; clear, one
// the peer opened (both sides may open channels on the same link at once).
//
// Budgets (dtt's choice; a relayed link carries a topic's control traffic and a modest message
// rate, not bulk data): R relays at most `max_channels` links at once, at most
// `max_per_requester` opened by one peer and `max_per_target` to one peer; each relayed link
// may carry `bytes_per_second` on average with bursts of `burst_bytes`, counted both ways
// together. A link over its budget is closed at both ends (bytes of a TLS stream cannot be
// dropped). Endpoints pace what they send to stay under it (relay_pacer).

#include "crypto/bytes.hpp"
#include "crypto/error.hpp"
#include "dtt/events.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

namespace dtt::net {

/// Largest data chunk of one frame (bytes of the relayed stream).
inline constexpr size_t max_relay_chunk = 16384;
/// The top bit of a channel number: set in frames from the side that did not open it.
inline constexpr uint32_t relay_reply_bit = 0x80000000u;
/// Bit 30 of a channel number: set in the numbers an end picks for its own `open`s; the numbers
/// a relay picks for `incoming` stay below it. A node that is both a relay and a requester on
/// one link so never picks one number twice there.
inline constexpr uint32_t relay_own_bit = 0x40000000u;

/// Why a relayed link was refused or closed (the `close` frame's reason byte).
enum class relay_close_reason : uint8_t {
  done = 0,            ///< an end closed it
  not_connected = 1,   ///< R has no link to the target
  self_target = 2,     ///< a request naming its sender, or R
  busy = 3,            ///< a bound on relayed links was reached
  over_budget = 4,     ///< more bytes than the relayed link's budget
  unknown_channel = 5, ///< a frame for a channel that does not exist (any more)
  link_lost = 6,       ///< R lost its link to the other end
  refused = 7,         ///< the target does not take relayed links now
};
/// "done", "not_connected", ... ("unknown" for a byte outside the enum).
const char* to_string(relay_close_reason r) noexcept;

struct relay_open {
  uint32_t channel = 0;
  endpoint_id target{};
};
struct relay_incoming {
  uint32_t channel = 0;
  endpoint_id requester{};
};
struct relay_data {
  uint32_t channel = 0;
  byte_view chunk; ///< a view into the decoded body
};
struct relay_close {
  uint32_t channel = 0;
  relay_close_reason reason = relay_close_reason::done;
};

/// Encodings (see the header comment). open and incoming need a channel number below 2^31
/// (errc::invalid_argument otherwise); data carries the number as given (the caller sets the
/// reply bit) and 1..max_relay_chunk bytes (errc::invalid_argument otherwise).
result<bytes> encode(const relay_open& m);
result<bytes> encode(const relay_incoming& m);
result<bytes> encode_relay_data(uint32_t channel, byte_view chunk);
bytes encode(const relay_close& m);

/// Decoders: the kind byte, exact sizes (data: 6..5+max_relay_chunk), open/incoming numbers
/// below 2^31, a close reason within the enum; errc::malformed otherwise.
result<relay_open> decode_relay_open(byte_view b);
result<relay_incoming> decode_relay_incoming(byte_view b);
result<relay_data> decode_relay_data(byte_view b);
result<relay_close> decode_relay_close(byte_view b);

using relay_clock = std::chrono::steady_clock;

/// A byte budget: `rate` bytes per second on average, bursts up to `burst`.
class relay_pacer {
public:
  relay_pacer(double rate, double burst, relay_clock::time_point now)
    : rate_(rate), burst_(burst), tokens_(burst), at_(now) {}
  /// Takes `n` bytes at `now`; false (and nothing taken) when the budget has less.
  bool take(size_t n, relay_clock::time_point now);
  /// How many bytes may go now.
  size_t available(relay_clock::time_point now);
  /// When `n` bytes will be available (now if they are; n over the burst never is: max()).
  relay_clock::time_point when(size_t n, relay_clock::time_point now);

private:
  void refill(relay_clock::time_point now);
  double rate_, burst_, tokens_;
  relay_clock::time_point at_;
};

/// R's side: the relayed links it carries.
class relay_table {
public:
  struct config {
    size_t max_channels = 32;
    size_t max_per_requester = 2;
    size_t max_per_target = 4;
    double bytes_per_second = 64 * 1024;
    double burst_bytes = 256 * 1024;
    /// A relayed link that forwarded nothing for this long is closed at both ends (expire()):
    /// a live one carries the ends' TLS keep-alives every few seconds, so only ends that
    /// opened a link and then left it (or hold slots on purpose) lose it.
    std::chrono::seconds idle_timeout{60};
    /// Opens each requester may make: `open_burst` at once, refilled at `opens_per_minute`
    /// (each new relayed link starts with a full byte burst: without this a requester that
    /// opens, floods its burst and is cut could do it again at once). Tracked for at most
    /// `max_requesters` requesters at once.
    double opens_per_minute = 6;
    double open_burst = 4;
    size_t max_requesters = 256;
  };
  /// Where to send a frame: to `peer`, with channel number `number` (as the frame carries it).
  struct hop {
    endpoint_id peer{};
    uint32_t number = 0;
    friend bool operator==(const hop& a, const hop& b) {
      return a.peer == b.peer && a.number == b.number;
    }
  };

  relay_table() : relay_table(config{}) {}
  explicit relay_table(config cfg) : cfg_(cfg) {}

  /// `from` asks (open) for a relayed link to `m.target`; `linked_to_target` says whether R has
  /// an established link to it; `self` is R's own id. The `incoming` frame to send to the
  /// target, or the reason to send back in a close (for m.channel | relay_reply_bit).
  std::pair<std::optional<relay_incoming>, relay_close_reason>
  on_open(const endpoint_id& from, const relay_open& m, bool linked_to_target,
          const endpoint_id& self, relay_clock::time_point now);

  /// Data from `from` on channel number `number` (as received), `size` bytes: where to
  /// forward it, or the reason to close. over_budget removes the link: close both ends (the
  /// other end is given by `other`); unknown_channel: close back to `from` only. A close back
  /// to `from` carries `number ^ relay_reply_bit` (the reply to a frame flips the bit).
  struct verdict {
    std::optional<hop> forward;          ///< set: send the data there
    relay_close_reason close = relay_close_reason::done;
    std::optional<hop> other;            ///< over_budget: the other end, to close too
  };
  verdict on_data(const endpoint_id& from, uint32_t number, size_t size,
                  relay_clock::time_point now);

  /// A close from `from` on `number`: the other end to tell (the link is gone either way).
  std::optional<hop> on_close(const endpoint_id& from, uint32_t number);

  /// R lost its link to `peer`: every relayed link through it ends; the other ends to tell.
  std::vector<hop> on_link_closed(const endpoint_id& peer);

  /// Ends every relayed link idle for idle_timeout at `now`: both ends of each, to tell
  /// (a close with reason done). The relay calls it before taking a new link.
  std::vector<hop> expire(relay_clock::time_point now);

  /// Relayed links carried now.
  size_t size() const noexcept { return by_a_.size(); }
  /// True if a relayed link carried now has `peer` at one end.
  bool carries(const endpoint_id& peer) const;
  /// Bytes forwarded so far (both ways, every link).
  uint64_t bytes_relayed() const noexcept { return bytes_; }

private:
  struct link {
    hop a; // the requester's end: frames from A carry a.number; R sends a.number | reply bit
    hop b; // the target's end: R picked b.number; frames from B carry b.number | reply bit
    relay_pacer budget;
    relay_clock::time_point last; // opened, or last forwarded
  };
  using key = std::pair<endpoint_id, uint32_t>; // (peer, number as frames from it carry it)
  void erase(size_t id);

  config cfg_;
  size_t next_id_ = 0;
  uint32_t next_number_ = 1;
  std::map<size_t, link> links_;   // by link id
  std::map<key, size_t> by_a_;     // (A, A's number) -> link id
  std::map<key, size_t> by_b_;     // (B, R's number | reply bit) -> link id
  std::map<endpoint_id, relay_pacer> opens_; // per requester: opens left (tokens)
  uint64_t bytes_ = 0;
};

} // namespace dtt::net
