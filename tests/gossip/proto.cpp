// The per-node gossip state machine (gossip/proto.hpp), driven by a tiny in-test network.
#include "gossip/proto.hpp"

#include "effects_inspect.hpp"

#include <doctest/doctest.h>

#include <deque>
#include <map>
#include <stdexcept>

using namespace dtt;
using namespace dtt::gossip;
using namespace dtt::gossip::test;
using namespace std::chrono_literals;

namespace {

// Zero-latency delivery, messages in order; timers fire when time is advanced past them.
struct net {
  std::map<endpoint_id, protocol> nodes;
  std::deque<std::pair<endpoint_id, output::send>> wire; // (from, send)
  std::multimap<time_point, std::pair<endpoint_id, timer_id>> timers;
  std::map<endpoint_id, std::vector<std::pair<topic_id, event>>> events;
  std::vector<std::pair<endpoint_id, endpoint_id>> disconnects;
  time_point now{};

  protocol& add(uint8_t n) {
    return nodes.emplace(id_of(n), protocol(id_of(n), {{"127.0.0.1", uint16_t(4000 + n)}},
                                            config{}, n))
      .first->second;
  }
  void collect(const endpoint_id& who) {
    for (auto& o : nodes.at(who).take_outputs()) {
      if (auto* s = std::get_if<output::send>(&o))
        wire.emplace_back(who, *s);
      else if (auto* t = std::get_if<output::arm_timer>(&o))
        timers.emplace(t->at, std::make_pair(who, t->id));
      else if (auto* e = std::get_if<output::emit>(&o)) {
        events[who].emplace_back(e->topic, e->ev);
        events[who].back().second.content = e->payload.to_bytes();
      } else if (auto* d = std::get_if<output::disconnect>(&o))
        disconnects.emplace_back(who, d->peer);
    }
  }
  // Delivers every queued message (through the codec) until the wire is quiet.
  void settle() {
    for (auto& [id, node] : nodes)
      collect(id);
    for (int guard = 0; !wire.empty() && guard < 100000; ++guard) {
      auto [from, s] = wire.front();
      wire.pop_front();
      auto it = nodes.find(s.to);
      if (it == nodes.end())
        continue;
      REQUIRE(it->second.receive_bytes(from, encode(s.msg), now).ok());
      collect(s.to);
    }
    REQUIRE(wire.empty());
  }
  void advance(duration d) {
    auto until = now + d;
    while (!timers.empty() && timers.begin()->first <= until) {
      auto [at, what] = *timers.begin();
      timers.erase(timers.begin());
      now = at;
      nodes.at(what.first).timer_fired(what.second, now);
      settle();
    }
    now = until;
  }
  std::vector<event> received(uint8_t n) {
    std::vector<event> out;
    for (auto& [t, e] : events[id_of(n)])
      if (e.k == event::kind::received)
        out.push_back(e);
    return out;
  }
  bool saw(uint8_t n, event::kind k, uint8_t peer) {
    for (auto& [t, e] : events[id_of(n)])
      if (e.k == k && e.peer == id_of(peer))
        return true;
    return false;
  }
};

} // namespace

TEST_CASE("gossip proto: join makes both sides neighbours, a broadcast reaches the other") {
  net n;
  n.add(1).join(topic_a, {}, n.now);
  n.add(2).join(topic_a, {id_of(1)}, n.now);
  n.settle();
  CHECK(n.saw(1, event::kind::neighbor_up, 2));
  CHECK(n.saw(2, event::kind::neighbor_up, 1));
  CHECK(n.nodes.at(id_of(1)).neighbors(topic_a) == std::vector<endpoint_id>{id_of(2)});
  CHECK(n.nodes.at(id_of(2)).neighbors(topic_a) == std::vector<endpoint_id>{id_of(1)});

  bytes hello = {'h', 'i'};
  REQUIRE(n.nodes.at(id_of(1)).broadcast(topic_a, hello, n.now).ok());
  n.settle();
  auto got = n.received(2);
  REQUIRE(got.size() == 1);
  CHECK(got[0].content == hello);
  CHECK(got[0].peer == id_of(1));
  CHECK(got[0].scope == delivery_scope{delivery_scope::kind::swarm, 0});
  CHECK(n.received(1).empty()); // the sender does not receive its own message
}

