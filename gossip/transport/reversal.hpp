#pragma once

// Connection reversal (issue 15), the part without I/O. A cannot dial B (B is behind a NAT
// without a mapping) but a peer C is connected to both: A asks C, C tells B, B dials A.
//
// Wire (the body of a transport control frame; the frame type is not wired into the transport
// yet):
//   request  (A -> C): 0x01 || B's endpoint id (32) || A's listening port (BE16)
//   notice   (C -> B): 0x02 || A's endpoint id (32) || port (BE16) || IPv4 address (4)
//            or        0x03 || A's endpoint id (32) || port (BE16) || IPv6 address (16)
//   punch hint (C -> A): 0x04 || B's endpoint id (32) || IPv4 address (4)
//            or        0x05 || B's endpoint id (32) || IPv6 address (16)
// Exact sizes: a request is 35 bytes, a notice 39 (IPv4) or 51 (IPv6), a hint 37 or 49;
// anything else is malformed. An IPv6 notice or hint never carries an IPv4-mapped,
// link-local, multicast or unspecified address.
//
// Hole punching (a TCP simultaneous open, both ends behind NATs that drop unsolicited
// inbound packets): with the notice to B, C sends A a hint, the IP C observes B's link from.
// A "primes" its NAT: one connect from its listening port to that IP at B's listening port,
// which makes A's NAT let B's packets from there in. B dials A from its own listening port
// (every reversed dial does), which primes B's NAT the same way. Whichever SYN arrives second
// finds the other NAT open; the two connects meet as one TCP connection (or B's lands on A's
// listener). A runs the TLS server side on it and B the client side, as in a plain reversal.
// Both NATs must keep the listening port as the external port (most do for a free port).
//
// Safety: B dials only the IP C *observed* A's link from, never an address A chose, so a
// request cannot make B dial a third party (no reflection); C relays within per-requester and
// per-target budgets; B dials each requester at most once per `dedupe` and within a global
// budget; A asks each target at most once per `retry`. Every table is bounded.

#include "crypto/bytes.hpp"
#include "crypto/error.hpp"
#include "dtt/events.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dtt::net {

/// A -> C: "tell `target` to dial me at my link's address, this port".
struct reversal_request {
  endpoint_id target{};
  uint16_t port = 0;
};

/// C -> B: "`requester` asks you to dial it at `dial`" (the IP C observed, the port A gave).
struct reversal_notice {
  endpoint_id requester{};
  socket_address dial;
};

/// C -> A: "`target`'s link reaches me from `ip`" (sent with the notice; hole punching).
struct punch_hint {
  endpoint_id target{};
  std::string ip;
};

/// True for an address only its own network reaches: IPv4 loopback, private, link-local and
/// shared (carrier NAT) ranges (127/8, 10/8, 172.16/12, 192.168/16, 169.254/16, 100.64/10);
/// IPv6 loopback, link-local and unique-local. False for anything else, text that is not an
/// address included.
bool is_local_ip(const std::string& ip) noexcept;
/// Whether an address C observes one peer at (`ip`) is any use to another that C observes at
/// `other_ip`: a local address only to a peer C also reaches at a local one (the same site, as
/// far as C can tell). A node behind a NAT that shares its LAN with C is seen at its LAN
/// address; a peer outside cannot dial or prime that.
inline bool useful_to(const std::string& ip, const std::string& other_ip) noexcept {
  return !is_local_ip(ip) || is_local_ip(other_ip);
}

/// Which side of TLS a connect from our listening port takes when it connects (hole
/// punching): `primer` (ours primed our NAT after a hint) or a reversed dial (a notice asked
/// for it). The reversed dial's side is the client, the primer's the server, as in a plain
/// reversal. When both sides asked for each other (`both_asked`: a notice and a hint for the
/// same peer within a few seconds, so the peer holds both too), each has a socket of both
/// kinds in play and the two that meet may be of the same kind: the smaller endpoint id
/// (`we_are_smaller`) is the client there. True: client.
constexpr bool punch_client(bool primer, bool both_asked, bool we_are_smaller) noexcept {
  return both_asked ? we_are_smaller : !primer;
}

/// How long the server side of a connect from our listening port waits for the client's hello
/// before it takes the client side: its socket may have reached the peer's listener (where a
/// server waits too), or the peer's socket of the same kind (two primers that met, when each
/// side's notice for the other was declined: neither knows the other asked). The smaller id
/// gives up first (`base`), the larger after twice that, so that two servers that met do not
/// both turn client at once: the smaller's hello reaches the larger while it still waits.
constexpr std::chrono::milliseconds punch_server_wait(bool we_are_smaller,
                                                      std::chrono::milliseconds base) noexcept {
  return we_are_smaller ? base : 2 * base;
}

