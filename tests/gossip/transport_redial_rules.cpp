#include "gossip/transport/redial.hpp"

#include <doctest/doctest.h>

using namespace dtt;
using namespace dtt::net;
using namespace std::chrono_literals;

namespace {

endpoint_id id(uint32_t n) {
  endpoint_id e{};
  e[0] = static_cast<uint8_t>(n);
  e[1] = static_cast<uint8_t>(n >> 8);
  e[2] = static_cast<uint8_t>(n >> 16);
  return e;
}

const auto t0 = redial_backoff::clock::time_point{} + 1h;

// Dials `peer` as soon as the back-off allows, each link closing at once, until `until`;
// returns how many dials went out.
size_t redial_loop(redial_backoff& b, const endpoint_id& peer, redial_backoff::clock::time_point from,
                   redial_backoff::clock::time_point until) {
  size_t n = 0;
  for (auto now = from; now < until; now = b.allowed_at(peer, now + 1ms)) {
    b.dialed(peer, now);
    b.link_ended(peer, 2ms);
    ++n;
  }
  return n;
}

} // namespace

TEST_CASE("redial: a peer whose links keep closing is redialled a few times at once, then less and less often") {
  redial_backoff b;
  CHECK(b.allowed_at(id(1), t0) == t0);
  for (int i = 0; i < 3; ++i) { // free dials
    REQUIRE(b.allowed_at(id(1), t0) == t0);
    b.dialed(id(1), t0);
  }
  CHECK(b.allowed_at(id(1), t0) == t0 + 100ms);
  b.dialed(id(1), t0 + 100ms);
  CHECK(b.allowed_at(id(1), t0 + 100ms) == t0 + 300ms);
  b.dialed(id(1), t0 + 300ms);
  CHECK(b.allowed_at(id(1), t0 + 300ms) == t0 + 700ms);
  // Another peer is not held back by this one.
  CHECK(b.allowed_at(id(2), t0 + 300ms) == t0 + 300ms);
}

TEST_CASE("redial: the soak's loop (a link closing right after each dial) stays far under the per-IP handshake budget") {
  // The peer's budget is 20 handshakes/s with a burst of 40 (transport_options): the soak saw
  // an honest node exceed it in ~2 s. With the back-off: 3 at once, then 100, 200, 400 ... ms.
  redial_backoff b;
  auto in_2s = redial_loop(b, id(7), t0, t0 + 2s);
  CHECK(in_2s <= 8);
  CHECK(in_2s >= 5);
  // And over a minute, the wait reaches its cap of 10 s.
  redial_backoff c;
  auto in_60s = redial_loop(c, id(7), t0, t0 + 60s);
  CHECK(in_60s <= 16);
  CHECK(c.allowed_at(id(7), t0 + 60s) - t0 - 60s <= 10s);
}

TEST_CASE("redial: a link that stayed up clears the history, and so does a quiet minute") {
  redial_backoff b;
  for (int i = 0; i < 8; ++i)
    b.dialed(id(1), t0);
  REQUIRE(b.allowed_at(id(1), t0) == t0 + 3200ms);
  b.link_ended(id(1), 9s); // short of `stable`: still held back
  CHECK(b.allowed_at(id(1), t0) > t0 + 1s);
  b.link_ended(id(1), 10s);
  CHECK(b.allowed_at(id(1), t0) == t0);
  CHECK(b.size() == 0);

  for (int i = 0; i < 6; ++i)
    b.dialed(id(1), t0);
  b.dialed(id(1), t0 + 30s); // 30 s later the history still counts: the 7th dial waits 1.6 s
  CHECK(b.allowed_at(id(1), t0 + 30s) == t0 + 30s + 1600ms);
  b.dialed(id(1), t0 + 90s); // a minute without a dial: forgotten, a free dial again
  CHECK(b.allowed_at(id(1), t0 + 90s) == t0 + 90s);
}

TEST_CASE("redial: the table is bounded whatever ids are dialled") {
  redial_backoff::config cfg;
  cfg.max_keys = 64;
  redial_backoff b(cfg);
  for (uint32_t i = 0; i < 10000; ++i)
    b.dialed(id(i), t0 + std::chrono::milliseconds(i));
  CHECK(b.size() == 64);
  // The most recent peers are the ones kept.
  for (int k = 0; k < 3; ++k)
    b.dialed(id(9999), t0 + 10s);
  CHECK(b.allowed_at(id(9999), t0 + 10s) > t0 + 10s);
}

TEST_CASE("duplicate links: both sides keep the one the smaller id dialed, but never a link saying goodbye") {
  // K (smaller id) and D each see the same two links: L dialed by K, and c dialed by D.
  const link_view l_at_k{true, 1, true}, c_at_k{false, 2, true};
  const link_view l_at_d{false, 7, true}, c_at_d{true, 8, true};
  CHECK_FALSE(keep_new_link(true, c_at_k, l_at_k));  // K keeps L
  CHECK(keep_new_link(false, l_at_d, c_at_d));       // D too, whichever arrived second
  CHECK_FALSE(keep_new_link(false, c_at_d, l_at_d));
  // Of two links dialed by the same side, the newer stays.
  CHECK(keep_new_link(true, link_view{true, 5, true}, link_view{true, 4, true}));
  CHECK_FALSE(keep_new_link(true, link_view{true, 3, true}, link_view{true, 4, true}));
  // The stress runs' storm: K's L already says goodbye (K closed it on request, or retired
  // it) and D, whose side of L is gone, dials c. K must keep c, or D redials at once, each
  // new link retired again (43 times in 150 ms).
  CHECK(keep_new_link(true, c_at_k, link_view{true, 1, false}));
}