TEST_CASE("gossip proto: broadcast_neighbors arrives with Neighbors scope and is not cached") {
  net n;
  n.add(1).join(topic_a, {}, n.now);
  n.add(2).join(topic_a, {id_of(1)}, n.now);
  n.settle();
  bytes c = {9, 9};
  REQUIRE(n.nodes.at(id_of(2)).broadcast_neighbors(topic_a, c, n.now).ok());
  n.settle();
  auto got = n.received(1);
  REQUIRE(got.size() == 1);
  CHECK(got[0].scope.k == delivery_scope::kind::neighbors);
  CHECK(got[0].scope.is_direct());
  CHECK(n.nodes.at(id_of(2)).broadcast_tree(topic_a)->cache_size() == 0);
  CHECK_FALSE(n.nodes.at(id_of(1)).broadcast_tree(topic_a)->has_seen(message_id_of(c)));
}

TEST_CASE("gossip proto: refuses over-size broadcasts and unknown topics") {
  protocol p(id_of(1), {}, config{}, 1);
  p.join(topic_a, {}, {});
  p.take_outputs();
  bytes big(p.max_content_size() + 1, 0);
  auto s = p.broadcast(topic_a, big, {});
  REQUIRE_FALSE(s.ok());
  CHECK(s.err().code == errc::too_large);
  CHECK(p.broadcast_neighbors(topic_a, big, {}).err().code == errc::too_large);
  CHECK_FALSE(p.has_outputs());
  CHECK(p.broadcast(topic_a, bytes(p.max_content_size(), 0), {}).ok());
  CHECK(p.broadcast(topic_b, {1}, {}).err().code == errc::closed);
  CHECK(p.max_content_size() == default_max_message_size - gossip_overhead);
  config small;
  small.max_message_size = 100;
  CHECK_THROWS_AS(protocol(id_of(1), {}, small, 1), std::invalid_argument);
}

TEST_CASE("gossip proto: a bad frame is an error and changes nothing") {
  protocol p(id_of(1), {}, config{}, 1);
  p.join(topic_a, {}, {});
  p.take_outputs();
  bytes junk = {1, 2, 3};
  CHECK_FALSE(p.receive_bytes(id_of(2), junk, {}).ok());
  CHECK_FALSE(p.has_outputs());
  // A message for a topic we did not join is ignored.
  CHECK(p.receive_bytes(id_of(2), encode({topic_b, msg::join{}}), {}).ok());
  CHECK_FALSE(p.has_outputs());
}

TEST_CASE("gossip proto: a connection shared by two topics closes only when both are done") {
  net n;
  for (auto t : {topic_a, topic_b}) {
    n.add(1).join(t, {}, n.now);
    n.add(2).join(t, {id_of(1)}, n.now);
  }
  n.settle();
  n.disconnects.clear();
  n.nodes.at(id_of(2)).quit(topic_a, n.now);
  n.settle();
  CHECK(n.saw(1, event::kind::neighbor_down, 2));
  CHECK(n.disconnects.empty()); // topic_b still uses the link
  CHECK(n.nodes.at(id_of(1)).neighbors(topic_b).size() == 1);
  CHECK_FALSE(n.nodes.at(id_of(2)).has_topic(topic_a));
  n.nodes.at(id_of(2)).quit(topic_b, n.now);
  n.settle();
  bool two_closed = false, one_closed = false;
  for (auto& [who, peer] : n.disconnects) {
    two_closed |= who == id_of(2) && peer == id_of(1);
    one_closed |= who == id_of(1) && peer == id_of(2);
  }
  CHECK(two_closed);
  CHECK(one_closed);
  CHECK(n.nodes.at(id_of(1)).neighbors(topic_b).empty());
}

TEST_CASE("gossip proto: timers re-arm and stale ids are ignored") {
  net n;
  n.add(1).join(topic_a, {}, n.now);
  n.settle();
  auto& p = n.nodes.at(id_of(1));
  CHECK(p.armed_timers() == 1); // shuffle; nothing cached, so no eviction tick (issue 12)
  n.advance(10s);
  CHECK(p.armed_timers() == 1);
  REQUIRE(p.broadcast(topic_a, bytes{1, 2, 3}, n.now).ok());
  CHECK(p.armed_timers() == 2); // shuffle + cache eviction while the id is remembered
  n.advance(10s);
  CHECK(p.armed_timers() == 2);
  n.advance(120s); // past message_id_retention (90 s): nothing left, the tick stops
  CHECK(p.armed_timers() == 1);
  p.timer_fired(999999, n.now);
  CHECK_FALSE(p.has_outputs());
  p.quit(topic_a, n.now);
  n.advance(120s); // the quit topic's timers fire into nothing
  CHECK(p.armed_timers() == 0);
}

