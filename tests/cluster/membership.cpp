// cluster/membership and cluster/record in virtual time: announce, re-announce, expiry,
// incarnations, registry events, and records that break a limit or a signature.
#include "cluster/membership.hpp"

#include <doctest/doctest.h>

using namespace dtt;
using namespace dtt::cluster_core;
using namespace std::chrono_literals;
using kind = membership_event::kind;

namespace {

bytes32 cluster_id() {
  bytes32 c{};
  c[0] = 0xc1;
  return c;
}

crypto::signing_key key_of(uint8_t n) {
  bytes32 seed{};
  seed[0] = n;
  return crypto::signing_key::from_seed(seed);
}

// The state machine's tests connect from both ends; one test checks the one-way rule.
membership_options both_ways() {
  membership_options o;
  o.lower_id_connects = false;
  return o;
}

struct node {
  crypto::signing_key key;
  membership m;
  node(uint8_t n, uint64_t incarnation, membership_options o = both_ways())
    : key(key_of(n)), m(key, cluster_id(), incarnation, o) {
    m.set_local(bytes{1, 2, n}, {socket_address{"127.0.0.1", static_cast<uint16_t>(4000 + n)}});
  }
};

std::vector<kind> kinds(const effects& e) {
  std::vector<kind> out;
  for (auto& ev : e.events)
    out.push_back(ev.k);
  return out;
}

// Delivers every broadcast of `from` to `to`, returning `to`'s effects.
effects deliver(const effects& from, membership& to, time_ms now) {
  effects out;
  for (auto& b : from.broadcasts)
    out.append(to.handle_record(b, now));
  return out;
}

} // namespace

TEST_CASE("record: round trip, and every broken field is refused") {
  auto k = key_of(1);
  member_record r;
  r.id = k.public_key_bytes();
  r.incarnation = 7;
  r.seq = 3;
  r.node = bytes(24, 9);
  r.addresses = {{"127.0.0.1", 4433}, {"::1", 4434}};
  r.names = {"echo", "worker"};
  auto wire = encode_record(r, k, cluster_id());
  REQUIRE(wire);
  auto back = decode_record(*wire, cluster_id());
  REQUIRE(back);
  CHECK(back->id == r.id);
  CHECK(back->incarnation == 7);
  CHECK(back->seq == 3);
  CHECK(back->node == r.node);
  CHECK(back->addresses == r.addresses);
  CHECK(back->names == r.names);
  CHECK_FALSE(back->leaving);

  // Another cluster's id: the signature covers it.
  auto other = cluster_id();
  other[1] = 1;
  CHECK(decode_record(*wire, other).err().code == errc::bad_signature);
  // Every single-byte change is refused (no field escapes the signature or the grammar).
  for (size_t i = 0; i < wire->size(); ++i) {
    auto bad = *wire;
    bad[i] ^= 0x01;
    CHECK_FALSE(decode_record(bad, cluster_id()));
  }
  // Every truncation is refused.
  for (size_t n = 0; n < wire->size(); ++n)
    CHECK_FALSE(decode_record(byte_view(wire->data(), n), cluster_id()));
  // Signed by another key than the id it names.
  CHECK(encode_record(r, key_of(2), cluster_id()).err().code == errc::invalid_argument);
  // Limits on the sender side.
  auto big = r;
  big.names.clear();
  for (int i = 0; i < 33; ++i)
    big.names.push_back("n" + std::to_string(100 + i));
  CHECK(encode_record(big, k, cluster_id()).err().code == errc::too_large);
  auto unsorted = r;
  unsorted.names = {"b", "a"};
  CHECK_FALSE(encode_record(unsorted, k, cluster_id()));
  auto bad_ip = r;
  bad_ip.addresses = {{"localhost", 1}};
  CHECK_FALSE(encode_record(bad_ip, k, cluster_id()));
  CHECK_FALSE(valid_name(""));
  CHECK_FALSE(valid_name("a b"));
  CHECK_FALSE(valid_name(std::string(49, 'a')));
  CHECK(valid_name("jobs/worker-1.v2"));
  // Over max_record_size on the receiving side, before any parsing.
  CHECK(decode_record(bytes(4000, 0), cluster_id()).err().code == errc::too_large);
}

