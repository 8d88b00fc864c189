// PlumTree rules one by one, with a fake clock (gossip/plumtree.hpp, PROTOCOL.md §8.4).
#include "gossip/plumtree.hpp"

#include "effects_inspect.hpp"

#include <doctest/doctest.h>

#include <algorithm>

using namespace dtt;
using namespace dtt::gossip;
using namespace dtt::gossip::test;
using namespace std::chrono_literals;

namespace {

msg::gossip gossip_of(const std::string& text, uint16_t round) {
  bytes c(text.begin(), text.end());
  return msg::gossip{message_id_of(c), c, {delivery_scope::kind::swarm, round}};
}

struct fixture {
  plumtree pt{id_of(100), plumtree_config{}};
  effects fx;
  // Peers 1-3 eager, 4-5 lazy.
  fixture() {
    for (uint8_t p = 1; p <= 5; ++p)
      pt.neighbor_up(id_of(p));
    pt.receive(id_of(4), msg::prune{}, t0, fx);
    pt.receive(id_of(5), msg::prune{}, t0, fx);
    fx.clear();
  }
  bool eager(uint8_t p) const { return pt.eager_peers().count(id_of(p)) != 0; }
  bool lazy(uint8_t p) const { return pt.lazy_peers().count(id_of(p)) != 0; }
};

} // namespace

TEST_CASE_FIXTURE(fixture, "plumtree: NeighborUp makes eager, Prune makes lazy, NeighborDown forgets") {
  CHECK(eager(1));
  CHECK(lazy(4));
  pt.neighbor_down(id_of(1));
  pt.neighbor_down(id_of(4));
  CHECK_FALSE(eager(1));
  CHECK_FALSE(lazy(4));
  // A late Prune or Graft from a peer that went down does not bring it back.
  pt.receive(id_of(1), msg::prune{}, t0, fx);
  pt.receive(id_of(4), msg::graft{std::nullopt, 0}, t0, fx);
  CHECK_FALSE(eager(1));
  CHECK_FALSE(lazy(1));
  CHECK_FALSE(eager(4));
}

TEST_CASE_FIXTURE(fixture, "plumtree: broadcast eager-pushes round 0 and IHaves lazy peers after 5 ms") {
  bytes c = {'x'};
  pt.broadcast(c, delivery_scope::kind::swarm, t0, fx);
  auto g = sent<msg::gossip>(fx);
  REQUIRE(g.size() == 3);
  for (auto& [to, m] : g) {
    CHECK((to == id_of(1) || to == id_of(2) || to == id_of(3)));
    CHECK(m.scope == delivery_scope{delivery_scope::kind::swarm, 0});
    CHECK(m.id == message_id_of(c));
  }
  CHECK(received(fx).empty()); // not delivered to ourselves
  CHECK(pt.has_seen(message_id_of(c)));
  CHECK(pt.cache_size() == 1);
  CHECK(sent<msg::ihave>(fx).empty());
  auto t = timers(fx);
  // The lazy push dispatch, and the eviction tick that the first remembered id arms.
  REQUIRE(t.size() == 2);
  std::sort(t.begin(), t.end(), [](auto& a, auto& b) { return a.at < b.at; });
  CHECK(t[0].at == t0 + 5ms);
  CHECK(t[0].t.k == topic_timer::kind::dispatch_lazy_push);
  CHECK(t[1].at == t0 + 1s);
  CHECK(t[1].t.k == topic_timer::kind::evict_cache);
  fx.clear();
  pt.timer_fired(t[0].t, t0 + 5ms, fx);
  auto ih = sent<msg::ihave>(fx);
  REQUIRE(ih.size() == 2);
  for (auto& [to, m] : ih) {
    CHECK((to == id_of(4) || to == id_of(5)));
    REQUIRE(m.entries.size() == 1);
    CHECK(m.entries[0].id == message_id_of(c));
    CHECK(m.entries[0].round == 0);
  }
}

