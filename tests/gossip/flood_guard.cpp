// Per-peer message budgets (gossip/flood_guard.hpp), with a fake clock.
#include "gossip/flood_guard.hpp"

#include "effects_inspect.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace dtt;
using namespace dtt::gossip;
using namespace dtt::gossip::test;
using namespace std::chrono_literals;

namespace {
constexpr size_t kind_a = 1, kind_b = 7; // ForwardJoin, Prune
} // namespace

TEST_CASE("gossip flood guard: a burst passes, the next is refused, time earns one per interval") {
  flood_guard g;
  const rate_limit lim{4, 10ms};
  for (int i = 0; i < 4; ++i)
    CHECK(g.admit(id_of(2), kind_a, lim, t0));
  CHECK_FALSE(g.admit(id_of(2), kind_a, lim, t0));
  CHECK_FALSE(g.admit(id_of(2), kind_a, lim, t0 + 9ms));
  CHECK(g.admit(id_of(2), kind_a, lim, t0 + 10ms));
  CHECK_FALSE(g.admit(id_of(2), kind_a, lim, t0 + 10ms));
  // Refused messages cost nothing: after a long quiet spell the whole burst is back.
  auto later = t0 + 10ms + 4 * 10ms;
  for (int i = 0; i < 4; ++i)
    CHECK(g.admit(id_of(2), kind_a, lim, later));
  CHECK_FALSE(g.admit(id_of(2), kind_a, lim, later));
  // A steady sender at exactly the rate is never refused.
  auto t = later + 100ms;
  for (int i = 0; i < 1000; ++i, t += 10ms)
    REQUIRE(g.admit(id_of(3), kind_a, lim, t));
}

TEST_CASE("gossip flood guard: peers and kinds have their own budgets") {
  flood_guard g;
  const rate_limit lim{2, 1s};
  CHECK(g.admit(id_of(2), kind_a, lim, t0));
  CHECK(g.admit(id_of(2), kind_a, lim, t0));
  CHECK_FALSE(g.admit(id_of(2), kind_a, lim, t0));
  CHECK(g.admit(id_of(2), kind_b, lim, t0));
  CHECK(g.admit(id_of(3), kind_a, lim, t0));
  CHECK(g.size() == 2);
}

TEST_CASE("gossip flood guard: a zero burst refuses all, a zero interval admits all") {
  flood_guard g;
  CHECK_FALSE(g.admit(id_of(2), kind_a, rate_limit{0, 1s}, t0));
  for (int i = 0; i < 10000; ++i)
    REQUIRE(g.admit(id_of(2), kind_b, rate_limit{1, 0s}, t0));
  CHECK_FALSE(g.admit(id_of(2), 99, rate_limit{8, 1s}, t0)); // not a message kind
}

TEST_CASE("gossip flood guard: stale entries are pruned and the peers remembered are bounded") {
  flood_guard g;
  const rate_limit lim{2, 60s};
  auto peer = [](size_t i) {
    endpoint_id id{};
    id[0] = uint8_t(i);
    id[1] = uint8_t(i >> 8);
    id[2] = 1;
    return id;
  };
  for (size_t i = 0; i < flood_guard::max_peers; ++i)
    REQUIRE(g.admit(peer(i), kind_a, lim, t0 + std::chrono::milliseconds(i)));
  CHECK(g.size() == flood_guard::max_peers);
  // Every entry is in debt, yet a newcomer is taken in: the entry closest to full (the oldest,
  // peer 0) is forgotten, and the map does not grow.
  auto now = t0 + 2s;
  CHECK(g.admit(peer(5000), kind_a, lim, now));
  CHECK(g.size() == flood_guard::max_peers);
  CHECK(g.admit(peer(1), kind_a, lim, now)); // still known: one message left
  CHECK_FALSE(g.admit(peer(1), kind_a, lim, now));
  CHECK(g.admit(peer(0), kind_a, lim, now)); // forgotten: a whole burst again
  CHECK(g.admit(peer(0), kind_a, lim, now));
  CHECK_FALSE(g.admit(peer(0), kind_a, lim, now));
  CHECK(g.size() == flood_guard::max_peers);
  // Once budgets are full again, adding a peer drops the stale entries first.
  auto quiet = t0 + 200s;
  CHECK(g.admit(peer(6000), kind_a, lim, quiet));
  CHECK(g.size() == 1);
  // prune() drops what has refilled and keeps what has not.
  CHECK(g.admit(peer(7000), kind_b, lim, quiet));
  g.prune(quiet + 30s);
  CHECK(g.size() == 2);
  g.prune(quiet + 60s);
  CHECK(g.size() == 0);
}

TEST_CASE("gossip flood guard: every control kind has a budget, Gossip payloads have none") {
  flood_limits lim;
  for (size_t k = 0; k < std::variant_size_v<msg::body>; ++k) {
    CAPTURE(k);
    if (k == 6) {
      CHECK(lim.of(k) == nullptr);
      CHECK(std::string(kind_name(k)) == "Gossip");
      continue;
    }
    REQUIRE(lim.of(k) != nullptr);
    CHECK(lim.of(k)->burst > 0);
    CHECK(lim.of(k)->interval > duration::zero());
  }
  CHECK(lim.of(10) == nullptr);
  CHECK(lim.of(0) == &lim.join);
  CHECK(lim.of(9) == &lim.ihave);
  topic_id t{};
  t.fill(0xab);
  CHECK(flood_error_text(1, lim.forward_join, t)
        == "ForwardJoin flood: over the budget of 256 (one more per 10 ms) for topic abababab");
  CHECK(flood_error_text(9, lim.ihave, t)
        == "IHave flood: over the budget of 2000 (one more per 500 us) for topic abababab");
}
