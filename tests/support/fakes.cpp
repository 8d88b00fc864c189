#include "support/fakes.hpp"

#include "crypto/hash.hpp"
#include "crypto/record.hpp"
#include "gossip/wire.hpp"
#include "messages/errors.hpp"

#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <optional>

namespace dtt::test {

namespace {

gossip::event up_down(bool up, const gossip::endpoint_id& peer) {
  gossip::event ev;
  ev.k = up ? gossip::event::kind::neighbor_up : gossip::event::kind::neighbor_down;
  ev.peer = peer;
  return ev;
}

void emit(fake_gossip_net::member& m, const gossip::topic_id& topic, const gossip::event& ev) {
  if (ev.k == gossip::event::kind::received) { // what the real actor keeps for snapshots
    m.recent.push_back(ev.content.to_bytes());
    if (m.recent.size() > crypto::max_message_hashes)
      m.recent.erase(m.recent.begin());
  }
  for (auto& s : m.subscribers) {
    if (!s.messages && ev.k != gossip::event::kind::neighbor_up
        && ev.k != gossip::event::kind::neighbor_down)
      continue;
    if (s.sink)
      s.sink->push(ev);
    else
      caf::anon_send(s.actor, gossip_event_atom::value, topic, ev);
  }
}

// Subscribes, telling the new subscriber about the current neighbours as the real actor does
// (neighbor_up events for a late subscriber).
std::vector<gossip::endpoint_id> subscribe(fake_gossip_net& net, const gossip::topic_id& topic,
                                           const gossip::endpoint_id& self_id,
                                           fake_gossip_net::subscriber sub) {
  std::lock_guard<std::recursive_mutex> guard{net.mtx};
  auto& me = net.members[{topic, self_id}];
  me.subscribers.push_back(sub);
  fake_gossip_net::member one;
  one.subscribers.push_back(sub);
  for (auto& n : me.neighbors)
    emit(one, topic, up_down(true, n));
  return std::vector<gossip::endpoint_id>(me.neighbors.begin(), me.neighbors.end());
}

// Removes the subscribers `match` selects; the member leaves the topic with its last one.
template <class Match>
void unsubscribe(fake_gossip_net& net, const gossip::topic_id& topic,
                 const gossip::endpoint_id& self_id, Match match) {
  std::lock_guard<std::recursive_mutex> guard{net.mtx};
  auto& subs = net.members[{topic, self_id}].subscribers;
  subs.erase(std::remove_if(subs.begin(), subs.end(), match), subs.end());
  if (subs.empty())
    net.isolate(topic, self_id);
}


// The real gossip actor's refusals of a broadcast (gossip::protocol::do_broadcast): content
// over the max content size, then a topic this node has not joined.
std::optional<caf::error> check_broadcast(fake_gossip_net& net, const gossip::topic_id& topic,
                                          const gossip::endpoint_id& self_id,
                                          const payload& content) {
  if (content.size() > net.max_content_size())
    return caf::make_error(errc::too_large, "gossip broadcast larger than the max message size");
  auto me = net.members.find({topic, self_id});
  if (me == net.members.end() || me->second.subscribers.empty())
    return caf::make_error(errc::closed, "gossip topic not joined");
  return std::nullopt;
}

// The fake's broadcast: the real actor's refusals (check_broadcast), then breadth-first
// delivery (swarm) or to direct neighbours only.
caf::result<bool> fake_broadcast(fake_gossip_net& net, const gossip::topic_id& topic,
                                 const gossip::endpoint_id& self_id, const payload& content,
                                 bool neighbors_only) {
  std::lock_guard<std::recursive_mutex> guard{net.mtx};
  if (auto refused = check_broadcast(net, topic, self_id, content))
    return std::move(*refused);
  if (neighbors_only) {
    auto& me = net.members[{topic, self_id}];
    gossip::event ev;
    ev.k = gossip::event::kind::received;
    ev.peer = self_id;
    ev.content = content;
    ev.scope.k = gossip::delivery_scope::kind::neighbors;
    for (auto& n : me.neighbors)
      emit(net.members[{topic, n}], topic, ev);
    return true;
  }
  // Like PlumTree: every member connected to us hears it once, from the neighbour that passed
  // it on (breadth first).
  std::set<gossip::endpoint_id> seen{self_id};
  std::vector<gossip::endpoint_id> frontier{self_id};
  while (!frontier.empty()) {
    std::vector<gossip::endpoint_id> next;
    for (auto& from : frontier)
      for (auto& n : net.members[{topic, from}].neighbors) {
        if (!seen.insert(n).second)
          continue;
        gossip::event ev;
        ev.k = gossip::event::kind::received;
        ev.peer = from;
        ev.content = content;
        emit(net.members[{topic, n}], topic, ev);
        next.push_back(n);
      }
    frontier = std::move(next);
  }
  return true;
}

} // namespace

void fake_gossip_net::isolate(const gossip::topic_id& topic, const gossip::endpoint_id& id) {
  std::lock_guard<std::recursive_mutex> guard{mtx};
  auto& me = members[{topic, id}];
  for (auto& n : me.neighbors) {
    auto& other = members[{topic, n}];
    other.neighbors.erase(id);
    emit(other, topic, up_down(false, id));
    emit(me, topic, up_down(false, n));
  }
  me.neighbors.clear();
}

dht_actor spawn_fake_dht(caf::actor_system& sys, std::shared_ptr<fake_dht_store> store) {
  // The state goes in as an argument: CAF 0.17.6 dereferences a null argument tuple for
  // functions spawned without arguments (UBSan reports it).
  return sys.spawn([](std::shared_ptr<fake_dht_store> store) -> dht_actor::behavior_type {
    return {
      [store](get_mutable_atom, const bytes32& key, const bytes& salt, caf::timespan) {
        std::lock_guard<std::mutex> guard{store->mtx};
        ++store->gets;
        return store->items[crypto::bep44::mutable_target(key, salt)];
      },
      [store](put_mutable_atom, const dht::mutable_item& item,
              int64_t) -> caf::result<dht::put_outcome> {
        std::lock_guard<std::mutex> guard{store->mtx};
        ++store->puts;
        // As the real actor: an item that does not verify is refused before any traffic
        // (too_large, bad_signature), and a put no node answered fails with unreachable.
        if (auto v = item.verify(); !v)
          return to_caf_error(v.err());
        if (store->fail_puts)
          return caf::make_error(errc::unreachable, "no DHT node answered the put");
        dht::put_outcome o;
        o.stored = store->puts <= store->acks.size() ? store->acks[store->puts - 1] : 8;
        if (o.stored > 0)
          store->items[item.target()].push_back(item);
        return o;
      },
      [](get_immutable_atom, const byte_array<20>&, caf::timespan) { return bytes{}; },
      [](put_immutable_atom, const bytes&) { return byte_array<20>{}; },
      [store](dht_stats_atom) {
        return std::map<std::string, uint64_t>{{"gets", store->gets}, {"puts", store->puts}};
      },
    };
  }, store);
}

gossip_actor spawn_fake_gossip(caf::actor_system& sys, std::shared_ptr<fake_gossip_net> net,
                               gossip::endpoint_id self_id) {
  return sys.spawn([](std::shared_ptr<fake_gossip_net> net,
                      gossip::endpoint_id self_id) -> gossip_actor::behavior_type {
    return {
      [=](subscribe_atom, const gossip::topic_id& topic, const bytes32&, gossip_subscriber s) {
        return subscribe(*net, topic, self_id, {s, nullptr, true});
      },
      [=](subscribe_atom, const gossip::topic_id& topic, const bytes32&,
          std::shared_ptr<event_sink> sink) {
        return subscribe(*net, topic, self_id, {gossip_subscriber{}, sink, true});
      },
      [=](subscribe_neighbors_atom, const gossip::topic_id& topic, const bytes32&,
          gossip_subscriber s) {
        return subscribe(*net, topic, self_id, {s, nullptr, false});
      },
      [=](unsubscribe_atom, const gossip::topic_id& topic, gossip_subscriber s) {
        unsubscribe(*net, topic, self_id,
                    [&](const fake_gossip_net::subscriber& x) { return x.actor == s; });
      },
      [=](unsubscribe_atom, const gossip::topic_id& topic, std::shared_ptr<event_sink> sink) {
        unsubscribe(*net, topic, self_id,
                    [&](const fake_gossip_net::subscriber& x) { return x.sink == sink; });
      },
      [=](snapshot_atom, const gossip::topic_id& topic) {
        std::lock_guard<std::recursive_mutex> guard{net->mtx};
        auto& me = net->members[{topic, self_id}];
        std::vector<bytes32> hashes;
        for (auto& c : me.recent)
          hashes.push_back(crypto::sha512_32({c}));
        return caf::make_result(
          std::vector<gossip::endpoint_id>(me.neighbors.begin(), me.neighbors.end()), hashes);
      },
      [=](join_peers_atom, const gossip::topic_id& topic, std::vector<gossip::endpoint_id> ids) {
        std::lock_guard<std::recursive_mutex> guard{net->mtx};
        ++net->joins;
        auto& me = net->members[{topic, self_id}];
        if (me.subscribers.empty())
          return false; // as the real actor: subscribe first
        for (auto& id : ids) {
          auto i = net->members.find({topic, id});
          if (id == self_id || i == net->members.end() || i->second.subscribers.empty())
            continue;
          if (me.neighbors.insert(id).second) {
            i->second.neighbors.insert(self_id);
            emit(me, topic, up_down(true, id));
            emit(i->second, topic, up_down(true, self_id));
          }
        }
        return true;
      },
      [=](broadcast_atom, const gossip::topic_id& topic, const payload& content) {
        return fake_broadcast(*net, topic, self_id, content, false);
      },
      [=](broadcast_neighbors_atom, const gossip::topic_id& topic, const payload& content) {
        return fake_broadcast(*net, topic, self_id, content, true);
      },
      [=](broadcast_atom, const gossip::topic_id& topic, const payload& content, caf::timespan) {
        return fake_broadcast(*net, topic, self_id, content, false);
      },
      [=](broadcast_neighbors_atom, const gossip::topic_id& topic, const payload& content,
          caf::timespan) {
        return fake_broadcast(*net, topic, self_id, content, true);
      },
      [=](neighbors_atom, const gossip::topic_id& topic) {
        std::lock_guard<std::recursive_mutex> guard{net->mtx};
        auto& me = net->members[{topic, self_id}];
        return std::vector<gossip::endpoint_id>(me.neighbors.begin(), me.neighbors.end());
      },
      [=](add_addresses_atom, const gossip::endpoint_id& id,
          std::vector<gossip::socket_address>& addrs) {
        std::lock_guard<std::recursive_mutex> guard{net->mtx};
        net->addresses[self_id][id] = std::move(addrs);
      },
      [](local_addresses_atom) { return std::vector<gossip::socket_address>{}; },
      // The fake counts nothing it could report truthfully under the real actor's names (no
      // actor messages, frames or copies): an empty map, and no test reads it.
      [](gossip_stats_atom) { return std::map<std::string, uint64_t>{}; },
    };
  }, net, self_id);
}

} // namespace dtt::test