TEST_CASE_FIXTURE(fixture, "plumtree: a new Gossip is delivered and pushed on with round + 1") {
  auto g = gossip_of("hello", 2);
  pt.receive(id_of(1), g, t0, fx);
  auto ev = received(fx);
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].content == g.content);
  CHECK(ev[0].peer == id_of(1));
  CHECK(ev[0].scope == delivery_scope{delivery_scope::kind::swarm, 2}); // as received
  auto fwd = sent<msg::gossip>(fx);
  REQUIRE(fwd.size() == 2); // peers 2 and 3, not back to 1
  for (auto& [to, m] : fwd) {
    CHECK(to != id_of(1));
    CHECK(m.scope.round == 3);
  }
  CHECK(pt.stats().max_last_delivery_hop == 2);
  fx.clear();
  pt.timer_fired({topic_timer::kind::dispatch_lazy_push}, t0 + 5ms, fx);
  auto ih = sent<msg::ihave>(fx);
  REQUIRE(ih.size() == 2);
  CHECK(ih[0].second.entries[0].round == 3);
}

TEST_CASE_FIXTURE(fixture, "plumtree: a duplicate Gossip prunes its sender") {
  auto g = gossip_of("dup", 1);
  pt.receive(id_of(1), g, t0, fx);
  fx.clear();
  pt.receive(id_of(2), g, t0, fx);
  CHECK(received(fx).empty());
  auto p = sent<msg::prune>(fx);
  REQUIRE(p.size() == 1);
  CHECK(p[0].first == id_of(2));
  CHECK(lazy(2));
  CHECK(pt.stats().payload_messages_received == 2);
  CHECK(pt.stats().duplicates == 1); // the first copy is not one
}

TEST_CASE_FIXTURE(fixture, "plumtree: a Gossip whose id is not the hash of its content is dropped") {
  auto g = gossip_of("real", 1);
  g.content = {'f', 'a', 'k', 'e'};
  pt.receive(id_of(1), g, t0, fx);
  CHECK(fx.empty());
  CHECK_FALSE(pt.has_seen(g.id));
}

TEST_CASE_FIXTURE(fixture, "plumtree: a seen id with other content is a duplicate: nothing delivered, the cached payload stays") {
  auto g = gossip_of("original", 1);
  pt.receive(id_of(1), g, t0, fx);
  fx.clear();
  // A peer repeats the id with content of its own (the duplicate path hashes nothing).
  auto forged = g;
  forged.content = {'f', 'o', 'r', 'g', 'e', 'd'};
  pt.receive(id_of(2), forged, t0, fx);
  CHECK(received(fx).empty());
  CHECK(sent<msg::gossip>(fx).empty());
  auto p = sent<msg::prune>(fx);
  REQUIRE(p.size() == 1);
  CHECK(p[0].first == id_of(2));
  CHECK(pt.stats().duplicates == 1);
  // A Graft for the id is answered with the content that matches it.
  fx.clear();
  pt.receive(id_of(4), msg::graft{g.id, 1}, t0, fx);
  auto back = sent<msg::gossip>(fx);
  REQUIRE(back.size() == 1);
  CHECK(back[0].second.content == g.content);
  CHECK(message_id_of(back[0].second.content) == g.id);
}

TEST_CASE_FIXTURE(fixture, "plumtree: a missing message is grafted after 80 ms, then from the next announcer after 40 ms") {
  auto g = gossip_of("late", 4);
  pt.receive(id_of(4), msg::ihave{{{g.id, 3}}}, t0, fx);
  pt.receive(id_of(5), msg::ihave{{{g.id, 5}}}, t0 + 1ms, fx);
  auto t = timers(fx);
  REQUIRE(t.size() == 1); // one timer per id
  CHECK(t[0].at == t0 + 80ms);
  CHECK(t[0].t.k == topic_timer::kind::graft);
  fx.clear();
  pt.timer_fired(t[0].t, t0 + 80ms, fx);
  auto gr = sent<msg::graft>(fx);
  REQUIRE(gr.size() == 1);
  CHECK(gr[0].first == id_of(4));
  CHECK(gr[0].second.id == g.id);
  CHECK(gr[0].second.round == 3);
  CHECK(eager(4));
  t = timers(fx);
  REQUIRE(t.size() == 1);
  CHECK(t[0].at == t0 + 120ms);
  fx.clear();
  pt.timer_fired(t[0].t, t0 + 120ms, fx);
  gr = sent<msg::graft>(fx);
  REQUIRE(gr.size() == 1);
  CHECK(gr[0].first == id_of(5));
  fx.clear();
  pt.timer_fired(t[0].t, t0 + 160ms, fx); // nobody left to ask
  CHECK(sent<msg::graft>(fx).empty());
  CHECK(pt.missing_count() == 0);
}