TEST_CASE("gossip proto: the learned addresses of a joining peer are reported") {
  protocol p(id_of(1), {}, config{}, 1);
  p.join(topic_a, {}, {});
  p.take_outputs();
  p.receive(id_of(2), {topic_a, msg::join{peer_data{{"10.1.2.3", 7}}}}, {});
  bool reported = false;
  for (auto& o : p.take_outputs())
    if (auto* a = std::get_if<output::peer_addresses>(&o))
      reported = a->peer == id_of(2) && a->addresses == peer_data{{"10.1.2.3", 7}};
  CHECK(reported);
}

TEST_CASE("gossip proto: a Join flood from one peer is refused past its budget") {
  config cfg;
  REQUIRE(cfg.flood.join.burst == 8);
  protocol p(id_of(1), {}, cfg, 1);
  p.join(topic_a, {}, {});
  p.join(topic_b, {}, {});
  time_point t0{};
  // Two other neighbours, so every admitted Join is forwarded (ForwardJoin) twice.
  for (uint8_t peer : {3, 4})
    REQUIRE(p.receive(id_of(peer), {topic_a, msg::join{}}, t0).ok());
  p.take_outputs();
  size_t admitted = 0, forwards = 0;
  status last = ok_status();
  for (int i = 0; i < 100; ++i) {
    last = p.receive(id_of(2), {topic_a, msg::join{}}, t0);
    if (last.ok())
      ++admitted;
  }
  for (auto& o : p.take_outputs())
    if (auto* s = std::get_if<output::send>(&o))
      forwards += std::holds_alternative<msg::forward_join>(s->msg.body);
  CHECK(admitted == cfg.flood.join.burst);
  REQUIRE_FALSE(last.ok());
  CHECK(last.err().code == errc::refused);
  CHECK(last.err().what.find("Join flood") != std::string::npos);
  CHECK(forwards == 2 * cfg.flood.join.burst); // not 200: the flood is not amplified
  // A refused Join changes nothing; the same bytes through receive_bytes are refused too.
  auto st = p.receive_bytes(id_of(2), encode({topic_a, msg::join{}}), t0);
  CHECK(st.err().code == errc::refused);
  CHECK_FALSE(p.has_outputs());
  // Other peers and other topics have their own budgets; time earns one more Join per interval.
  CHECK(p.receive(id_of(5), {topic_a, msg::join{}}, t0).ok());
  CHECK(p.receive(id_of(2), {topic_b, msg::join{}}, t0).ok());
  CHECK(p.receive(id_of(2), {topic_a, msg::join{}}, t0 + cfg.flood.join.interval).ok());
  CHECK_FALSE(p.receive(id_of(2), {topic_a, msg::join{}}, t0 + cfg.flood.join.interval).ok());
  // A well-behaved peer (one Join per interval) is never refused.
  for (int i = 0; i < 50; ++i)
    CHECK(p.receive(id_of(6), {topic_a, msg::join{}}, t0 + i * cfg.flood.join.interval).ok());
}

TEST_CASE("gossip proto: a peer sample that would not fit the max message size is cut") {
  config cfg;
  cfg.max_message_size = min_max_message_size;
  protocol p(id_of(1), {}, cfg, 1);
  p.join(topic_a, {}, {});
  p.take_outputs();
  // Ten peers with sixteen IPv6 addresses each (~340 bytes per peer) arrive in a Shuffle.
  msg::shuffle s;
  s.origin = id_of(2);
  s.ttl = 0;
  for (uint8_t i = 0; i < 10; ++i) {
    peer_data addrs;
    for (uint16_t k = 1; k <= max_peer_addresses; ++k)
      addrs.push_back({"2001:db8::" + std::to_string(k), k});
    s.nodes.push_back({id_of(uint8_t(10 + i)), addrs});
  }
  REQUIRE(p.receive(id_of(2), {topic_a, s}, {}).ok());
  bool replied = false;
  for (auto& o : p.take_outputs()) {
    auto* snd = std::get_if<output::send>(&o);
    if (!snd)
      continue;
    CHECK(encode(snd->msg).size() <= cfg.max_message_size);
    if (auto* r = std::get_if<msg::shuffle_reply>(&snd->msg.body)) {
      replied = true;
      CHECK(snd->to == id_of(2));
      CHECK(r->nodes.size() == 1); // one such peer fits in 512 bytes, two do not
      CHECK(decode(encode(snd->msg), cfg.max_message_size).ok());
    }
  }
  CHECK(replied);
}

