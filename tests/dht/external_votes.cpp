#include "dht/external_votes.hpp"

#include <doctest/doctest.h>

using namespace dtt;
using namespace dtt::dht;

namespace {

endpoint voter(uint8_t n, uint16_t port = 6881) { return endpoint::v4(198, 51, 100, n, port); }
const endpoint ours = endpoint::v4(203, 0, 113, 7, 40000);
const endpoint other = endpoint::v4(203, 0, 113, 99, 40000);

} // namespace

TEST_CASE("external address: decided by min_votes distinct responders, with their port") {
  external_votes v;
  CHECK(v.vote(voter(1), ours) == external_votes::outcome::counted);
  CHECK(v.vote(voter(2), ours) == external_votes::outcome::counted);
  CHECK_FALSE(v.current());
  CHECK(v.vote(voter(3), ours) == external_votes::outcome::changed);
  REQUIRE(v.current());
  CHECK(*v.current() == ours);
  CHECK(v.changes() == 1);
  // The port most voters saw wins (a NAT that maps per destination gives several).
  auto p2 = ours;
  p2.port = 1234;
  CHECK(v.vote(voter(4), p2) == external_votes::outcome::counted);
  CHECK(v.current()->port == 40000);
}

TEST_CASE("external address: one IP voting many times, from many ports, counts once") {
  external_votes v;
  for (uint16_t port = 1; port < 2000; ++port)
    CHECK(v.vote(voter(66, port), other) != external_votes::outcome::changed);
  CHECK(v.voters() == 1);
  CHECK(v.votes_for(other) == 1);
  CHECK_FALSE(v.current());
  // Two honest responders are not enough yet; the flooder cannot tip anything.
  v.vote(voter(1), ours);
  v.vote(voter(2), ours);
  v.vote(voter(66, 9), other);
  CHECK_FALSE(v.current());
  CHECK(v.vote(voter(3), ours) == external_votes::outcome::changed);
  CHECK(*v.current() == ours);
}

TEST_CASE("external address: a minority flip-flopping between addresses changes nothing") {
  external_votes v;
  for (uint8_t i = 1; i <= 6; ++i)
    v.vote(voter(i), ours);
  REQUIRE(v.current());
  CHECK(v.changes() == 1);
  // Five attacker IPs (less than a majority) alternate their claim 200 times.
  for (int round = 0; round < 200; ++round)
    for (uint8_t i = 100; i < 105; ++i)
      CHECK(v.vote(voter(i), round % 2 ? ours : other) != external_votes::outcome::changed);
  CHECK(*v.current() == ours);
  CHECK(v.changes() == 1);
}

TEST_CASE("external address: a table near 50/50 does not flip back and forth") {
  external_votes v;
  for (uint8_t i = 1; i <= 9; ++i)
    v.vote(voter(i), ours);
  // Voters move to `other` one by one: the change needs a strict majority and min_votes more.
  size_t switched_at = 0;
  for (uint8_t i = 1; i <= 9; ++i)
    if (v.vote(voter(i), other) == external_votes::outcome::changed)
      switched_at = i;
  CHECK(switched_at == 6); // 6 against 3: majority and 3 ahead (5 against 4 is not enough)
  CHECK(*v.current() == other);
  // One voter going back and forth at the boundary does not flip it again.
  for (int round = 0; round < 50; ++round)
    v.vote(voter(uint8_t(1 + round % 3)), round % 2 ? ours : other);
  CHECK(*v.current() == other);
  CHECK(v.changes() == 2);
}

TEST_CASE("external address: the table is bounded and forgets the oldest voters") {
  external_votes v(external_votes::config{8, 3});
  for (int i = 0; i < 1000; ++i)
    v.vote(endpoint::v4(10, uint8_t(i >> 8), uint8_t(i), 1, 6881), i < 990 ? other : ours);
  CHECK(v.voters() == 8);
  // The last 10 voters said `ours`: the 8 kept all did.
  CHECK(v.votes_for(ours) == 8);
  CHECK(*v.current() == ours);
}

TEST_CASE("external address: malformed reports are ignored, and families are separate") {
  external_votes v;
  auto v6 = endpoint::parse("[2001:db8::1]:6881");
  REQUIRE(v6);
  CHECK(v.vote(*v6, ours) == external_votes::outcome::ignored); // v4 report from a v6 voter
  CHECK(v.vote(voter(1), endpoint::v4(0, 0, 0, 0, 80)) == external_votes::outcome::ignored);
  CHECK(v.vote(voter(1), endpoint::v4(203, 0, 113, 7, 0)) == external_votes::outcome::ignored);
  CHECK(v.ignored() == 3);
  CHECK(v.voters(4) == 0);
  auto ours6 = endpoint::parse("[2001:db8::77]:5000");
  for (uint8_t i = 1; i <= 3; ++i) {
    auto from = *v6;
    from.ip[15] = i;
    v.vote(from, *ours6);
  }
  CHECK(v.current(6));
  CHECK_FALSE(v.current(4));
  CHECK(v.voters(6) == 3);
}