TEST_CASE("membership: two members learn each other, connect, and see names come and go") {
  node a(1, 100), b(2, 200);
  auto t = 0ms;
  auto sa = a.m.start(t);
  auto sb = b.m.start(t);
  REQUIRE(sa.broadcasts.size() == 1);
  // b hears a: asks to connect, announces itself again at once for the newcomer.
  auto eb = deliver(sa, b.m, t);
  REQUIRE(eb.connects.size() == 1);
  CHECK(eb.connects[0].id == a.key.public_key_bytes());
  CHECK(eb.connects[0].incarnation == 100);
  CHECK(eb.connects[0].addresses[0].port == 4001);
  CHECK(eb.events.empty()); // up only once the middleman link is
  // Nothing is up before connected(); then member_up (a publishes nothing yet).
  auto up = b.m.connected(a.key.public_key_bytes(), 100, t);
  CHECK(kinds(up) == std::vector<kind>{kind::member_up});
  CHECK(b.m.connected(a.key.public_key_bytes(), 100, t).events.empty()); // once only
  // a publishes: b sees actor_up for it.
  auto pub = a.m.publish("echo", t + 10ms);
  REQUIRE(pub);
  auto ev = deliver(*pub, b.m, t + 10ms);
  REQUIRE(kinds(ev) == std::vector<kind>{kind::actor_up});
  CHECK(ev.events[0].name == "echo");
  // The same record again (gossip duplicate or replay) changes nothing.
  auto dup = deliver(*pub, b.m, t + 20ms);
  CHECK(dup.events.empty());
  CHECK(b.m.stats().stale == 1);
  // Unpublish: actor_down.
  auto unpub = a.m.unpublish("echo", t + 30ms);
  CHECK(kinds(deliver(unpub, b.m, t + 30ms)) == std::vector<kind>{kind::actor_down});
  // A bad name is refused at the API.
  CHECK(a.m.publish("bad name", t).err().code == errc::invalid_argument);
}

TEST_CASE("membership: periodic re-announce keeps a member, silence expires it") {
  membership_options o = both_ways();
  o.announce_interval = 1000ms;
  o.expiry = 3000ms;
  node a(1, 100, o), b(2, 200, o);
  auto sa = a.m.start(0ms);
  b.m.start(0ms);
  deliver(sa, b.m, 0ms);
  b.m.connected(a.key.public_key_bytes(), 100, 0ms);
  // a ticks every 100 ms for 10 s, b hears everything: a stays.
  for (auto t = 100ms; t <= 10000ms; t += 100ms) {
    deliver(a.m.tick(t), b.m, t);
    auto eb = b.m.tick(t);
    CHECK(eb.disconnects.empty());
  }
  CHECK(a.m.self().seq == 11); // the start plus one per second
  CHECK(b.m.members().size() == 1);
  // a falls silent: once the expiry has passed (not before) b asks over the link first.
  effects probe;
  auto t = 10000ms;
  for (; t <= 20000ms && probe.probes.empty(); t += 100ms)
    probe = b.m.tick(t);
  CHECK(t > 12900ms);
  CHECK(t <= 13200ms);
  REQUIRE(probe.probes.size() == 1);
  CHECK(probe.probes[0].first == a.key.public_key_bytes());
  CHECK(probe.events.empty());
  // The link answers: a stays (its announcements were late, it is alive) until the next expiry.
  b.m.alive(a.key.public_key_bytes(), 100, t);
  CHECK(b.m.tick(t + 2900ms).probes.empty());
  CHECK(b.m.members().size() == 1);
  // Silent again and the probe goes unanswered: dropped after the grace.
  auto again = b.m.tick(t + 3000ms);
  CHECK(again.probes.size() == 1);
  CHECK(b.m.tick(t + 3000ms + o.neighbor_grace - 1ms).events.empty());
  effects drop = b.m.tick(t + 3000ms + o.neighbor_grace);
  CHECK(kinds(drop) == std::vector<kind>{kind::member_down});
  CHECK(b.m.members().empty());
  // b's next_deadline() says when to tick: never later than its own next announce.
  CHECK(b.m.next_deadline() <= t + 3000ms + o.neighbor_grace + 1000ms);
}