TEST_CASE("gossip proto: a closed connection is forgotten by PlumTree, neighbour or not") {
  protocol p(id_of(1), {}, config{}, 1);
  p.join(topic_a, {}, t0);
  REQUIRE(p.receive(id_of(2), {topic_a, msg::join{}}, t0).ok()); // 2 is an active neighbour
  const message_id x = message_id_of(bytes{1}), y = message_id_of(bytes{2});
  // 3 is no neighbour but announced x; 2 announced y.
  REQUIRE(p.receive(id_of(3), {topic_a, msg::ihave{{{x, 1}}}}, t0).ok());
  REQUIRE(p.receive(id_of(2), {topic_a, msg::ihave{{{y, 1}}}}, t0).ok());
  const auto* tree = p.broadcast_tree(topic_a);
  REQUIRE(tree->missing_count() == 2);
  REQUIRE(tree->eager_peers().count(id_of(2)) == 1);
  p.take_outputs();
  auto downs = [&](uint8_t peer) {
    size_t n = 0;
    for (auto& o : p.take_outputs())
      if (auto* e = std::get_if<output::emit>(&o))
        n += e->ev.k == event::kind::neighbor_down && e->ev.peer == id_of(peer);
    return n;
  };
  // Not a neighbour: no NeighborDown, but its announcement is dropped (no Graft will go to it).
  p.connection_closed(id_of(3), t0);
  CHECK(downs(3) == 0);
  CHECK(tree->missing_count() == 1);
  // A neighbour: one NeighborDown, and PlumTree forgets it.
  p.connection_closed(id_of(2), t0);
  CHECK(downs(2) == 1);
  CHECK(tree->missing_count() == 0);
  CHECK(tree->eager_peers().empty());
  CHECK(tree->lazy_peers().empty());
}

TEST_CASE("gossip proto: messages are counted per topic, by kind and direction") {
  const size_t join = msg::body(msg::join{}).index();
  const size_t gossip = msg::body(msg::gossip{}).index();
  const size_t prune = msg::body(msg::prune{}).index();
  net n;
  n.add(1).join(topic_a, {}, n.now);
  n.add(2).join(topic_a, {id_of(1)}, n.now);
  n.settle();
  auto& p1 = n.nodes.at(id_of(1));
  auto& p2 = n.nodes.at(id_of(2));
  REQUIRE(p1.counters(topic_a));
  CHECK(p1.counters(topic_b) == nullptr);
  CHECK(p2.counters(topic_a)->sent[join] == 1);
  // A lossless two-node network: what one sent, the other handled, kind by kind.
  auto check_mirror = [&] {
    for (size_t k = 0; k < message_kinds; ++k) {
      CAPTURE(kind_name(k));
      CHECK(p1.counters(topic_a)->sent[k] == p2.counters(topic_a)->received[k]);
      CHECK(p2.counters(topic_a)->sent[k] == p1.counters(topic_a)->received[k]);
    }
  };
  check_mirror();
  REQUIRE(p1.broadcast(topic_a, bytes{'x'}, n.now).ok());
  n.settle();
  CHECK(p1.counters(topic_a)->sent[gossip] == 1);
  CHECK(p2.counters(topic_a)->received[gossip] == 1);
  check_mirror();
  // The same payload again (as from a second path): a duplicate, answered with a Prune.
  auto prunes = p2.counters(topic_a)->sent[prune];
  bytes x{'x'};
  msg::gossip again{message_id_of(x), x, {delivery_scope::kind::swarm, 0}};
  REQUIRE(p2.receive(id_of(1), {topic_a, again}, n.now).ok());
  CHECK(p2.broadcast_tree(topic_a)->stats().duplicates == 1);
  CHECK(p2.counters(topic_a)->received[gossip] == 2);
  CHECK(p2.counters(topic_a)->sent[prune] == prunes + 1);
}

TEST_CASE("gossip proto: refused floods are counted per topic and kind") {
  const size_t join = msg::body(msg::join{}).index();
  config cfg;
  protocol p(id_of(1), {}, cfg, 1);
  p.join(topic_a, {}, {});
  p.join(topic_b, {}, {});
  for (int i = 0; i < 100; ++i)
    (void)p.receive(id_of(2), {topic_a, msg::join{}}, time_point{});
  auto& a = *p.counters(topic_a);
  CHECK(a.received[join] == cfg.flood.join.burst);
  CHECK(a.flood_refused[join] == 100 - cfg.flood.join.burst);
  for (size_t k = 0; k < message_kinds; ++k)
    if (k != join)
      CHECK(a.flood_refused[k] == 0);
  CHECK(p.counters(topic_b)->flood_refused[join] == 0);
}

