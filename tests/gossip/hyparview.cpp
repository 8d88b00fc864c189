// HyParView rules one by one, with a fake clock (gossip/hyparview.hpp, PROTOCOL.md §8.3).
#include "gossip/hyparview.hpp"

#include "effects_inspect.hpp"

#include <doctest/doctest.h>

#include <algorithm>

using namespace dtt;
using namespace dtt::gossip;
using namespace dtt::gossip::test;
using namespace std::chrono_literals;

namespace {

std::vector<endpoint_id> disconnects(const effects& fx) {
  std::vector<endpoint_id> out;
  for (const auto& e : fx)
    if (auto* d = std::get_if<effect::disconnect>(&e))
      out.push_back(d->peer);
  return out;
}

bool has(const std::vector<endpoint_id>& v, const endpoint_id& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

struct fixture {
  hyparview hv{id_of(100), peer_data{{"10.0.0.100", 100}}, hyparview_config{}, rng(7)};
  effects fx;

  // Makes `peer` active through a Join.
  void add_active(uint8_t peer) {
    hv.receive(id_of(peer), msg::join{}, t0, fx);
  }
  void fill_active(uint8_t first, size_t n) {
    for (size_t i = 0; i < n; ++i)
      add_active(uint8_t(first + i));
  }
  // Merges peers into the passive view through a Shuffle that ends here (no refill follows).
  void add_passive(std::initializer_list<uint8_t> peers) {
    msg::shuffle s{id_of(99), {}, 0};
    for (auto p : peers)
      s.nodes.push_back({id_of(p), std::nullopt});
    hv.receive(id_of(1), s, t0, fx);
  }
};

} // namespace

TEST_CASE_FIXTURE(fixture, "hyparview: the shuffle timer is armed at start, every 60 s") {
  hv.start(t0, fx);
  auto t = timers(fx);
  REQUIRE(t.size() == 1);
  CHECK(t[0].at == t0 + 60s);
  CHECK(t[0].t.k == topic_timer::kind::shuffle);
}

TEST_CASE_FIXTURE(fixture, "hyparview: join sends Join with our addresses") {
  hv.join(id_of(1), t0, fx);
  auto j = sent<msg::join>(fx);
  REQUIRE(j.size() == 1);
  CHECK(j[0].first == id_of(1));
  CHECK(j[0].second.data == peer_data{{"10.0.0.100", 100}});
  fx.clear();
  hv.join(id_of(100), t0, fx); // never to ourselves
  CHECK(fx.empty());
}

TEST_CASE_FIXTURE(fixture, "hyparview: Join is accepted with high priority and spread by ForwardJoin") {
  fill_active(1, 3);
  fx.clear();
  hv.receive(id_of(9), msg::join{peer_data{{"10.0.0.9", 9}}}, t0, fx);
  CHECK(has(hv.active_view(), id_of(9)));
  CHECK(events(fx, event::kind::neighbor_up) == std::vector<endpoint_id>{id_of(9)});
  auto n = sent<msg::neighbor>(fx);
  REQUIRE(n.size() == 1);
  CHECK(n[0].first == id_of(9));
  CHECK(n[0].second.prio == priority::high);
  auto fj = sent<msg::forward_join>(fx);
  REQUIRE(fj.size() == 3);
  for (auto& [to, m] : fj) {
    CHECK(to != id_of(9));
    CHECK(m.peer.id == id_of(9));
    CHECK(m.ttl == 6);
    CHECK(m.peer.data == peer_data{{"10.0.0.9", 9}});
  }
  REQUIRE(hv.addresses_of(id_of(9)));
}

TEST_CASE_FIXTURE(fixture, "hyparview: a Join into a full view evicts a random peer to passive") {
  fill_active(1, 5);
  fx.clear();
  hv.receive(id_of(9), msg::join{}, t0, fx);
  CHECK(hv.active_view().size() == 5);
  CHECK(has(hv.active_view(), id_of(9)));
  auto down = events(fx, event::kind::neighbor_down);
  REQUIRE(down.size() == 1);
  auto victim = down[0];
  CHECK(has(hv.passive_view(), victim));
  auto d = sent<msg::disconnect>(fx);
  REQUIRE(d.size() == 1);
  CHECK(d[0].first == victim);
  CHECK(d[0].second.alive);
  CHECK(sent<msg::shuffle_reply>(fx).size() == 1);
  CHECK(has(disconnects(fx), victim));
}

TEST_CASE_FIXTURE(fixture, "hyparview: a Join from an active peer is answered with Neighbor, no new event") {
  fill_active(1, 3);
  fx.clear();
  // 2 joins again (it restarted, or lost its link to us while we kept ours): it waits for a
  // Neighbor answer, as on its first Join.
  hv.receive(id_of(2), msg::join{}, t0 + 1s, fx);
  auto n = sent<msg::neighbor>(fx);
  REQUIRE(n.size() == 1);
  CHECK(n[0].first == id_of(2));
  CHECK(n[0].second.prio == priority::high);
  CHECK(events(fx, event::kind::neighbor_up).empty());
  CHECK(hv.active_view().size() == 3);
  CHECK(hv.is_active(id_of(2)));
  // A Neighbor from an active peer is still not answered (it may itself be an answer: two
  // active peers would otherwise answer each other forever).
  fx.clear();
  hv.receive(id_of(2), msg::neighbor{priority::high, std::nullopt}, t0 + 2s, fx);
  CHECK(sent<msg::neighbor>(fx).empty());
}

TEST_CASE_FIXTURE(fixture, "hyparview: ForwardJoin for an active peer renews the link") {
  fill_active(1, 3);
  fx.clear();
  hv.receive(id_of(1), msg::forward_join{{id_of(2), std::nullopt}, 4}, t0, fx);
  auto n = sent<msg::neighbor>(fx);
  REQUIRE(n.size() == 1);
  CHECK(n[0].first == id_of(2));
  CHECK(n[0].second.prio == priority::high);
  CHECK(sent<msg::forward_join>(fx).empty());
}

TEST_CASE_FIXTURE(fixture, "hyparview: ForwardJoin at ttl 0 asks the peer, adds it on its answer") {
  fill_active(1, 3);
  fx.clear();
  hv.receive(id_of(1), msg::forward_join{{id_of(9), std::nullopt}, 0}, t0, fx);
  auto n = sent<msg::neighbor>(fx);
  REQUIRE(n.size() == 1);
  CHECK(n[0].first == id_of(9));
  CHECK(n[0].second.prio == priority::high);
  CHECK_FALSE(has(hv.active_view(), id_of(9)));
  CHECK(hv.is_pending(id_of(9)));
  auto t = timers(fx);
  REQUIRE(t.size() == 1);
  CHECK(t[0].at == t0 + 500ms);
  CHECK(sent<msg::forward_join>(fx).empty());
  fx.clear();
  hv.receive(id_of(9), msg::neighbor{priority::high, std::nullopt}, t0, fx);
  CHECK(has(hv.active_view(), id_of(9)));
  CHECK(events(fx, event::kind::neighbor_up).size() == 1);
  CHECK(sent<msg::neighbor>(fx).empty()); // an answer is not answered
}

TEST_CASE_FIXTURE(fixture, "hyparview: ForwardJoin with at most one active peer is taken in") {
  add_active(1);
  fx.clear();
  hv.receive(id_of(1), msg::forward_join{{id_of(9), std::nullopt}, 5}, t0, fx);
  CHECK(hv.is_pending(id_of(9)));
  CHECK(sent<msg::forward_join>(fx).empty());
}

TEST_CASE_FIXTURE(fixture, "hyparview: ForwardJoin at PRWL joins the passive view and walks on") {
  fill_active(1, 3);
  fx.clear();
  hv.receive(id_of(1), msg::forward_join{{id_of(9), std::nullopt}, 3}, t0, fx);
  CHECK(has(hv.passive_view(), id_of(9)));
  auto fj = sent<msg::forward_join>(fx);
  REQUIRE(fj.size() == 1);
  CHECK(fj[0].first != id_of(1)); // not back to the sender
  CHECK(has(hv.active_view(), fj[0].first));
  CHECK(fj[0].second.ttl == 2);
  fx.clear();
  hv.receive(id_of(1), msg::forward_join{{id_of(10), std::nullopt}, 5}, t0, fx);
  CHECK_FALSE(has(hv.passive_view(), id_of(10))); // only at ttl == PRWL
  fj = sent<msg::forward_join>(fx);
  REQUIRE(fj.size() == 1);
  CHECK(fj[0].second.ttl == 4);
}

TEST_CASE_FIXTURE(fixture, "hyparview: Neighbor Low needs a free slot, High always gets in") {
  fill_active(1, 4);
  fx.clear();
  hv.receive(id_of(20), msg::neighbor{priority::low, std::nullopt}, t0, fx);
  CHECK(has(hv.active_view(), id_of(20)));
  REQUIRE(sent<msg::neighbor>(fx).size() == 1); // accepted: answered
  fx.clear();
  hv.receive(id_of(21), msg::neighbor{priority::low, std::nullopt}, t0, fx);
  CHECK_FALSE(has(hv.active_view(), id_of(21)));
  auto d = sent<msg::disconnect>(fx);
  REQUIRE(d.size() == 1);
  CHECK(d[0].first == id_of(21));
  CHECK(d[0].second.alive);
  CHECK(has(disconnects(fx), id_of(21)));
  fx.clear();
  hv.receive(id_of(22), msg::neighbor{priority::high, std::nullopt}, t0, fx);
  CHECK(has(hv.active_view(), id_of(22)));
  CHECK(hv.active_view().size() == 5);
  CHECK(events(fx, event::kind::neighbor_down).size() == 1);
}

TEST_CASE_FIXTURE(fixture, "hyparview: Disconnect(alive) keeps the peer passive and refills") {
  fill_active(1, 3);
  add_passive({30});
  fx.clear();
  hv.receive(id_of(2), msg::disconnect{true}, t0, fx);
  CHECK_FALSE(has(hv.active_view(), id_of(2)));
  CHECK(has(hv.passive_view(), id_of(2)));
  CHECK(events(fx, event::kind::neighbor_down) == std::vector<endpoint_id>{id_of(2)});
  auto n = sent<msg::neighbor>(fx);
  REQUIRE(n.size() == 1);
  CHECK(n[0].first == id_of(30)); // the peer that left is not asked back at once
  CHECK(n[0].second.prio == priority::low);
  auto t = timers(fx);
  REQUIRE(t.size() == 1);
  CHECK(t[0].t.k == topic_timer::kind::neighbor_request);
  CHECK(t[0].at == t0 + 500ms);
}

TEST_CASE_FIXTURE(fixture, "hyparview: Disconnect(alive=false) forgets the peer, refill is High when alone") {
  add_active(1);
  add_passive({30});
  fx.clear();
  hv.receive(id_of(1), msg::disconnect{false}, t0, fx);
  CHECK(hv.active_view().empty());
  CHECK_FALSE(has(hv.passive_view(), id_of(1)));
  auto n = sent<msg::neighbor>(fx);
  REQUIRE(n.size() == 1);
  CHECK(n[0].second.prio == priority::high);
}

TEST_CASE_FIXTURE(fixture, "hyparview: a closed connection drops the peer and refills") {
  fill_active(1, 2);
  add_passive({30});
  fx.clear();
  hv.connection_closed(id_of(2), t0, fx);
  CHECK_FALSE(has(hv.active_view(), id_of(2)));
  CHECK_FALSE(has(hv.passive_view(), id_of(2)));
  CHECK(events(fx, event::kind::neighbor_down).size() == 1);
  CHECK(sent<msg::neighbor>(fx).size() == 1);
}

TEST_CASE_FIXTURE(fixture, "hyparview: an unanswered Neighbor request drops that passive peer") {
  add_active(1);
  add_passive({30, 31});
  fx.clear();
  hv.receive(id_of(1), msg::disconnect{false}, t0, fx);
  auto n = sent<msg::neighbor>(fx);
  REQUIRE(n.size() == 1);
  auto first = n[0].first;
  fx.clear();
  topic_timer t{topic_timer::kind::neighbor_request, first, {}};
  hv.timer_fired(t, t0 + 500ms, fx);
  CHECK_FALSE(has(hv.passive_view(), first));
  n = sent<msg::neighbor>(fx);
  REQUIRE(n.size() == 1);
  CHECK(n[0].first != first);
  // A timer for a request that was answered meanwhile does nothing.
  auto second = n[0].first;
  hv.receive(second, msg::neighbor{priority::high, std::nullopt}, t0, fx);
  CHECK(has(hv.active_view(), second));
  fx.clear();
  hv.timer_fired({topic_timer::kind::neighbor_request, second, {}}, t0 + 1s, fx);
  CHECK(fx.empty());
}

TEST_CASE_FIXTURE(fixture, "hyparview: a refused request is retried with another peer when its timer fires") {
  fill_active(1, 2);
  add_passive({30, 31});
  fx.clear();
  hv.receive(id_of(2), msg::disconnect{true}, t0, fx);
  auto n = sent<msg::neighbor>(fx);
  REQUIRE(n.size() == 1);
  auto asked = n[0].first;
  fx.clear();
  hv.receive(asked, msg::disconnect{true}, t0 + 100ms, fx); // refused
  CHECK(sent<msg::neighbor>(fx).empty());                   // paced: no instant retry
  CHECK(has(hv.passive_view(), asked));                     // still alive: kept
  hv.timer_fired({topic_timer::kind::neighbor_request, asked, {}}, t0 + 500ms, fx);
  n = sent<msg::neighbor>(fx);
  REQUIRE(n.size() == 1);
  CHECK(n[0].first != asked);
}

TEST_CASE_FIXTURE(fixture, "hyparview: the shuffle samples 3 active + 4 passive + self, ttl 6") {
  fill_active(1, 5);
  add_passive({30, 31, 32, 33, 34, 35});
  fx.clear();
  hv.timer_fired({topic_timer::kind::shuffle}, t0, fx);
  auto s = sent<msg::shuffle>(fx);
  REQUIRE(s.size() == 1);
  CHECK(has(hv.active_view(), s[0].first));
  auto& m = s[0].second;
  CHECK(m.origin == id_of(100));
  CHECK(m.ttl == 6);
  REQUIRE(m.nodes.size() == 8);
  CHECK(m.nodes.back().id == id_of(100));
  CHECK(m.nodes.back().data == peer_data{{"10.0.0.100", 100}});
  for (size_t i = 0; i < 3; ++i) {
    CHECK(has(hv.active_view(), m.nodes[i].id));
    CHECK(m.nodes[i].id != s[0].first);
  }
  for (size_t i = 3; i < 7; ++i)
    CHECK(has(hv.passive_view(), m.nodes[i].id));
  auto t = timers(fx);
  REQUIRE(t.size() == 1);
  CHECK(t[0].at == t0 + 60s);
}

TEST_CASE_FIXTURE(fixture, "hyparview: a Shuffle is forwarded while ttl > 0, else answered and merged") {
  fill_active(1, 3);
  fx.clear();
  msg::shuffle s{id_of(50), {{id_of(51), std::nullopt}, {id_of(52), std::nullopt}}, 3};
  hv.receive(id_of(1), s, t0, fx);
  auto fwd = sent<msg::shuffle>(fx);
  REQUIRE(fwd.size() == 1);
  CHECK(fwd[0].first != id_of(1));
  CHECK(fwd[0].second.ttl == 2);
  CHECK_FALSE(has(hv.passive_view(), id_of(51)));
  fx.clear();
  add_passive({30, 31, 32});
  fx.clear();
  s.ttl = 0;
  hv.receive(id_of(1), s, t0, fx);
  CHECK(has(hv.passive_view(), id_of(51)));
  CHECK(has(hv.passive_view(), id_of(52)));
  auto r = sent<msg::shuffle_reply>(fx);
  REQUIRE(r.size() == 1);
  CHECK(r[0].first == id_of(50)); // to the origin
  CHECK(r[0].second.nodes.size() == 2);
}

TEST_CASE_FIXTURE(fixture, "hyparview: the passive view stays within capacity and never holds us or actives") {
  fill_active(1, 2);
  // Shuffles that end here, 8 nodes each (ka + kp + origin), with us and an active peer mixed in.
  for (int k = 0; k < 8; ++k) {
    msg::shuffle s{id_of(99), {}, 0};
    for (int i = 0; i < 6; ++i)
      s.nodes.push_back({id_of(uint8_t(20 + 6 * k + i)), std::nullopt});
    s.nodes.push_back({id_of(100), std::nullopt});
    s.nodes.push_back({id_of(1), std::nullopt});
    hv.receive(id_of(2), s, t0, fx);
    CHECK(hv.passive_view().size() <= 30);
  }
  CHECK(hv.passive_view().size() == 30);
  CHECK_FALSE(has(hv.passive_view(), id_of(100)));
  CHECK_FALSE(has(hv.passive_view(), id_of(1)));
}

TEST_CASE_FIXTURE(fixture, "hyparview: a Shuffle merges and is answered with no more nodes than an honest one holds") {
  fill_active(1, 1);
  fx.clear();
  msg::shuffle s{id_of(99), {}, 0};
  for (int i = 0; i < 20; ++i)
    s.nodes.push_back({id_of(uint8_t(20 + i)), std::nullopt});
  hv.receive(id_of(1), s, t0, fx);
  CHECK(hv.passive_view().size() == 8); // ka + kp + origin
  CHECK(has(hv.passive_view(), id_of(27)));
  CHECK_FALSE(has(hv.passive_view(), id_of(28)));
  auto r = sent<msg::shuffle_reply>(fx);
  REQUIRE(r.size() == 1);
  CHECK(r[0].second.nodes.size() <= 8);
}

TEST_CASE_FIXTURE(fixture, "hyparview: quit sends ShuffleReply and Disconnect(alive=false) to each active peer") {
  fill_active(1, 3);
  add_passive({30, 31, 32, 33, 34, 35, 36, 37});
  fx.clear();
  hv.quit(t0, fx);
  CHECK(hv.active_view().empty());
  auto d = sent<msg::disconnect>(fx);
  REQUIRE(d.size() == 3);
  for (auto& [to, m] : d)
    CHECK_FALSE(m.alive);
  auto r = sent<msg::shuffle_reply>(fx);
  REQUIRE(r.size() == 3);
  CHECK(r[0].second.nodes.size() == 7);
  CHECK(disconnects(fx).size() == 3);
}

TEST_CASE_FIXTURE(fixture, "hyparview: a swarm message from a non-neighbour closes that connection") {
  hv.receive(id_of(60), msg::shuffle_reply{}, t0, fx);
  CHECK(disconnects(fx) == std::vector<endpoint_id>{id_of(60)});
  fx.clear();
  hv.receive(id_of(61), msg::disconnect{true}, t0, fx);
  CHECK(disconnects(fx).empty());
  // A ShuffleReply comes to a shuffle's origin on a link of its own: no Disconnect for it.
  CHECK(sent<msg::disconnect>(fx).empty());
}

TEST_CASE_FIXTURE(fixture, "hyparview: a peer that holds us active one-sidedly is told so by Disconnect(alive)") {
  // ForwardJoin and Shuffle are sent only to active peers: from a peer we do not hold, they
  // mean it holds us one-sidedly. It is told before the link closes, so that it stops sending
  // on links we keep closing (issue 17's redial storm).
  fill_active(1, 2);
  fx.clear();
  hv.receive(id_of(60), msg::forward_join{peer_info{id_of(70), std::nullopt}, 3}, t0, fx);
  auto d = sent<msg::disconnect>(fx);
  REQUIRE(d.size() == 1);
  CHECK(d[0].first == id_of(60));
  CHECK(d[0].second.alive);
  CHECK(has(disconnects(fx), id_of(60)));
  fx.clear();
  msg::shuffle s{id_of(61), {}, 0};
  hv.receive(id_of(61), s, t0, fx);
  d = sent<msg::disconnect>(fx);
  REQUIRE(d.size() == 1);
  CHECK(d[0].first == id_of(61));
  // From an active peer, or one whose Neighbor answer we await, nothing of the kind.
  fx.clear();
  hv.receive(id_of(1), msg::forward_join{peer_info{id_of(71), std::nullopt}, 3}, t0, fx);
  hv.receive(id_of(2), s, t0, fx);
  CHECK(sent<msg::disconnect>(fx).empty());
  CHECK(disconnects(fx).empty());
  // And the peer that gets it drops us from its active view, keeping us passive.
  hyparview other{id_of(60), peer_data{{"10.0.0.60", 60}}, hyparview_config{}, rng(9)};
  effects ofx;
  other.receive(id_of(100), msg::join{}, t0, ofx);
  REQUIRE(other.is_active(id_of(100)));
  other.receive(id_of(100), msg::disconnect{true}, t0 + 1s, ofx);
  CHECK_FALSE(other.is_active(id_of(100)));
  CHECK(has(other.passive_view(), id_of(100)));
}

namespace {

msg::shuffle_reply reply_of(std::initializer_list<uint8_t> peers) {
  msg::shuffle_reply r;
  for (auto p : peers)
    r.nodes.push_back({id_of(p), peer_data{{"10.0.0.1", p}}});
  return r;
}

} // namespace

TEST_CASE_FIXTURE(fixture, "hyparview: a ShuffleReply with no Shuffle of ours outstanding changes nothing") {
  fill_active(1, 2);
  add_passive({30, 31});
  fx.clear();
  auto passive = hv.passive_view();
  hv.receive(id_of(60), reply_of({70, 71, 72, 73, 74, 75, 76}), t0, fx);
  CHECK(hv.passive_view() == passive);
  CHECK(hv.addresses_of(id_of(70)) == nullptr);
  CHECK(hv.stats().unsolicited_shuffle_replies == 1);
  // Ignored, not refused: only the usual close of a non-neighbour's connection (§8.3).
  CHECK(sent<msg::disconnect>(fx).empty());
  CHECK(sent<msg::neighbor>(fx).empty());
  CHECK(disconnects(fx) == std::vector<endpoint_id>{id_of(60)});
}

TEST_CASE_FIXTURE(fixture, "hyparview: after our Shuffle one reply is merged, a second is ignored, none after the window") {
  fill_active(1, 2);
  fx.clear();
  hv.timer_fired({topic_timer::kind::shuffle}, t0, fx);
  REQUIRE(sent<msg::shuffle>(fx).size() == 1);
  hv.receive(id_of(60), reply_of({70, 71}), t0 + 1s, fx);
  CHECK(has(hv.passive_view(), id_of(70)));
  CHECK(has(hv.passive_view(), id_of(71)));
  CHECK(hv.addresses_of(id_of(70)) != nullptr);
  hv.receive(id_of(61), reply_of({72}), t0 + 2s, fx);
  CHECK_FALSE(has(hv.passive_view(), id_of(72)));
  CHECK(hv.stats().unsolicited_shuffle_replies == 1);
  // The next Shuffle's answer is accepted only within shuffle_reply_window (30 s).
  hv.timer_fired({topic_timer::kind::shuffle}, t0 + 60s, fx);
  hv.receive(id_of(62), reply_of({73}), t0 + 60s + hv.config().shuffle_reply_window, fx);
  CHECK_FALSE(has(hv.passive_view(), id_of(73)));
  CHECK(hv.stats().unsolicited_shuffle_replies == 2);
  // Two Shuffles outstanding: two replies.
  hv.timer_fired({topic_timer::kind::shuffle}, t0 + 120s, fx);
  hv.timer_fired({topic_timer::kind::shuffle}, t0 + 121s, fx);
  hv.receive(id_of(63), reply_of({74}), t0 + 122s, fx);
  hv.receive(id_of(64), reply_of({75}), t0 + 122s, fx);
  hv.receive(id_of(65), reply_of({76}), t0 + 122s, fx);
  CHECK(has(hv.passive_view(), id_of(74)));
  CHECK(has(hv.passive_view(), id_of(75)));
  CHECK_FALSE(has(hv.passive_view(), id_of(76)));
  CHECK(hv.stats().unsolicited_shuffle_replies == 3);
}

TEST_CASE_FIXTURE(fixture, "hyparview: a parting ShuffleReply is merged once per link, into free slots only") {
  fill_active(1, 4);
  // Peer 1 drops us (§8.3: ShuffleReply + Disconnect): its nodes are merged.
  hv.receive(id_of(1), reply_of({70, 71}), t0, fx);
  hv.receive(id_of(1), msg::disconnect{true}, t0, fx);
  CHECK(has(hv.passive_view(), id_of(70)));
  CHECK(has(hv.passive_view(), id_of(71)));
  // One per link: a second reply from an active peer is ignored.
  hv.receive(id_of(2), reply_of({72}), t0, fx);
  hv.receive(id_of(2), reply_of({73}), t0, fx);
  CHECK(has(hv.passive_view(), id_of(72)));
  CHECK_FALSE(has(hv.passive_view(), id_of(73)));
  CHECK(hv.stats().unsolicited_shuffle_replies == 1);
  // A reply that crosses our Disconnect (the link ended here first) is merged within the
  // grace, not after it.
  hv.receive(id_of(3), msg::disconnect{true}, t0, fx);
  hv.receive(id_of(3), reply_of({74}), t0 + 1s, fx);
  CHECK(has(hv.passive_view(), id_of(74)));
  hv.receive(id_of(4), msg::disconnect{true}, t0, fx);
  hv.receive(id_of(4), reply_of({75}), t0 + 11s, fx);
  CHECK_FALSE(has(hv.passive_view(), id_of(75)));
  CHECK(hv.stats().unsolicited_shuffle_replies == 2);
}

TEST_CASE_FIXTURE(fixture, "hyparview: a parting ShuffleReply evicts no passive peer") {
  fill_active(1, 2);
  for (int k = 0; hv.passive_view().size() < 30 && k < 10; ++k) {
    msg::shuffle s{id_of(99), {}, 0};
    for (int i = 0; i < 8; ++i)
      s.nodes.push_back({id_of(uint8_t(20 + 8 * k + i)), std::nullopt});
    hv.receive(id_of(2), s, t0, fx);
  }
  REQUIRE(hv.passive_view().size() == 30);
  auto passive = hv.passive_view();
  hv.receive(id_of(1), reply_of({150, 151, 152}), t0, fx);
  hv.receive(id_of(1), msg::disconnect{false}, t0, fx);
  for (auto p : {150, 151, 152}) {
    CHECK_FALSE(has(hv.passive_view(), id_of(uint8_t(p))));
    CHECK(hv.addresses_of(id_of(uint8_t(p))) == nullptr);
  }
  CHECK(hv.passive_view() == passive);
}

TEST_CASE_FIXTURE(fixture, "hyparview: a ShuffleReply merges no more nodes than an honest one holds") {
  fill_active(1, 3);
  fx.clear();
  // Our Shuffle carries 2 active peers (not its target) and us: 3 nodes.
  hv.timer_fired({topic_timer::kind::shuffle}, t0, fx);
  auto s = sent<msg::shuffle>(fx);
  REQUIRE(s.size() == 1);
  REQUIRE(s[0].second.nodes.size() == 3);
  hv.receive(id_of(60), reply_of({70, 71, 72, 73, 74, 75, 76, 77, 78, 79}), t0 + 1s, fx);
  CHECK(hv.passive_view().size() == 3);
  // A parting reply: ka + kp = 7.
  hv.receive(id_of(1), reply_of({80, 81, 82, 83, 84, 85, 86, 87, 88, 89}), t0 + 1s, fx);
  CHECK(hv.passive_view().size() == 10);
  CHECK(has(hv.passive_view(), id_of(86)));
  CHECK_FALSE(has(hv.passive_view(), id_of(87)));
}