TEST_CASE("membership: a neighbour's departure plus a missed announce drops the member sooner") {
  membership_options o = both_ways();
  o.announce_interval = 1000ms;
  o.expiry = 10000ms;
  o.neighbor_grace = 1500ms;
  node a(1, 100, o), b(2, 200, o);
  deliver(a.m.start(0ms), b.m, 0ms);
  b.m.connected(a.key.public_key_bytes(), 100, 0ms);
  b.m.neighbor_down(a.key.public_key_bytes(), 500ms);
  // An announce within the grace keeps it (the neighbour link went, the member did not).
  deliver(a.m.tick(1000ms), b.m, 1000ms);
  CHECK(b.m.tick(1900ms).events.empty());
  CHECK(b.m.members().size() == 1);
  b.m.neighbor_down(a.key.public_key_bytes(), 2000ms);
  CHECK(b.m.tick(3400ms).probes.empty());
  // Missed: the link is asked; unanswered within the grace, a is dropped.
  CHECK(b.m.tick(3500ms).probes.size() == 1);
  CHECK(kinds(b.m.tick(5000ms)) == std::vector<kind>{kind::member_down});
}

TEST_CASE("membership: a restarted member replaces its old entry and old records stay ignored") {
  node a(1, 100), b(2, 200);
  auto first = a.m.start(0ms);
  auto pub = a.m.publish("echo", 0ms);
  REQUIRE(pub);
  deliver(first, b.m, 0ms);
  deliver(*pub, b.m, 0ms);
  b.m.connected(a.key.public_key_bytes(), 100, 0ms);
  // The same key restarts with a later incarnation and another node id.
  node a2(1, 150);
  a2.m.set_local(bytes{7, 7}, {socket_address{"127.0.0.1", 5001}});
  auto restarted = a2.m.start(1000ms);
  auto eb = deliver(restarted, b.m, 1000ms);
  CHECK(kinds(eb) == std::vector<kind>{kind::actor_down, kind::member_down});
  REQUIRE(eb.disconnects.size() == 1);
  REQUIRE(eb.connects.size() == 1);
  CHECK(eb.connects[0].incarnation == 150);
  CHECK(eb.connects[0].addresses[0].port == 5001);
  // The old run's link reports up or down late: ignored, the new entry stays.
  CHECK(b.m.connected(a.key.public_key_bytes(), 100, 1100ms).events.empty());
  CHECK(b.m.node_down(a.key.public_key_bytes(), 100, 1100ms).events.empty());
  CHECK(kinds(b.m.connected(a.key.public_key_bytes(), 150, 1200ms)) ==
        std::vector<kind>{kind::member_up});
  // A record of the old incarnation (replayed, or late through gossip) changes nothing.
  auto old = a.m.tick(2000ms + a.m.next_deadline());
  REQUIRE(!old.broadcasts.empty());
  auto late = deliver(old, b.m, 1300ms);
  CHECK(late.events.empty());
  CHECK(late.connects.empty());
  CHECK(b.m.members().at(a.key.public_key_bytes()).rec.incarnation == 150);
}

