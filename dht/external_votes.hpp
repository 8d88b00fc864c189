#pragma once

#include "dht/node_id.hpp"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>

namespace dtt::dht {

/// Our external address as DHT responders see it (issue 15), decided by majority of distinct
/// responders from the BEP 42 "ip" field of their responses. Sans-IO and hostile-input safe:
///
/// - one vote per responder IP (a later vote from the same IP, any port, replaces its earlier
///   one), so a single host cannot outvote others by answering often or from many ports;
/// - at most `max_voters` votes per address family, oldest dropped first;
/// - an address is adopted once it has `min_votes` votes and a strict majority of the table;
/// - a decided address changes only on a clear new majority: the newcomer needs a strict
///   majority and `min_votes` more votes than the current one (hysteresis, so that a table
///   near 50/50 does not flip back and forth);
/// - a report of another family than its voter's, or of an unspecified address or port 0, is
///   ignored.
///
/// IPv4 and IPv6 are decided separately.
class external_votes {
public:
  /// Tunables (defaults: libtorrent's ip_voter keeps a similar bounded table; dtt's choice of
  /// 32 voters and 3 votes, as dht::node_config had before issue 15).
  struct config {
    size_t max_voters = 32; ///< votes kept per family
    size_t min_votes = 3;   ///< distinct voters an address needs
  };

  /// What one vote did.
  enum class outcome : uint8_t {
    ignored,  ///< malformed or mismatched report: not counted
    counted,  ///< counted; the decision did not change
    changed,  ///< counted; the decided address of that family changed (or was first decided)
  };

  external_votes() = default;
  /// With tunables (max_voters and min_votes are raised to at least 1).
  explicit external_votes(config cfg);

  /// Counts `voter` (a responder) reporting `reported` as our address.
  outcome vote(const endpoint& voter, const endpoint& reported);

  /// The decided address of `family` (4 or 6), with the port most of its voters reported
  /// (ties: the lowest), or nothing while undecided.
  std::optional<endpoint> current(uint8_t family = 4) const;
  /// Votes held for `family`.
  size_t voters(uint8_t family = 4) const noexcept;
  /// Votes held for the address of `addr` (its port ignored).
  size_t votes_for(const endpoint& addr) const;

  /// Counters: votes counted, reports ignored, changes of a decided address.
  uint64_t counted() const noexcept { return counted_; }
  uint64_t ignored() const noexcept { return ignored_; }
  uint64_t changes() const noexcept { return changes_; }

private:
  struct vote_entry {
    endpoint voter;    ///< voter IP, port 0
    endpoint reported; ///< reported address, port kept
  };
  struct table {
    std::deque<vote_entry> votes; ///< oldest first, one per voter IP
    std::optional<endpoint> decided; ///< IP only (port 0)
  };
  table& of(uint8_t family) noexcept { return family == 6 ? v6_ : v4_; }
  const table& of(uint8_t family) const noexcept { return family == 6 ? v6_ : v4_; }
  static size_t count(const table& t, const endpoint& ip);
  bool decide(table& t);

  config cfg_;
  table v4_, v6_;
  uint64_t counted_ = 0, ignored_ = 0, changes_ = 0;
};

} // namespace dtt::dht