TEST_CASE_FIXTURE(fixture, "plumtree: no graft when the message arrives before the timer") {
  auto g = gossip_of("on time", 1);
  pt.receive(id_of(4), msg::ihave{{{g.id, 1}}}, t0, fx);
  pt.receive(id_of(1), g, t0 + 10ms, fx);
  fx.clear();
  pt.timer_fired({topic_timer::kind::graft, {}, g.id}, t0 + 80ms, fx);
  CHECK(fx.empty());
  // An IHave for a message we already have is ignored.
  pt.receive(id_of(5), msg::ihave{{{g.id, 0}}}, t0 + 90ms, fx);
  CHECK(timers(fx).empty());
}

TEST_CASE_FIXTURE(fixture, "plumtree: Graft makes the sender eager and returns the cached message") {
  auto g = gossip_of("cached", 0);
  pt.receive(id_of(1), g, t0, fx);
  fx.clear();
  pt.receive(id_of(4), msg::graft{g.id, 1}, t0, fx);
  CHECK(eager(4));
  auto back = sent<msg::gossip>(fx);
  REQUIRE(back.size() == 1);
  CHECK(back[0].first == id_of(4));
  CHECK(back[0].second.content == g.content);
  CHECK(back[0].second.scope.round == 1);
  fx.clear();
  pt.receive(id_of(5), msg::graft{std::nullopt, 0}, t0, fx);
  CHECK(eager(5));
  CHECK(fx.empty());
}

TEST_CASE_FIXTURE(fixture, "plumtree: a repeated Graft for an id is not answered again, another peer's is") {
  auto g = gossip_of("asked twice", 0);
  pt.receive(id_of(1), g, t0, fx);
  fx.clear();
  pt.receive(id_of(4), msg::graft{g.id, 1}, t0, fx);
  REQUIRE(sent<msg::gossip>(fx).size() == 1);
  CHECK(pt.graft_answer_count() == 1);
  fx.clear();
  // The same peer, the same id: nothing sent (an honest peer asks its next announcer).
  for (int i = 0; i < 10; ++i)
    pt.receive(id_of(4), msg::graft{g.id, 1}, t0 + 10ms, fx);
  CHECK(sent<msg::gossip>(fx).empty());
  CHECK(eager(4));
  CHECK(pt.stats().repeated_grafts == 10);
  CHECK(pt.graft_answer_count() == 1);
  // Another peer still gets the payload, once.
  pt.receive(id_of(5), msg::graft{g.id, 1}, t0 + 10ms, fx);
  auto back = sent<msg::gossip>(fx);
  REQUIRE(back.size() == 1);
  CHECK(back[0].first == id_of(5));
  CHECK(back[0].second.content == g.content);
  fx.clear();
  pt.receive(id_of(5), msg::graft{g.id, 1}, t0 + 20ms, fx);
  CHECK(sent<msg::gossip>(fx).empty());
  // The same peer Grafting another cached id is answered.
  auto h = gossip_of("another", 0);
  pt.receive(id_of(1), h, t0 + 20ms, fx);
  fx.clear();
  pt.receive(id_of(4), msg::graft{h.id, 1}, t0 + 30ms, fx);
  REQUIRE(sent<msg::gossip>(fx).size() == 1);
  // A Graft without an id is unaffected: it still makes its sender eager and sends nothing.
  pt.receive(id_of(4), msg::prune{}, t0 + 40ms, fx);
  CHECK(lazy(4));
  fx.clear();
  pt.receive(id_of(4), msg::graft{std::nullopt, 0}, t0 + 50ms, fx);
  pt.receive(id_of(4), msg::graft{std::nullopt, 0}, t0 + 50ms, fx);
  CHECK(eager(4));
  CHECK(fx.empty());
  CHECK(pt.graft_answer_count() == 3);
}

