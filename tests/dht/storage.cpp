#include "dht/storage.hpp"

#include "dht/item.hpp"
#include "dht/krpc.hpp"
#include "dht/token.hpp"
#include "sim.hpp"

#include <doctest/doctest.h>

using namespace dtt;
using namespace dtt::dht;

namespace {
time_point t0 = time_point{} + std::chrono::hours(1);

crypto::signing_key key_from(uint8_t b) {
  bytes32 seed;
  seed.fill(b);
  return crypto::signing_key::from_seed(seed);
}

int put(item_store& s, const mutable_item& it, std::optional<int64_t> cas, time_point now = t0) {
  return s.put_mutable(it.key, it.salt, it.seq, cas, crypto::bep44::bencode_string(it.value),
                       it.signature, now);
}

bytes str_bytes(const std::string& s) { return bytes(s.begin(), s.end()); }
} // namespace

TEST_CASE("BEP 44 store: seq and cas follow mainline (equal seq overwrites)") {
  item_store s;
  auto k = key_from(1);
  auto a = mutable_item::sign(k, str_bytes("salt"), 5, str_bytes("first"));
  CHECK(put(s, a, std::nullopt) == 0);
  auto target = a.target();
  REQUIRE(s.get(target));
  CHECK(s.get(target)->seq == 5);
  // Equal seq with another value overwrites (PROTOCOL.md §4.2).
  auto b = mutable_item::sign(k, str_bytes("salt"), 5, str_bytes("second"));
  CHECK(put(s, b, std::nullopt) == 0);
  CHECK(s.get(target)->v == crypto::bep44::bencode_string(str_bytes("second")));
  // Lower seq: 302.
  auto c = mutable_item::sign(k, str_bytes("salt"), 4, str_bytes("old"));
  CHECK(put(s, c, std::nullopt) == krpc::code::seq_too_small);
  // cas present and different from the stored seq: 301, even with a higher seq.
  auto d = mutable_item::sign(k, str_bytes("salt"), 9, str_bytes("new"));
  CHECK(put(s, d, 4) == krpc::code::cas_mismatch);
  CHECK(put(s, d, 5) == 0);
  CHECK(s.get(target)->seq == 9);
  // cas on an absent item is ignored (nothing to compare with).
  auto e = mutable_item::sign(k, str_bytes("other"), 1, str_bytes("x"));
  CHECK(put(s, e, 77) == 0);
}

TEST_CASE("BEP 44 store: 205, 206 and 207") {
  item_store s;
  auto k = key_from(2);
  auto big = mutable_item::sign(k, {}, 1, bytes(1000, 'x'));
  CHECK(put(s, big, std::nullopt) == krpc::code::value_too_big);
  auto salty = mutable_item::sign(k, bytes(65, 's'), 1, str_bytes("v"));
  CHECK(put(s, salty, std::nullopt) == krpc::code::salt_too_big);
  auto ok = mutable_item::sign(k, bytes(64, 's'), 1, str_bytes("v"));
  CHECK(put(s, ok, std::nullopt) == 0);
  auto bad = mutable_item::sign(k, {}, 1, str_bytes("v"));
  bad.signature[0] ^= 1;
  CHECK(put(s, bad, std::nullopt) == krpc::code::bad_signature);
  bad = mutable_item::sign(k, {}, 1, str_bytes("v"));
  bad.seq = 2; // signature covers seq
  CHECK(put(s, bad, std::nullopt) == krpc::code::bad_signature);
  CHECK(s.put_immutable(bytes(1001, 'x'), t0) == krpc::code::value_too_big);
  CHECK(s.size() == 1);
}

TEST_CASE("BEP 44 store: bounded count evicts the oldest, items expire") {
  item_store::config cfg;
  cfg.max_items = 3;
  cfg.expiry = std::chrono::hours(2);
  item_store s(cfg);
  std::vector<crypto::bep44::target> targets;
  for (int i = 0; i < 4; ++i) {
    auto v = crypto::bep44::bencode_string(str_bytes("value" + std::to_string(i)));
    CHECK(s.put_immutable(v, t0 + std::chrono::seconds(i)) == 0);
    targets.push_back(crypto::bep44::immutable_target(v));
  }
  CHECK(s.size() == 3);
  CHECK(s.get(targets[0]) == nullptr);
  CHECK(s.get(targets[3]) != nullptr);
  s.expire(t0 + std::chrono::hours(2) + std::chrono::milliseconds(1500));
  CHECK(s.size() == 2); // value1 (stored at t0+1s) expired
  s.expire(t0 + std::chrono::hours(3));
  CHECK(s.size() == 0);
}

TEST_CASE("write tokens: per address, previous secret accepted, older rejected") {
  test::seeded_random rng(11);
  token_manager tm(rng);
  auto a = endpoint::v4(10, 0, 0, 1, 1);
  auto b = endpoint::v4(10, 0, 0, 2, 1);
  tm.tick(t0);
  auto tok = tm.make(a);
  CHECK(tm.check(tok, a));
  CHECK(tm.check(tok, endpoint::v4(10, 0, 0, 1, 999))); // port does not matter
  CHECK_FALSE(tm.check(tok, b));
  CHECK_FALSE(tm.check(bytes{1, 2, 3}, a));
  tm.tick(t0 + std::chrono::minutes(5));
  CHECK(tm.check(tok, a)); // previous secret still accepted
  tm.tick(t0 + std::chrono::minutes(10));
  CHECK_FALSE(tm.check(tok, a)); // two rotations later: expired
}

TEST_CASE("per-IP rate limiter allows a burst, then the configured rate") {
  rate_limiter rl(10, 20);
  auto a = endpoint::v4(10, 0, 0, 1, 1);
  auto b = endpoint::v4(10, 0, 0, 2, 1);
  int allowed = 0;
  for (int i = 0; i < 100; ++i)
    allowed += rl.allow(a, t0);
  CHECK(allowed == 20);
  CHECK(rl.allow(b, t0)); // other IPs unaffected
  allowed = 0;
  for (int i = 0; i < 100; ++i)
    allowed += rl.allow(a, t0 + std::chrono::seconds(1));
  CHECK(allowed == 10);
  rate_limiter off(0, 0);
  for (int i = 0; i < 100; ++i)
    CHECK(off.allow(a, t0));
}