/// Encodings (see the header comment).
bytes encode(const reversal_request& r);
/// Fails as encode(reversal_notice) does.
result<bytes> encode(const punch_hint& h);
/// Exact sizes, kind byte, a usable address; errc::malformed otherwise.
result<punch_hint> decode_punch_hint(byte_view b);
/// Fails (errc::invalid_argument) for an address that is not a numeric IPv4 or IPv6 literal
/// (an IPv4-mapped IPv6 one is refused: give it as IPv4).
result<bytes> encode(const reversal_notice& n);
/// Decoders: exact sizes, kind byte, port 1..65535; errc::malformed otherwise.
result<reversal_request> decode_reversal_request(byte_view b);
result<reversal_notice> decode_reversal_notice(byte_view b);

using reversal_clock = std::chrono::steady_clock;

/// A token bucket per key, with a bounded number of keys (the least recently refilled key is
/// dropped first when full: a flood of new keys forgets old ones, never grows).
class keyed_budget {
public:
  /// `rate` tokens per second, up to `burst`, at most `max_keys` keys.
  keyed_budget(double rate, double burst, size_t max_keys);
  /// Takes a token for `key` at `now`; false when its bucket is empty.
  bool take(const endpoint_id& key, reversal_clock::time_point now);
  /// Keys held.
  size_t size() const noexcept { return buckets_.size(); }

private:
  struct bucket {
    double tokens;
    reversal_clock::time_point at;
  };
  double rate_, burst_;
  size_t max_keys_;
  std::map<endpoint_id, bucket> buckets_;
};

/// Why C did not relay a request.
enum class relay_refusal : uint8_t { none, self_target, not_connected, requester_budget,
                                     target_budget, bad_address };

/// C's side.
class reversal_relay {
public:
  /// Budgets (dtt's choice: a few reversals a minute per peer are plenty for joining a topic).
  struct config {
    double per_requester_rate = 4.0 / 60, per_requester_burst = 4;
    double per_target_rate = 8.0 / 60, per_target_burst = 8;
    size_t max_keys = 1024;
  };
  reversal_relay() : reversal_relay(config{}) {}
  /// With budgets.
  explicit reversal_relay(config cfg);
  /// A request from `from`, whose link C sees from `observed_ip`; `connected_to_target` says
  /// whether C has a link to the target, which C sees from `target_ip` (if given: a local
  /// requester address is not sent to a target outside, see useful_to: bad_address). The
  /// notice to send to the target, or why not.
  std::pair<std::optional<reversal_notice>, relay_refusal>
  on_request(const endpoint_id& from, const std::string& observed_ip, const reversal_request& r,
             bool connected_to_target, reversal_clock::time_point now,
             const std::string& target_ip = {});

private:
  keyed_budget by_requester_, by_target_;
};

/// B's side: whether to dial a notice's address.
class reversal_dialer {
public:
  /// `dedupe`: one dial per requester within it; `rate`/`burst`: dials per second overall.
  reversal_dialer(std::chrono::seconds dedupe = std::chrono::seconds(10), double rate = 10.0 / 60,
                  double burst = 10, size_t max_keys = 1024);
  /// True if B should dial `n.dial` now (not already connected to the requester, not dialled
  /// it within `dedupe`, within the overall budget).
  bool should_dial(const reversal_notice& n, bool already_connected,
                   reversal_clock::time_point now);

private:
  std::chrono::seconds dedupe_;
  double rate_, burst_, tokens_;
  reversal_clock::time_point at_{};
  size_t max_keys_;
  std::map<endpoint_id, reversal_clock::time_point> last_;
};

/// A's side: which connected peers to ask, and when to ask again.
class reversal_requester {
public:
  /// Asks at most `fanout` peers per attempt, once per target per `retry`.
  explicit reversal_requester(size_t fanout = 3, std::chrono::seconds retry = std::chrono::seconds(30),
                              size_t max_keys = 1024);
  /// Our dial to `target` failed: the connected peers to send a request to (none while a
  /// recent attempt for it is younger than `retry`).
  std::vector<endpoint_id> on_dial_failed(const endpoint_id& target,
                                          const std::vector<endpoint_id>& connected,
                                          reversal_clock::time_point now);
  /// A hint from `from`: true if we asked `from` about `h.target` within `retry` and no hint of
  /// this attempt named `h.ip` yet (so at most one primer per address, and no more primers than
  /// peers asked), so that A primes its NAT only for a dial it wanted and only where one of
  /// the peers it asked says the target is; false for anything else.
  bool on_hint(const endpoint_id& from, const punch_hint& h, reversal_clock::time_point now);
  /// True if we asked `from` about `target` within `retry` (no side effect).
  bool asked(const endpoint_id& from, const endpoint_id& target,
             reversal_clock::time_point now) const;

private:
  struct attempt {
    reversal_clock::time_point at;
    std::vector<endpoint_id> via;
    std::vector<std::string> primed; // addresses hinted so far
    bool operator<(const attempt& o) const noexcept { return at < o.at; }
  };
  size_t fanout_;
  std::chrono::seconds retry_;
  size_t max_keys_;
  std::map<endpoint_id, attempt> asked_;
};

} // namespace dtt::net
