#pragma once

// The actor interfaces of dtt's public API, for callers inside a caf::actor_system: the atoms,
// the typed topic actor (dtt::topic::handle()) and the typed subscriber that receives a topic's
// events as messages.

#include "dtt/events.hpp"

#include <caf/atom.hpp>
#include <caf/meta/load_callback.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <vector>

namespace dtt {

// CAF 0.17.6 atoms (at most 10 characters).
using broadcast_atom = caf::atom_constant<caf::atom("gbcast")>;
using broadcast_neighbors_atom = caf::atom_constant<caf::atom("gbcastn")>;
using join_peers_atom = caf::atom_constant<caf::atom("gjoin")>;
using neighbors_atom = caf::atom_constant<caf::atom("gnbrs")>;
using subscribe_atom = caf::atom_constant<caf::atom("gsub")>;
using unsubscribe_atom = caf::atom_constant<caf::atom("gunsub")>;
using await_joined_atom = caf::atom_constant<caf::atom("tawaitj")>;
/// Tags an event sent to a subscriber.
using event_atom = caf::atom_constant<caf::atom("gevent")>;

/// Receives a topic's events as (event_atom, topic id, event): the topic id is topic::id().
/// Events go to a subscriber as they happen (its mailbox is the buffer: a subscriber that
/// cannot keep up grows it; dtt::topic::next() is the bounded alternative).
using event_subscriber = caf::typed_actor<caf::reacts_to<event_atom, bytes32, event>>;

/// The typed interface of a topic (dtt::topic::handle()), for callers inside actors:
/// - (broadcast_atom, content) → true: handed to the gossip layer for the whole topic; errors:
///   errc::too_large (over config::max_message_size), errc::busy (a peer's send queue is half
///   full: retry later), errc::closed (the topic or runtime has stopped).
/// - (broadcast_neighbors_atom, content) → true: to the direct neighbours only; same errors.
/// - (join_peers_atom, ids) → true once handed over (addresses resolved through the DHT).
/// - (neighbors_atom) → the current neighbours.
/// - (subscribe_atom, subscriber) → the current neighbours; from then on every event of the
///   topic goes to `subscriber` until (unsubscribe_atom, subscriber) or until it terminates.
/// - (await_joined_atom) → true once the topic has a neighbour (answers when that happens).
using topic_actor = caf::typed_actor<
  caf::replies_to<broadcast_atom, bytes>::with<bool>,
  caf::replies_to<broadcast_neighbors_atom, bytes>::with<bool>,
  caf::replies_to<join_peers_atom, std::vector<endpoint_id>>::with<bool>,
  caf::replies_to<neighbors_atom>::with<std::vector<endpoint_id>>,
  caf::replies_to<subscribe_atom, event_subscriber>::with<std::vector<endpoint_id>>,
  caf::reacts_to<unsubscribe_atom, event_subscriber>,
  caf::replies_to<await_joined_atom>::with<bool>>;

// inspect() overloads that make the public types CAF message types (found by ADL).

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, delivery_scope& x) {
  return f(caf::meta::type_name("dtt.delivery_scope"), x.k, x.round);
}

// A payload goes over the wire (CAF's serialization, to_string) as its bytes.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, payload& x) {
  bytes tmp = x.to_bytes();
  return f(tmp, caf::meta::load_callback([&]() -> caf::error {
             x = payload(std::move(tmp));
             return caf::none;
           }));
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, event& x) {
  return f(caf::meta::type_name("dtt.event"), x.k, x.peer, x.content, x.scope, x.lagged);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, socket_address& x) {
  return f(caf::meta::type_name("dtt.socket_address"), x.ip, x.port);
}

} // namespace dtt
