#pragma once

// Per-peer redial back-off (issue 17), the part without I/O. The transport dials a peer when it
// has something to send and no link; when each new link closes again soon (the peer keeps
// retiring it, or loss kills every handshake), that would redial at link-setup speed. The 1-hour
// soak saw an honest node do that more than 40 times in 2 s, until the peer's per-IP handshake
// budget refused it (a warning on the peer, and traffic held up on both sides).
//
// Rule: the first `free_dials` dials to a peer go out at once; each further one waits
// `first`, then twice as long, up to `max`. A link to the peer that stays up for `stable`
// clears its history, and so does `forget` without any dial. At most `max_keys` peers are
// tracked (the one dialled least recently is forgotten first), so a flood of peer ids cannot
// grow the table.

#include "dtt/events.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>

namespace dtt::net {

class redial_backoff {
public:
  using clock = std::chrono::steady_clock;
  struct config {
    uint32_t free_dials = 3;
    std::chrono::milliseconds first{100};
    std::chrono::milliseconds max{10000};
    std::chrono::milliseconds stable{10000};
    std::chrono::milliseconds forget{60000};
    size_t max_keys = 4096;
  };
  redial_backoff() : redial_backoff(config{}) {}
  explicit redial_backoff(config cfg) : cfg_(cfg) {}

  /// When a dial to `peer` may start: `now` or later.
  clock::time_point allowed_at(const endpoint_id& peer, clock::time_point now) const;
  /// A dial to `peer` starts at `now`.
  void dialed(const endpoint_id& peer, clock::time_point now);
  /// A link to `peer` that had been up for `lived` ended.
  void link_ended(const endpoint_id& peer, clock::duration lived);
  /// Peers tracked.
  size_t size() const noexcept { return peers_.size(); }

private:
  struct entry {
    uint32_t dials = 0;         // since the history was last cleared
    clock::time_point last{};   // the last dial
    clock::time_point next{};   // the next dial may start then
  };
  bool forgotten(const entry& e, clock::time_point now) const { return now - e.last >= cfg_.forget; }

  config cfg_;
  std::map<endpoint_id, entry> peers_;
};

/// One of two links to the same peer, as duplicate settlement sees it.
struct link_view {
  bool outbound = false; ///< we dialed it
  uint64_t serial = 0;   ///< higher is newer (per node)
  bool writable = true;  ///< established and not saying goodbye
};

/// Two links to one peer: true if the new one stays (the old one is retired). Both sides
/// compute alike: the link dialed by the smaller endpoint id stays, and of two dialed by the
/// same side, the newer. But an old link already saying goodbye never stays: the peer may have
/// finished that exchange and hold no other link to us, and would redial each time we retired
/// its new one (issue 17: 43 redials in 150 ms in the stress runs).
bool keep_new_link(bool we_are_smaller, const link_view& fresh, const link_view& old);

} // namespace dtt::net
