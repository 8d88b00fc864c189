#pragma once

// Gateways that open ports for us (issue 15): UPnP-IGD through Debian's miniupnpc, NAT-PMP
// through libnatpmp, and PCP through our own client (nat/pcp.hpp). Every call blocks for at most its deadline (miniupnpc's SOAP calls: its
// own 3 s socket timeouts): call them from a thread of their own, never from an actor or the
// io thread. Every answer passes nat::check_answer.

#include "crypto/bytes.hpp"
#include "nat/port_mapping.hpp"

#include <chrono>
#include <memory>
#include <string>

namespace dtt::nat {

/// A router that answered discovery.
class gateway {
public:
  virtual ~gateway() = default;
  /// How it maps.
  virtual method kind() const noexcept = 0;
  /// "UPnP IGD at http://10.1.0.1:5000/rootDesc.xml" or "NAT-PMP gateway 10.1.0.1".
  virtual std::string describe() const = 0;
  /// Asks for `external_port` (0: the gateway chooses, or the internal port) forwarded to our
  /// `internal_port` for `lease`. The mapping granted, or why not.
  virtual result<mapping> add(protocol proto, uint16_t internal_port, uint16_t external_port,
                              std::chrono::seconds lease) = 0;
  /// Removes a mapping made by add().
  virtual status remove(const mapping& m) = 0;
  /// Opens an IPv6 pinhole to our `ip`:`port` for `lease` (UPnP IGD2 only: errc::refused from
  /// a gateway that has no IPv6 firewall control, NAT-PMP's included).
  virtual result<pinhole> open_pinhole(protocol proto, const std::string& ip, uint16_t port,
                                       std::chrono::seconds lease);
  /// Extends a pinhole opened by open_pinhole() to `lease` from now.
  virtual status renew_pinhole(const pinhole& h, std::chrono::seconds lease);
  /// Closes a pinhole opened by open_pinhole().
  virtual status close_pinhole(const pinhole& h);
};

/// Looks for a UPnP Internet Gateway Device (SSDP multicast on the LAN), waiting at most
/// `timeout` for answers. errc::unreachable when none answered.
result<std::unique_ptr<gateway>> discover_upnp(std::chrono::milliseconds timeout);

/// The same over IPv6 (SSDP to ff02::c): the gateway for IPv6 pinholes, whose requests must
/// come from the address they open (miniupnpd's secure mode compares them).
result<std::unique_ptr<gateway>> discover_upnp6(std::chrono::milliseconds timeout);

/// Asks the default gateway for its NAT-PMP public address (RFC 6886 §3.2), waiting at most
/// `timeout`. errc::unreachable when it does not answer.
result<std::unique_ptr<gateway>> discover_natpmp(std::chrono::milliseconds timeout);

/// Asks the default gateway's PCP server (RFC 6887, UDP port 5351) to announce itself, waiting
/// at most `timeout`. errc::unreachable without a default gateway or when the gateway says
/// nothing listens on port 5351 (ICMP port unreachable: no NAT-PMP server either, it shares the
/// port), errc::refused when it answered in NAT-PMP (ask it by NAT-PMP), errc::timeout when
/// nothing answered (a NAT-PMP server that ignores other versions may still be there).
/// `nonce_key` derives each mapping's nonce (keyed hash of it with the protocol and internal
/// port): the same node asks with the same nonce after a restart or a new discovery, as PCP
/// servers require to renew or delete a mapping it made. All zero: random nonces, kept by the
/// gateway object only.
result<std::unique_ptr<gateway>> discover_pcp(std::chrono::milliseconds timeout,
                                              const bytes32& nonce_key = {});

} // namespace dtt::nat