TEST_CASE("plumtree: the memory of answered Grafts stays bounded under a stream of distinct ids") {
  plumtree_config cfg;
  cfg.max_graft_answers = 16;
  plumtree pt{id_of(100), cfg};
  pt.neighbor_up(id_of(1));
  pt.neighbor_up(id_of(2));
  effects fx;
  pt.start(t0, fx);
  std::vector<msg::gossip> ms;
  for (int i = 0; i < 200; ++i) {
    ms.push_back(gossip_of("stream " + std::to_string(i), 0));
    pt.receive(id_of(1), ms.back(), t0, fx);
  }
  fx.clear();
  size_t answered = 0;
  for (const auto& m : ms) {
    pt.receive(id_of(2), msg::graft{m.id, 1}, t0 + 1ms, fx);
    CHECK(pt.graft_answer_count() <= cfg.max_graft_answers);
    answered += sent<msg::gossip>(fx).size();
    fx.clear();
  }
  CHECK(answered == ms.size()); // each distinct id answered once
  CHECK(pt.graft_answer_count() == cfg.max_graft_answers);
  // The newest pairs are the ones remembered: a repeat of the last id is still refused.
  pt.receive(id_of(2), msg::graft{ms.back().id, 1}, t0 + 2ms, fx);
  CHECK(sent<msg::gossip>(fx).empty());
  // The pairs expire with the cache retention (30 s), together with their payloads.
  pt.timer_fired({topic_timer::kind::evict_cache}, t0 + 29s, fx);
  CHECK(pt.graft_answer_count() == cfg.max_graft_answers);
  pt.timer_fired({topic_timer::kind::evict_cache}, t0 + 31s, fx);
  CHECK(pt.graft_answer_count() == 0);
  CHECK(pt.cache_size() == 0);
}

TEST_CASE_FIXTURE(fixture, "plumtree: the tree is optimised when a lazy path is 7 rounds shorter") {
  auto a = gossip_of("hi", 6);
  pt.receive(id_of(4), msg::ihave{{{a.id, 2}}}, t0, fx);
  fx.clear();
  pt.receive(id_of(1), a, t0, fx); // 7 - 2 = 5 < 7: nothing
  CHECK(sent<msg::graft>(fx).empty());
  CHECK(sent<msg::prune>(fx).empty());
  auto b = gossip_of("hi2", 9);
  pt.receive(id_of(4), msg::ihave{{{b.id, 2}}}, t0, fx);
  fx.clear();
  pt.receive(id_of(1), b, t0, fx); // 10 - 2 = 8 >= 7: swap
  auto gr = sent<msg::graft>(fx);
  REQUIRE(gr.size() == 1);
  CHECK(gr[0].first == id_of(4));
  CHECK_FALSE(gr[0].second.id.has_value());
  CHECK(gr[0].second.round == 2);
  auto pr = sent<msg::prune>(fx);
  REQUIRE(pr.size() == 1);
  CHECK(pr[0].first == id_of(1));
  CHECK(eager(4));
  CHECK(lazy(1));
  CHECK(received(fx).size() == 1);
}

TEST_CASE_FIXTURE(fixture, "plumtree: broadcast_neighbors goes to eager peers only and is not kept") {
  bytes c = {'n'};
  pt.broadcast(c, delivery_scope::kind::neighbors, t0, fx);
  auto g = sent<msg::gossip>(fx);
  CHECK(g.size() == 3);
  CHECK(g[0].second.scope.k == delivery_scope::kind::neighbors);
  CHECK(timers(fx).empty()); // no IHave for lazy peers
  CHECK_FALSE(pt.has_seen(message_id_of(c)));
  CHECK(pt.cache_size() == 0);
}

