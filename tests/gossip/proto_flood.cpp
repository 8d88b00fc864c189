// The flood guard as the protocol applies it (gossip/proto.hpp, gossip/flood_guard.hpp): every
// control message kind has a per-peer, per-topic budget; a message over it is refused.
#include "gossip/proto.hpp"

#include "effects_inspect.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace dtt;
using namespace dtt::gossip;
using namespace dtt::gossip::test;
using namespace std::chrono_literals;

namespace {

// A plausible message of each control kind (msg::body index) from a peer that floods.
msg::body sample(size_t kind) {
  const message_id x = message_id_of(bytes{7});
  switch (kind) {
    case 0: return msg::join{};
    case 1: return msg::forward_join{{id_of(9), peer_data{{"10.0.0.9", 9}}}, 6};
    case 2: return msg::shuffle{id_of(9), {{id_of(10), std::nullopt}}, 6};
    case 3: return msg::shuffle_reply{{{id_of(10), std::nullopt}}};
    case 4: return msg::neighbor{priority::high, std::nullopt};
    case 5: return msg::disconnect{true};
    case 7: return msg::prune{};
    case 8: return msg::graft{x, 1};
    default: return msg::ihave{{{x, 1}}};
  }
}

msg::gossip gossip_payload(uint32_t n) {
  bytes c = {uint8_t(n), uint8_t(n >> 8), uint8_t(n >> 16), 0xee};
  return msg::gossip{message_id_of(c), c, {delivery_scope::kind::swarm, 0}};
}

} // namespace

TEST_CASE("gossip proto: each control kind is refused past its budget and refills with time") {
  const config cfg;
  for (size_t kind : {0, 1, 2, 3, 4, 5, 7, 8, 9}) {
    const std::string name = kind_name(kind);
    CAPTURE(name);
    REQUIRE(cfg.flood.of(kind) != nullptr);
    const rate_limit& lim = *cfg.flood.of(kind);
    protocol p(id_of(1), {}, cfg, 1);
    p.join(topic_a, {}, t0);
    p.join(topic_b, {}, t0);
    const message m{topic_a, sample(kind)};
    // A burst within the budget is handled.
    for (size_t i = 0; i < lim.burst; ++i)
      REQUIRE(p.receive(id_of(2), m, t0).ok());
    p.take_outputs();
    // One more is refused, names its kind, and changes nothing; so are the same bytes.
    auto st = p.receive(id_of(2), m, t0);
    REQUIRE_FALSE(st.ok());
    CHECK(st.err().code == errc::refused);
    CHECK(st.err().what.rfind(name + " flood: over the budget of " + std::to_string(lim.burst),
                              0) == 0);
    CHECK_FALSE(p.has_outputs());
    CHECK(p.receive_bytes(id_of(2), encode(m), t0).err().code == errc::refused);
    CHECK_FALSE(p.has_outputs());
    // Other peers, other topics and Gossip payloads are not charged to that budget.
    CHECK(p.receive(id_of(3), m, t0).ok());
    CHECK(p.receive(id_of(2), {topic_b, sample(kind)}, t0).ok());
    CHECK(p.receive(id_of(2), {topic_a, gossip_payload(1)}, t0).ok());
    // Time earns one more message per interval...
    CHECK(p.receive(id_of(2), m, t0 + lim.interval).ok());
    CHECK(p.receive(id_of(2), m, t0 + lim.interval).err().code == errc::refused);
    // ...and a quiet spell the whole burst.
    auto later = t0 + lim.interval * static_cast<int64_t>(lim.burst + 1);
    for (size_t i = 0; i < lim.burst; ++i)
      REQUIRE(p.receive(id_of(2), m, later).ok());
    CHECK(p.receive(id_of(2), m, later).err().code == errc::refused);
  }
}

TEST_CASE("gossip proto: Gossip payloads are never refused by the flood guard") {
  protocol p(id_of(1), {}, config{}, 1);
  p.join(topic_a, {}, t0);
  for (uint32_t i = 0; i < 5000; ++i)
    REQUIRE(p.receive(id_of(2), {topic_a, gossip_payload(i)}, t0).ok());
}

TEST_CASE("gossip proto: the periodic cache tick forgets budgets that are full again") {
  protocol p(id_of(1), {}, config{}, 1);
  p.join(topic_a, {}, t0);
  REQUIRE(p.receive(id_of(2), {topic_a, msg::join{}}, t0).ok());  // full again at t0 + 1 s
  REQUIRE(p.receive(id_of(3), {topic_a, sample(9)}, t0).ok());   // IHave: at t0 + 0.5 ms
  REQUIRE(p.receive(id_of(4), {topic_a, msg::join{}}, t0).ok());  // two Joins: at t0 + 2 s
  REQUIRE(p.receive(id_of(4), {topic_a, msg::join{}}, t0).ok());
  CHECK(p.flood_budgets(topic_a)->size() == 3);
  // The tick is armed once the guard holds budgets (an idle topic has no tick, issue 12).
  timer_id evict = 0;
  for (auto& o : p.take_outputs())
    if (auto* t = std::get_if<output::arm_timer>(&o))
      if (t->at == t0 + p.cfg().broadcast.cache_evict_interval)
        evict = t->id;
  REQUIRE(evict != 0);
  p.timer_fired(evict, t0 + 1s);
  CHECK(p.flood_budgets(topic_a)->size() == 1);
  CHECK(p.flood_budgets(topic_b) == nullptr);
}
