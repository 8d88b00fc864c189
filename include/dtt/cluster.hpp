#pragma once

// Zero-configuration CAF clusters (docs/CLUSTER.md): processes that share a cluster name and a
// secret find each other through dtt (the DHT and a gossip topic), connect CAF's middleman to
// each other over TLS links only members can open, and look each other's actors up by name.
//
//   dtt::system_config cfg;
//   auto creds = dtt::prepare_cluster(cfg, "jobs", secret, "/run/me/cluster"); // before...
//   caf::actor_system sys{cfg};                                                // ...this
//   auto rt = dtt::runtime::start(sys, key, opts);
//   auto cl = dtt::cluster::join(**rt, "jobs", secret);
//   (*cl)->publish("worker", my_worker);
//   auto workers = (*cl)->lookup("worker"); // every live member's "worker"

#include "dtt/actors.hpp"
#include "dtt/config.hpp"
#include "dtt/errors.hpp"
#include "dtt/events.hpp"

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace dtt {

class runtime;

// CAF 0.17.6 atoms of the cluster actor.
using cluster_publish_atom = caf::atom_constant<caf::atom("cpublish")>;
using cluster_unpublish_atom = caf::atom_constant<caf::atom("cunpublish")>;
using cluster_lookup_atom = caf::atom_constant<caf::atom("clookup")>;
using cluster_members_atom = caf::atom_constant<caf::atom("cmembers")>;
/// Tags an event sent to a cluster subscriber.
using cluster_event_atom = caf::atom_constant<caf::atom("cevent")>;

/// A live member of the cluster, as its signed record describes it.
struct cluster_member {
  endpoint_id id{};                      ///< its endpoint id (the runtime's node key)
  uint64_t incarnation = 0;              ///< grows when the member restarts
  std::string node;                      ///< its CAF node id (caf::to_string)
  std::vector<socket_address> addresses; ///< where its middleman accepts TLS links
  std::vector<std::string> names;        ///< the actor names it publishes
  bool self = false;                     ///< this process
};

/// What a cluster subscriber receives.
struct cluster_event {
  enum class kind : uint8_t { member_up, member_down, actor_up, actor_down };
  kind k = kind::member_up;
  endpoint_id member{};     ///< the member concerned
  uint64_t incarnation = 0; ///< its incarnation
  std::string name;         ///< actor_up / actor_down: the published name
  caf::actor actor;         ///< actor_up: the handle (remote: a proxy over the TLS link)
};

/// A short printable name of a cluster event kind.
inline const char* to_string(cluster_event::kind k) noexcept {
  switch (k) {
    case cluster_event::kind::member_up: return "member_up";
    case cluster_event::kind::member_down: return "member_down";
    case cluster_event::kind::actor_up: return "actor_up";
    case cluster_event::kind::actor_down: return "actor_down";
  }
  return "unknown";
}

/// Receives (cluster_event_atom, event) for every member and actor that comes or goes.
using cluster_subscriber = caf::typed_actor<caf::reacts_to<cluster_event_atom, cluster_event>>;

/// The typed interface of the cluster actor (dtt::cluster::handle()), for callers inside
/// actors:
/// - (cluster_publish_atom, name, actor) → true: `actor` is published under `name` to every
///   member (errc::invalid_argument for a bad name, errc::too_large past the record limits);
///   unpublished when it terminates.
/// - (cluster_unpublish_atom, name) → true (false when it was not published).
/// - (cluster_lookup_atom, name) → the handles of every live member's actor of that name,
///   this process's own included.
/// - (cluster_members_atom) → the live members, this one first.
/// - (subscribe_atom, subscriber) → the live members; from then on every event goes to
///   `subscriber` until (unsubscribe_atom, subscriber) or until it terminates.
using cluster_actor = caf::typed_actor<
  caf::replies_to<cluster_publish_atom, std::string, caf::actor>::with<bool>,
  caf::replies_to<cluster_unpublish_atom, std::string>::with<bool>,
  caf::replies_to<cluster_lookup_atom, std::string>::with<std::vector<caf::actor>>,
  caf::replies_to<cluster_members_atom>::with<std::vector<cluster_member>>,
  caf::replies_to<subscribe_atom, cluster_subscriber>::with<std::vector<cluster_member>>,
  caf::reacts_to<unsubscribe_atom, cluster_subscriber>>;

/// How a member runs (defaults: docs/CLUSTER.md).
struct cluster_options {
  /// Numeric address the middleman's TLS port binds to ("0.0.0.0": every interface).
  std::string bind = "0.0.0.0";
  uint16_t port = 0; ///< 0: chosen by the OS
  /// Addresses announced for the middleman; empty: `bind` when it is one address, else the
  /// IPs of the runtime's gossip addresses, with the middleman's port.
  std::vector<socket_address> advertise;
  /// Re-announce period (docs/CLUSTER.md, "Timing": 5 s).
  std::chrono::milliseconds announce_interval{5000};
  /// Silence after which a member is dropped (three missed announcements).
  std::chrono::milliseconds expiry{15000};
  /// Members kept (the rest are refused and counted).
  size_t max_members = 256;
  /// The cluster topic's tracker settings: the library's defaults except that both merges
  /// first look for a split after 10 s instead of 30 s (topic_from(); docs/CLUSTER.md,
  /// "Timing"). cluster::join always sets `hardened`: a cluster's record slots are derived
  /// from its secret (docs/HARDENED.md; every member is a dtt node).
  config topic = topic_from(config{});
  /// `base` with the cluster's shorter first merge tick (at most 10 s; docs/CLUSTER.md).
  static config topic_from(config base);
  /// A loopback member for tests and examples: binds 127.0.0.1, announces every second.
  static cluster_options loopback();
};

/// Must run before the caf::actor_system is built from `cfg`: loads CAF's middleman and
/// OpenSSL modules and writes this member's TLS credentials into `dir` (mode 0700): a fresh
/// key, its certificate signed by the cluster CA (whose key is derived from name and secret
/// and never stored) and the CA certificate, and points openssl.certificate / key / cafile
/// there, so that every middleman link of the system requires a member's certificate on both
/// ends. errc::io_error when `dir` cannot be written.
status prepare_cluster(caf::actor_system_config& cfg, std::string_view cluster_name,
                       std::string_view secret, const std::string& dir);

/// Membership in a cluster: the cluster topic, this member's record and the registry. When
/// the object goes, the member says goodbye and its actors stop.
class cluster {
public:
  /// Joins the cluster `cluster_name` on `rt` (whose actor system went through
  /// prepare_cluster with the same name and secret: errc::invalid_argument otherwise),
  /// publishes the middleman's TLS port and starts announcing. Returns at once; members show
  /// up as they are found.
  static result<std::unique_ptr<cluster>> join(runtime& rt, std::string_view cluster_name,
                                               std::string_view secret,
                                               cluster_options opts = {});
  ~cluster();
  cluster(const cluster&) = delete;
  cluster& operator=(const cluster&) = delete;

  /// Publishes `actor` under `name` (1..48 bytes of [A-Za-z0-9._:/-]).
  status publish(const std::string& name, const caf::actor& actor);
  /// Withdraws a name.
  status unpublish(const std::string& name);
  /// Every live member's actor of that name (this process's own included).
  result<std::vector<caf::actor>> lookup(const std::string& name);
  /// The live members (connected through the middleman), this one first.
  result<std::vector<cluster_member>> members();
  /// Sends every later event to `subscriber`.
  status subscribe(const cluster_subscriber& subscriber);
  /// The cluster actor, for callers inside actors.
  cluster_actor handle() const;
  /// The middleman's TLS port.
  uint16_t port() const noexcept;
  /// This member's endpoint id.
  const endpoint_id& id() const noexcept;

  struct impl;
  /// Used by join().
  explicit cluster(std::unique_ptr<impl> p);

private:
  std::unique_ptr<impl> impl_;
};

// inspect() overloads that make the cluster types CAF message types.

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_member& x) {
  return f(caf::meta::type_name("dtt.cluster_member"), x.id, x.incarnation, x.node, x.addresses,
           x.names, x.self);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_event& x) {
  return f(caf::meta::type_name("dtt.cluster_event"), x.k, x.member, x.incarnation, x.name,
           x.actor);
}

} // namespace dtt