TEST_CASE_FIXTURE(fixture, "plumtree: a Neighbors-scope Gossip is delivered, not forwarded, not remembered") {
  bytes c = {'n', 'b'};
  msg::gossip g{message_id_of(c), c, {delivery_scope::kind::neighbors, 0}};
  pt.receive(id_of(1), g, t0, fx);
  auto ev = received(fx);
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].scope.k == delivery_scope::kind::neighbors);
  CHECK(sent<msg::gossip>(fx).empty());
  CHECK_FALSE(pt.has_seen(g.id));
  // The same content already seen through the swarm is dropped and its sender pruned.
  auto s = gossip_of("seen", 1);
  pt.receive(id_of(2), s, t0, fx);
  fx.clear();
  msg::gossip again{s.id, s.content, {delivery_scope::kind::neighbors, 0}};
  pt.receive(id_of(3), again, t0, fx);
  CHECK(received(fx).empty());
  CHECK(sent<msg::prune>(fx).size() == 1);
}

TEST_CASE_FIXTURE(fixture, "plumtree: payloads leave the cache after 30 s, ids after 90 s") {
  // The eviction ticks among the effects (receiving also arms the lazy push dispatch).
  auto evicts = [&] {
    auto all = timers(fx);
    decltype(all) out;
    for (auto& x : all)
      if (x.t.k == topic_timer::kind::evict_cache)
        out.push_back(x);
    return out;
  };
  pt.start(t0, fx);
  CHECK(timers(fx).empty()); // nothing to evict: an idle topic has no tick (issue 12)
  auto g = gossip_of("old", 0);
  pt.receive(id_of(1), g, t0, fx);
  auto t = evicts();
  REQUIRE(t.size() == 1);
  CHECK(t[0].at == t0 + 1s);
  CHECK(t[0].t.k == topic_timer::kind::evict_cache);
  fx.clear();
  pt.receive(id_of(1), gossip_of("another", 0), t0, fx);
  CHECK(evicts().empty()); // already armed
  fx.clear();
  pt.timer_fired({topic_timer::kind::evict_cache}, t0 + 29s, fx);
  CHECK(pt.cache_size() == 2);
  CHECK(evicts().size() == 1); // re-armed
  fx.clear();
  pt.timer_fired({topic_timer::kind::evict_cache}, t0 + 30s, fx);
  CHECK(pt.cache_size() == 0);
  CHECK(pt.has_seen(g.id));
  CHECK(evicts().size() == 1); // ids still held
  fx.clear();
  pt.timer_fired({topic_timer::kind::evict_cache}, t0 + 90s, fx);
  CHECK_FALSE(pt.has_seen(g.id));
  CHECK(evicts().empty()); // nothing left: the tick stops
  fx.clear();
  auto h = gossip_of("new", 0);
  pt.receive(id_of(1), h, t0 + 100s, fx);
  t = evicts();
  REQUIRE(t.size() == 1); // and starts again with the next message
  CHECK(t[0].at == t0 + 101s);
}

TEST_CASE("plumtree: IHave batches fit the max message size") {
  plumtree pt{id_of(100), plumtree_config{}};
  effects fx;
  pt.neighbor_up(id_of(1));
  pt.neighbor_up(id_of(2));
  pt.receive(id_of(2), msg::prune{}, t0, fx);
  for (int i = 0; i < 300; ++i)
    pt.receive(id_of(1), gossip_of("m" + std::to_string(i), 0), t0, fx);
  fx.clear();
  pt.timer_fired({topic_timer::kind::dispatch_lazy_push}, t0 + 5ms, fx);
  auto ih = sent<msg::ihave>(fx);
  size_t per = (default_max_message_size - ihave_header_size) / ihave_entry_size;
  REQUIRE(ih.size() == (300 + per - 1) / per);
  size_t total = 0;
  for (auto& [to, m] : ih) {
    CHECK(to == id_of(2));
    CHECK(encoded_size(message{topic_id{}, m}) <= default_max_message_size);
    total += m.entries.size();
  }
  CHECK(total == 300);
}

TEST_CASE_FIXTURE(fixture, "plumtree: IHave floods are bounded") {
  plumtree_config cfg;
  cfg.max_missing = 10;
  plumtree small{id_of(100), cfg};
  small.neighbor_up(id_of(1));
  msg::ihave flood;
  for (int i = 0; i < 50; ++i) {
    message_id id{};
    id[0] = uint8_t(i);
    flood.entries.push_back({id, 0});
  }
  small.receive(id_of(1), flood, t0, fx);
  CHECK(small.missing_count() == 10);
  CHECK(timers(fx).size() == 10);
  small.neighbor_down(id_of(1));
  CHECK(small.missing_count() == 0);
}

