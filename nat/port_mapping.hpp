#pragma once

// Port mapping (issue 15), the part without I/O: the config value, the checks every gateway
// answer goes through, and when to renew or retry. The gateways themselves (UPnP-IGD through
// miniupnpc, NAT-PMP through libnatpmp) are in nat/gateway.hpp; the thread that drives them in
// nat/port_mapper.hpp.

#include "crypto/error.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace dtt::nat {

/// Transport protocol of a mapping.
enum class protocol : uint8_t { tcp, udp };
/// "TCP" or "UDP".
const char* to_string(protocol p) noexcept;

/// How a mapping was made.
enum class method : uint8_t { none, upnp, natpmp, pcp };
/// "none", "upnp", "natpmp" or "pcp".
const char* to_string(method m) noexcept;

/// `[dttd.nat] port-mapping`: which protocols to try.
enum class mode : uint8_t {
  off,    ///< map nothing
  automatic, ///< UPnP-IGD first, then PCP, then NAT-PMP (if the server on port 5351 answered)
  upnp,   ///< UPnP-IGD only
  natpmp, ///< NAT-PMP only
  pcp,    ///< PCP only (RFC 6887)
};
/// Parses "auto", "upnp", "natpmp", "pcp" or "off" (exactly; anything else is invalid_argument).
result<mode> parse_mode(std::string_view text);
/// The config text of a mode.
const char* to_string(mode m) noexcept;

/// A mapping a gateway granted, after check_answer.
struct mapping {
  protocol proto = protocol::tcp;
  uint16_t internal_port = 0;
  std::string external_ip;    ///< numeric IPv4 (the gateway's WAN address)
  uint16_t external_port = 0;
  std::chrono::seconds lease{0}; ///< as granted (a UPnP "0", permanent, is recorded as asked)
  method via = method::none;
};

/// An IPv6 pinhole a gateway opened (UPnP IGD2's WANIPv6FirewallControl): the router's
/// firewall lets connections from anywhere in to `ip`:`port`. IPv6 needs no translation, so
/// the address is our own (already in the endpoint record); the pinhole makes it reachable.
struct pinhole {
  protocol proto = protocol::tcp;
  std::string ip;            ///< our global IPv6 address, numeric
  uint16_t port = 0;
  uint16_t id = 0;           ///< the gateway's UniqueID for it
  std::chrono::seconds lease{0};
  method via = method::none;
};

/// Longest lease IGD2's AddPinhole takes (its LeaseTime is 1..86400 s).
inline constexpr std::chrono::seconds max_pinhole_lease{86400};

/// Checks a pinhole answer: `unique_id` (a string from the network) must be a decimal
/// 0..65535 (IGD2's ui2), `ip` a global IPv6 literal (not loopback, link-local, unique-local,
/// multicast, unspecified or IPv4-mapped), `port` nonzero and `lease` 1..max_pinhole_lease
/// (the gateway does not say what it granted: the lease asked stands). errc::malformed with
/// the reason otherwise.
result<pinhole> check_pinhole_answer(protocol proto, std::string_view ip, uint16_t port,
                                     std::string_view unique_id, std::chrono::seconds lease,
                                     method via);

/// True for a numeric IPv6 address a pinhole can be asked for (global, as check_pinhole_answer
/// requires).
bool pinhole_address(std::string_view ip) noexcept;

/// Longest lease dtt asks for and accepts as granted: RFC 6886 §3.3 recommends 7200 s.
inline constexpr std::chrono::seconds max_lease{7200};

/// Checks what a gateway answered for a request for `internal_port`: `external_ip` must be a
/// numeric IPv4 address that is neither unspecified, loopback, multicast nor broadcast;
/// `external_port` 1..65535; `lease_seconds` 0..max_lease (0 means as `asked`, UPnP's
/// "permanent"; a granted lease under 10 s is refused: it could not be renewed in time).
/// Every field comes from the network: errc::malformed with the reason otherwise.
result<mapping> check_answer(protocol proto, uint16_t internal_port, std::string_view external_ip,
                             long long external_port, long long lease_seconds,
                             std::chrono::seconds asked, method via);

/// When to renew a mapping and when to try again after a failure.
class schedule {
public:
  using clock = std::chrono::steady_clock;
  /// Tunables.
  struct config {
    /// Renew at this fraction of the granted lease (RFC 6886 §3.7: renew at half the lease).
    double renew_at = 0.5;
    /// First retry after a failure, doubled on each further failure up to retry_max (dtt's
    /// choice: a router that comes up later is found within minutes; RFC 6886 §3.1 backs off
    /// similarly for lost requests).
    std::chrono::milliseconds retry_min{30000};
    std::chrono::milliseconds retry_max{std::chrono::minutes(30)};
    /// Shortest wait before a renewal (a gateway granting tiny leases cannot make us spin).
    std::chrono::milliseconds min_wait{5000};
  };
  schedule() = default;
  /// With tunables.
  explicit schedule(config cfg) : cfg_(cfg) {}
  /// A mapping was made or renewed at `now` for `lease`: the next action is its renewal.
  void succeeded(clock::time_point now, std::chrono::seconds lease);
  /// An attempt failed at `now`: the next one after the current back-off (which then doubles).
  void failed(clock::time_point now);
  /// When to act next.
  clock::time_point next() const noexcept { return next_; }
  /// Consecutive failures since the last success.
  unsigned failures() const noexcept { return failures_; }

private:
  config cfg_;
  clock::time_point next_{};
  unsigned failures_ = 0;
};

} // namespace dtt::nat
