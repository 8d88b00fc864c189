#pragma once

// The thread that keeps our ports mapped (issue 15): discovers a gateway (UPnP-IGD, then
// NAT-PMP, as `mode` says), maps each requested port, renews each lease at half its life,
// retries with back-off after failures, and removes the mappings at stop. Its blocking calls
// (miniupnpc, libnatpmp) run here, never on an actor or io thread; every one has a deadline.

#include "nat/gateway.hpp"
#include "nat/port_mapping.hpp"

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace dtt::nat {

/// What the mapper knows, for status pages and the endpoint record.
struct mapper_state {
  mode wanted = mode::off;
  std::string gateway;             ///< describe() of the gateway in use; empty: none
  std::vector<mapping> mappings;   ///< in force now
  std::vector<pinhole> pinholes;   ///< IPv6 pinholes open now
  std::string last_error;          ///< the last failure, with its reason
  /// Counters (mappings and pinholes together).
  uint64_t mapped = 0, renewed = 0, failed = 0, removed = 0;
};

/// Options of a port_mapper.
struct mapper_options {
  mode wanted = mode::automatic;
  /// Ports to map (protocol, internal port); the external port asked is the same number.
  std::vector<std::pair<protocol, uint16_t>> ports;
  /// IPv6 pinholes to open (UPnP IGD2): our global IPv6 addresses and ports. A gateway that
  /// cannot open them (NAT-PMP, an IGD without IPv6 firewall control) leaves them closed;
  /// the mappings do not depend on them.
  struct pinhole_wish {
    protocol proto = protocol::tcp;
    std::string ip;
    uint16_t port = 0;
  };
  std::vector<pinhole_wish> pinholes;
  /// Lease asked for (RFC 6886 §3.3 recommends 7200 s; dtt asks 1 h so that a crashed node's
  /// mappings go away sooner); pinholes too.
  std::chrono::seconds lease{3600};
  /// Discovery wait per protocol (UPnP SSDP answers; NAT-PMP's first exchanges).
  std::chrono::milliseconds discover_timeout{2000};
  /// Bound on stop(): removals still running then are abandoned (the leases expire).
  std::chrono::milliseconds stop_timeout{1500};
  schedule::config timing{};
  /// Derives PCP mapping nonces (discover_pcp): set from the node's key, so that a restarted
  /// node renews or deletes the mappings it made before; all zero: random per discovery.
  bytes32 pcp_nonce_key{};
  /// Gateways to try, for tests (default: discover_upnp / discover_pcp / discover_natpmp).
  std::function<result<std::unique_ptr<gateway>>(method, std::chrono::milliseconds)> discover;
  /// The gateway for pinholes (default: discover_upnp6 when `wanted` is upnp or automatic); when none
  /// answers, pinholes are asked of the IPv4 gateway.
  std::function<result<std::unique_ptr<gateway>>(std::chrono::milliseconds)> discover_pinholes;
};

/// Runs a thread that keeps the ports mapped. `on_change` is called on that thread whenever
/// the mappings in force change (made, lost); it must not block.
class port_mapper {
public:
  port_mapper(mapper_options opts, std::function<void(const mapper_state&)> on_change);
  /// stop().
  ~port_mapper();
  port_mapper(const port_mapper&) = delete;
  port_mapper& operator=(const port_mapper&) = delete;

  /// Removes the mappings (within stop_timeout) and ends the thread; with nothing mapped it
  /// does not wait for a discovery in progress (the thread ends on its own). Idempotent.
  void stop();
  /// Starts the removal without waiting (stop() then waits for it).
  void begin_stop();
  /// A copy of the current state.
  mapper_state state() const;

  struct shared;

private:
  std::shared_ptr<shared> s_;
  std::thread thread_;
};

} // namespace dtt::nat