TEST_CASE("membership: node_down drops a member until it announces again, leave drops at once") {
  membership_options o = both_ways();
  o.announce_interval = 1000ms;
  node a(1, 100, o), b(2, 200, o), c(3, 300, o);
  auto sa = a.m.start(0ms);
  deliver(sa, b.m, 0ms);
  b.m.connected(a.key.public_key_bytes(), 100, 0ms);
  auto down = b.m.node_down(a.key.public_key_bytes(), 100, 500ms);
  CHECK(kinds(down) == std::vector<kind>{kind::member_down});
  // The same record again does not bring it back; a newer announce does (and reconnects).
  CHECK(deliver(sa, b.m, 600ms).connects.empty());
  auto again = deliver(a.m.tick(1000ms), b.m, 1000ms);
  REQUIRE(again.connects.size() == 1);
  CHECK(kinds(b.m.connected(a.key.public_key_bytes(), 100, 1100ms)) ==
        std::vector<kind>{kind::member_up});
  // A goodbye: dropped at once.
  CHECK(kinds(deliver(a.m.leave(), b.m, 1200ms)) == std::vector<kind>{kind::member_down});
  CHECK(b.m.members().empty());
  // A failed connection is retried after connect_retry while the record is fresh.
  auto ec = deliver(c.m.start(2000ms), b.m, 2000ms);
  REQUIRE(ec.connects.size() == 1);
  b.m.connect_failed(c.key.public_key_bytes(), 300, 2010ms);
  CHECK(b.m.tick(2500ms).connects.empty());
  CHECK(b.m.tick(3010ms).connects.size() == 1);
}

TEST_CASE("membership: hostile records are bounded and counted") {
  membership_options o = both_ways();
  o.max_members = 3;
  node b(2, 200, o);
  b.m.start(0ms);
  // Garbage of every small length, and a record signed for another cluster.
  for (size_t n = 0; n < 300; ++n)
    CHECK(b.m.handle_record(bytes(n, static_cast<uint8_t>(n)), 0ms).connects.empty());
  CHECK(b.m.stats().rejected == 300);
  // Our own key from another process: ignored and counted.
  node twin(2, 999, o);
  CHECK(deliver(twin.m.start(0ms), b.m, 0ms).connects.empty());
  CHECK(b.m.stats().own_key == 1);
  // Members beyond max_members are refused.
  size_t connects = 0;
  for (uint8_t i = 10; i < 20; ++i) {
    node x(i, 1, o);
    connects += deliver(x.m.start(0ms), b.m, 0ms).connects.size();
  }
  CHECK(connects == 3);
  CHECK(b.m.members().size() == 3);
  CHECK(b.m.stats().refused_full == 7);
}

TEST_CASE("membership: only the lower endpoint id of a pair opens the link") {
  membership_options o; // the default rule
  node a(1, 100, o), b(2, 200, o);
  auto sa = a.m.start(0ms);
  auto sb = b.m.start(0ms);
  auto at_b = deliver(sa, b.m, 0ms);
  auto at_a = deliver(sb, a.m, 0ms);
  bool a_lower = a.key.public_key_bytes() < b.key.public_key_bytes();
  CHECK(at_a.connects.size() == (a_lower ? 1u : 0u));
  CHECK(at_b.connects.size() == (a_lower ? 0u : 1u));
  // The other end is up once the opener says hello over the link (connected()).
  auto& opener = a_lower ? a : b;
  auto& other = a_lower ? b : a;
  CHECK(kinds(other.m.connected(opener.key.public_key_bytes(),
                                a_lower ? 100 : 200, 10ms)) == std::vector<kind>{kind::member_up});
  // Up: the waiting end never opens a link of its own.
  CHECK(other.m.tick(5000ms).connects.empty());
  // A member whose opener never says hello (it believes an old link is up) is connected from
  // this end after hello_wait.
  node c(3, 300, o);
  auto& waiter = c.key.public_key_bytes() < opener.key.public_key_bytes() ? opener : c;
  auto& quiet = &waiter == &c ? opener : c;
  auto fx = deliver(quiet.m.start(6000ms), waiter.m, 6000ms);
  REQUIRE(quiet.key.public_key_bytes() < waiter.key.public_key_bytes());
  CHECK(fx.connects.empty());
  CHECK(waiter.m.tick(6000ms + o.hello_wait - 1ms).connects.empty());
  CHECK(waiter.m.tick(6000ms + o.hello_wait).connects.size() == 1);
}
