#pragma once

// The cluster actor (include/dtt/cluster.hpp): a thin CAF actor around the sans-IO membership
// (cluster/membership.hpp). It gossips the records over the cluster topic, connects CAF's
// middleman (the OpenSSL one) to every member it learns of, watches the links, resolves the
// published names of connected members into actor handles and tells subscribers.

#include "cluster/membership.hpp"
#include "dtt/cluster.hpp"

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

namespace dtt {

/// Asks a member's cluster actor for its actor published under a name: (resolve, name) →
/// caf::actor.
using cluster_resolve_atom = caf::atom_constant<caf::atom("cresolve")>;
/// (hello, id, incarnation): the member that opened a link tells the other end who it is.
using cluster_hello_atom = caf::atom_constant<caf::atom("chello")>;
/// (ping) → true: asks a silent member over its link whether it is alive.
using cluster_ping_atom = caf::atom_constant<caf::atom("cping")>;
/// Makes the cluster actor announce its goodbye and quit.
using cluster_leave_atom = caf::atom_constant<caf::atom("cleave")>;

/// What the cluster actor starts from.
struct cluster_actor_args {
  crypto::signing_key key;
  bytes32 cluster_id{};
  uint64_t incarnation = 0;
  cluster_core::membership_options membership;
  topic_actor topic;
  std::vector<socket_address> advertise; ///< the middleman's addresses (port filled in)
};

/// Spawns the cluster actor (dynamically typed; actor_cast it to dtt::cluster_actor). It does
/// not publish itself: the caller publishes it on the OpenSSL middleman and then sends
/// (cluster_start_atom, addresses). Members call each other's cluster actors with
/// (cluster_resolve_atom, name) → actor and (cluster_hello_atom, id, incarnation) → bool.
caf::actor spawn_cluster_actor(caf::actor_system& sys, cluster_actor_args args);

/// Starts announcing, with the middleman's final addresses.
using cluster_start_atom = caf::atom_constant<caf::atom("cstart")>;

} // namespace dtt