TEST_CASE("plumtree: the cache and the seen ids stay within their memory bounds") {
  plumtree_config cfg;
  cfg.max_cache_bytes = 1000;
  cfg.max_seen_ids = 5;
  plumtree pt{id_of(100), cfg};
  pt.neighbor_up(id_of(1));
  effects fx;
  std::vector<msg::gossip> ms;
  for (int i = 0; i < 10; ++i) {
    auto m = gossip_of(std::string(300, char('a' + i)), 0);
    ms.push_back(m);
    if (i % 2)
      pt.broadcast(m.content.to_bytes(), delivery_scope::kind::swarm, t0, fx);
    else
      pt.receive(id_of(1), m, t0, fx);
    CHECK(pt.cache_bytes() <= cfg.max_cache_bytes);
    CHECK(pt.seen_count() <= cfg.max_seen_ids);
  }
  CHECK(pt.cache_size() == 3); // 3 x 300 bytes fit in 1000
  CHECK(pt.cache_bytes() == 900);
  // The newest survive; the oldest went first.
  CHECK(pt.has_seen(ms[9].id));
  CHECK(pt.has_seen(ms[5].id));
  CHECK_FALSE(pt.has_seen(ms[4].id));
  fx.clear();
  pt.receive(id_of(1), msg::graft{ms[9].id, 0}, t0, fx);
  CHECK(sent<msg::gossip>(fx).size() == 1); // still cached: answered
  fx.clear();
  pt.receive(id_of(1), msg::graft{ms[6].id, 0}, t0, fx);
  CHECK(sent<msg::gossip>(fx).empty()); // evicted for space: not answered
}

TEST_CASE("plumtree: a new neighbour is told by IHave what came within 10 s, newest 256 at most") {
  plumtree_config cfg;
  cfg.neighbor_up_announce_max = 3;
  plumtree pt{id_of(100), cfg};
  pt.neighbor_up(id_of(1));
  effects fx;
  auto old = gossip_of("old", 2);
  pt.receive(id_of(1), old, t0, fx);
  std::vector<msg::gossip> recent;
  for (int i = 0; i < 4; ++i) {
    recent.push_back(gossip_of("recent " + std::to_string(i), uint16_t(i)));
    pt.receive(id_of(1), recent.back(), t0 + 8s, fx);
  }
  pt.broadcast(bytes{'o', 'w', 'n'}, delivery_scope::kind::swarm, t0 + 9s, fx);
  pt.broadcast(bytes{'n'}, delivery_scope::kind::neighbors, t0 + 9s, fx); // not kept
  fx.clear();
  pt.neighbor_up(id_of(2), t0 + 12s, fx);
  auto t = timers(fx);
  REQUIRE(t.size() == 1);
  CHECK(t[0].t.k == topic_timer::kind::dispatch_lazy_push);
  CHECK(sent<msg::ihave>(fx).empty()); // batched with the next lazy push
  fx.clear();
  pt.timer_fired(t[0].t, t[0].at, fx);
  auto ih = sent<msg::ihave>(fx);
  REQUIRE(ih.size() == 1);
  CHECK(ih[0].first == id_of(2));
  // The newest three (our own broadcast, recent 3, recent 2), oldest first; "old" (12 s ago)
  // is outside the window even though its payload is still cached.
  auto& e = ih[0].second.entries;
  REQUIRE(e.size() == 3);
  CHECK(e[0].id == recent[2].id);
  CHECK(e[0].round == 3); // the round it is forwarded with
  CHECK(e[1].id == recent[3].id);
  CHECK(e[2].id == message_id_of(bytes{'o', 'w', 'n'}));
  CHECK(pt.cache_size() == 6);
  // The newcomer is an eager peer like any other.
  CHECK(pt.eager_peers().count(id_of(2)) == 1);

  // Off when the window is zero.
  cfg.neighbor_up_announce = duration::zero();
  plumtree quiet{id_of(100), cfg};
  quiet.broadcast(bytes{'q'}, delivery_scope::kind::swarm, t0, fx);
  fx.clear();
  quiet.neighbor_up(id_of(2), t0 + 1s, fx);
  CHECK(fx.empty());
}

