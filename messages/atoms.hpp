#pragma once

#include "dtt/actors.hpp" // the public atoms

#include <caf/atom.hpp>

/// Atoms of dtt's actor vocabulary (CAF 0.17.6: atoms are 10-character constants).
namespace dtt {

// DHT actor
using get_mutable_atom = caf::atom_constant<caf::atom("dgetmut")>;
using put_mutable_atom = caf::atom_constant<caf::atom("dputmut")>;
using get_immutable_atom = caf::atom_constant<caf::atom("dgetimm")>;
using put_immutable_atom = caf::atom_constant<caf::atom("dputimm")>;
using dht_stats_atom = caf::atom_constant<caf::atom("dstats")>;

// gossip actor
using add_addresses_atom = caf::atom_constant<caf::atom("gaddaddr")>;
using local_addresses_atom = caf::atom_constant<caf::atom("glocaddr")>;
using gossip_event_atom = event_atom;
using subscribe_neighbors_atom = caf::atom_constant<caf::atom("gsubnbrs")>;
using snapshot_atom = caf::atom_constant<caf::atom("gsnapshot")>;
using gossip_stats_atom = caf::atom_constant<caf::atom("gstats")>;

// tracker
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using get_records_atom = caf::atom_constant<caf::atom("rgetrec")>;
using publish_record_atom = caf::atom_constant<caf::atom("rpubrec")>;

// reachability (issue 15): to the directory, which publishes the endpoint record
using external_address_atom = caf::atom_constant<caf::atom("rextaddr")>;
using port_mapped_atom = caf::atom_constant<caf::atom("rportmap")>;

} // namespace dtt

namespace dtt {

// tracker internals
using hashes_atom = caf::atom_constant<caf::atom("thashes")>;
using next_event_atom = caf::atom_constant<caf::atom("tnextev")>;
using watch_atom = caf::atom_constant<caf::atom("twatch")>;
using join_notify_atom = caf::atom_constant<caf::atom("tjoinntf")>;
using isolated_atom = caf::atom_constant<caf::atom("tisolated")>;
using wake_atom = caf::atom_constant<caf::atom("twake")>;
using bootstrap_done_atom = caf::atom_constant<caf::atom("tbootdone")>;
using resolve_atom = caf::atom_constant<caf::atom("tresolve")>;
using stats_atom = caf::atom_constant<caf::atom("tstats")>;

using retry_put_atom = caf::atom_constant<caf::atom("tretryput")>;
using peer_addresses_atom = caf::atom_constant<caf::atom("tpeeraddr")>;

} // namespace dtt
