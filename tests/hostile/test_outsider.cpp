// Issue 11, finding 1: a node that knows the topic name but not the secret must never become a
// neighbour of the honest nodes, never receive their broadcasts, and never deliver one to them.
// Two outsiders: one that joins through the public API with a wrong secret, and one that uses
// the honest nodes' gossip topic id directly on its own gossip actor (a topic id alone must not
// be enough: admission asks for proof of the membership key, bound to the TLS connection).
// Honest nodes: two library nodes, or a dttd and a library node, on a loopback DHT testnet.
#include "hostile/support/harness.hpp"

#include <doctest/doctest.h>

using namespace dtt::hostile;

namespace {

void check_outsider_kept_out(victim_kind honest_a, outsider_kind kind) {
  outsider_scenario s;
  s.honest_a = honest_a;
  s.outsider = kind;
  s.dttd_path = DTT_DAEMON_PATH;
  auto r = run_outsider_scenario(s);
  INFO("honest joined " << r.honest_joined << ", honest exchange " << r.honest_exchange
                        << ", outsider attempted " << r.outsider_attempted
                        << ", outsider neighbour " << r.outsider_neighbor
                        << ", outsider received " << r.outsider_received
                        << ", honest received from outsider " << r.honest_received);
  REQUIRE(r.error.empty());
  // Preconditions: the honest nodes work, and the attack was really tried.
  REQUIRE(r.honest_joined);
  REQUIRE(r.outsider_attempted);
  CHECK(r.honest_exchange);
  // The bars.
  CHECK_FALSE(r.outsider_neighbor);
  CHECK(r.outsider_received == 0);
  CHECK(r.honest_received == 0);
}

} // namespace

TEST_CASE("outsider with the topic name and a wrong secret is kept out of two library nodes") {
  check_outsider_kept_out(victim_kind::library, outsider_kind::wrong_secret);
}

TEST_CASE("outsider with the honest gossip topic id but no secret is kept out of two library "
          "nodes") {
  check_outsider_kept_out(victim_kind::library, outsider_kind::topic_id);
}

TEST_CASE("outsider with the topic name and a wrong secret is kept out of a dttd and a library "
          "node") {
  check_outsider_kept_out(victim_kind::dttd, outsider_kind::wrong_secret);
}

TEST_CASE("outsider with the honest gossip topic id but no secret is kept out of a dttd and a "
          "library node") {
  check_outsider_kept_out(victim_kind::dttd, outsider_kind::topic_id);
}