TEST_CASE_FIXTURE(fixture, "plumtree: a Graft refused as repeated is answered again on the peer's next link") {
  // The answer to a Graft can be lost with the link it went out on. The link that replaces
  // it (NeighborDown then NeighborUp, or a renewal) announces the id again, and the peer's
  // Graft for it is answered once more, once.
  auto g = gossip_of("lost with its link", 0);
  pt.receive(id_of(1), g, t0, fx);
  fx.clear();
  pt.receive(id_of(4), msg::graft{g.id, 1}, t0, fx);
  REQUIRE(sent<msg::gossip>(fx).size() == 1);
  fx.clear();
  pt.neighbor_down(id_of(4));
  pt.neighbor_up(id_of(4), t0 + 1s, fx);
  fx.clear();
  pt.receive(id_of(4), msg::graft{g.id, 1}, t0 + 1s, fx);
  CHECK(sent<msg::gossip>(fx).size() == 1);
  fx.clear();
  pt.receive(id_of(4), msg::graft{g.id, 1}, t0 + 1s, fx);
  CHECK(sent<msg::gossip>(fx).empty());
  CHECK(pt.stats().repeated_grafts == 1);
  // A renewal of that link: answered once more, too.
  pt.link_renewed(id_of(4), t0 + 3s, fx);
  fx.clear();
  pt.receive(id_of(4), msg::graft{g.id, 1}, t0 + 3s, fx);
  CHECK(sent<msg::gossip>(fx).size() == 1);
  fx.clear();
  pt.receive(id_of(4), msg::graft{g.id, 1}, t0 + 3s, fx);
  CHECK(sent<msg::gossip>(fx).empty());
  CHECK(pt.stats().repeated_grafts == 2);
}

TEST_CASE_FIXTURE(fixture, "plumtree: a renewed link is told the recent ids again, once per second, in place") {
  auto g = gossip_of("in flight when the link died", 0);
  pt.receive(id_of(2), g, t0, fx);
  auto announced_to = [&](uint8_t p, time_point at) {
    auto t = timers(fx);
    for (auto& x : t)
      if (x.t.k == topic_timer::kind::dispatch_lazy_push)
        pt.timer_fired(x.t, at, fx);
    size_t n = 0;
    for (auto& [to, ih] : sent<msg::ihave>(fx))
      if (to == id_of(p))
        for (auto& e : ih.entries)
          n += e.id == g.id;
    fx.clear();
    return n;
  };
  CHECK(announced_to(4, t0 + 5ms) == 1); // the lazy push of g
  // Eager peer 1 and lazy peer 4 keep their places; each is told g again.
  pt.link_renewed(id_of(1), t0 + 1s, fx);
  CHECK(announced_to(1, t0 + 1s) == 1);
  CHECK(eager(1));
  pt.link_renewed(id_of(4), t0 + 1s, fx);
  CHECK(announced_to(4, t0 + 1s) == 1);
  CHECK(lazy(4));
  CHECK_FALSE(eager(4));
  // A second renewal within the interval does nothing (a peer may renew at will).
  pt.link_renewed(id_of(1), t0 + 1500ms, fx);
  CHECK(fx.empty());
  pt.link_renewed(id_of(1), t0 + 2s, fx);
  CHECK(announced_to(1, t0 + 2s) == 1);
  CHECK(pt.stats().renewals == 3);
  // Not a neighbour: ignored.
  pt.link_renewed(id_of(9), t0 + 5s, fx);
  CHECK(fx.empty());
  // A neighbour that just came up was told already: no renewal within the interval.
  pt.neighbor_up(id_of(6), t0 + 6s, fx);
  CHECK(announced_to(6, t0 + 6s) == 1);
  pt.link_renewed(id_of(6), t0 + 6500ms, fx);
  CHECK(fx.empty());
  CHECK(pt.stats().renewals == 3);
}