TEST_CASE("gossip proto: a message broadcast while a link was down reaches the peer once the link is back") {
  net n;
  n.add(1).join(topic_a, {}, n.now);
  n.add(2).join(topic_a, {id_of(1)}, n.now);
  n.settle();
  REQUIRE(n.saw(2, event::kind::neighbor_up, 1));
  bytes before = {'b'}, during = {'d'};
  REQUIRE(n.nodes.at(id_of(1)).broadcast(topic_a, before, n.now).ok());
  n.settle();
  REQUIRE(n.received(2).size() == 1);
  // The link dies (both ends see the connection close) and 1 broadcasts with no neighbour.
  n.nodes.at(id_of(1)).connection_closed(id_of(2), n.now);
  n.nodes.at(id_of(2)).connection_closed(id_of(1), n.now);
  n.settle();
  REQUIRE(n.nodes.at(id_of(1)).neighbors(topic_a).empty());
  n.advance(1s);
  REQUIRE(n.nodes.at(id_of(1)).broadcast(topic_a, during, n.now).ok());
  n.settle();
  CHECK(n.received(2).size() == 1);
  // 2 comes back: 1 announces what it has had within 10 s, 2 Grafts what it lacks.
  n.advance(2s);
  n.nodes.at(id_of(2)).join(topic_a, {id_of(1)}, n.now);
  n.settle();
  REQUIRE(n.nodes.at(id_of(2)).neighbors(topic_a) == std::vector<endpoint_id>{id_of(1)});
  n.advance(500ms);
  auto got = n.received(2);
  REQUIRE(got.size() == 2); // "before" is not delivered again
  CHECK(got[0].content == before);
  CHECK(got[1].content == during);
}

namespace {

// Nodes 1 and 2 neighbours in topic_a; 1 broadcasts `lost`, whose frames the wire drops.
void lose_one_broadcast(net& n, const bytes& lost) {
  n.add(1).join(topic_a, {}, n.now);
  n.add(2).join(topic_a, {id_of(1)}, n.now);
  n.settle();
  REQUIRE(n.saw(2, event::kind::neighbor_up, 1));
  n.advance(2s);
  REQUIRE(n.nodes.at(id_of(1)).broadcast(topic_a, lost, n.now).ok());
  n.collect(id_of(1));
  n.wire.clear(); // in flight on a link that ended without a goodbye
  n.advance(2s);
  REQUIRE(n.received(2).empty()); // nothing else repairs it: 2 has no other neighbour
}

} // namespace

TEST_CASE("gossip proto: a message lost with a renewed link is announced again and grafted") {
  net n;
  bytes lost = {'l'};
  lose_one_broadcast(n, lost);
  // The transport reports the renewal at 1 (its other link to 2 carries on).
  n.nodes.at(id_of(1)).link_renewed(id_of(2), n.now);
  n.settle();
  n.advance(500ms);
  auto got = n.received(2);
  REQUIRE(got.size() == 1);
  CHECK(got[0].content == lost);
  CHECK(n.nodes.at(id_of(1)).broadcast_tree(topic_a)->stats().renewals == 1);
  // Neighbours as before, no NeighborDown on either side.
  CHECK_FALSE(n.saw(1, event::kind::neighbor_down, 2));
  CHECK_FALSE(n.saw(2, event::kind::neighbor_down, 1));
  // A renewal for a peer that is not a neighbour changes nothing.
  n.nodes.at(id_of(1)).link_renewed(id_of(7), n.now);
  CHECK_FALSE(n.nodes.at(id_of(1)).has_outputs());
}

TEST_CASE("gossip proto: a Join from a neighbour is answered and told the recent messages") {
  // 2 joins 1 again while 1 still holds it active (2 restarted, or lost its link to 1 while 1
  // kept its own): 1 answers with Neighbor and announces what 2 may have missed.
  net n;
  bytes lost = {'j'};
  lose_one_broadcast(n, lost);
  n.events.clear();
  n.nodes.at(id_of(2)).join(topic_a, {id_of(1)}, n.now);
  n.settle();
  n.advance(500ms);
  auto got = n.received(2);
  REQUIRE(got.size() == 1);
  CHECK(got[0].content == lost);
  CHECK(n.nodes.at(id_of(2)).neighbors(topic_a) == std::vector<endpoint_id>{id_of(1)});
  CHECK(n.nodes.at(id_of(1)).neighbors(topic_a) == std::vector<endpoint_id>{id_of(2)});
  CHECK_FALSE(n.saw(1, event::kind::neighbor_up, 2)); // not a new neighbour for 1
}
