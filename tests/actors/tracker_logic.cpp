#include "actors/tracker_logic.hpp"

#include <doctest/doctest.h>

#include <set>

using namespace dtt;
using namespace dtt::tracker;

namespace {

crypto::signing_key key(uint8_t n) {
  bytes32 seed{};
  seed[0] = n;
  seed[1] = 0x5a;
  return crypto::signing_key::from_seed(seed);
}

endpoint_id id(uint8_t n) { return key(n).public_key_bytes(); }

topic_keys keys_for(uint8_t n) {
  return topic_keys{crypto::topic_id::from_name("logic"), key(n), byte_view::of("secret")};
}

crypto::record rec(uint8_t publisher, std::vector<endpoint_id> peers,
                   std::vector<bytes32> hashes = {}, uint64_t minute = 100) {
  return make_record(keys_for(publisher), minute, peers, hashes);
}

bytes32 h(uint8_t n) {
  bytes32 x{};
  x[0] = n;
  return x;
}

} // namespace

TEST_CASE("records_from_items keeps valid foreign records, one per publisher") {
  auto me = keys_for(1);
  std::vector<dht::mutable_item> items;
  items.push_back(*make_item(me, make_record(me, 100, {}, {})));        // own: dropped
  items.push_back(*make_item(me, rec(2, {id(3)})));                    // kept
  items.push_back(*make_item(me, rec(2, {id(4)})));                    // duplicate publisher
  items.push_back(*make_item(me, rec(3, {})));                         // kept
  items.push_back(*make_item(me, rec(5, {}, {}, 101)));                // other minute: dropped
  auto other_secret = topic_keys{me.topic, key(6), byte_view::of("wrong")};
  items.push_back(*make_item(other_secret, rec(6, {})));               // wrong secret: dropped
  auto junk = items[1];
  junk.value[10] ^= 1;
  items.push_back(junk);                                               // tampered: dropped
  size_t dropped = 0;
  auto out = records_from_items(me, 100, items, &dropped);
  REQUIRE(out.size() == 2);
  CHECK(out[0].pub_key() == id(2));
  CHECK(out[0].gossip_content()->peers() == std::vector<endpoint_id>{id(3)});
  CHECK(out[1].pub_key() == id(3));
  CHECK(dropped == 3);
}

TEST_CASE("make_item writes seq = cas = i64::MAX under the minute's key and salt") {
  auto me = keys_for(1);
  auto r = rec(1, {});
  auto item = *make_item(me, r);
  auto slot = slot_for(me, 100);
  CHECK(item.seq == INT64_MAX);
  CHECK(item.key == slot.dht_key);
  CHECK(item.salt == bytes(slot.salt.begin(), slot.salt.end()));
  CHECK(item.verify());
  CHECK(item.value.size() == 604);
}

TEST_CASE("bootstrap candidates: publishers and their peers, minus us, invalid keys dropped") {
  bytes32 not_a_point{};
  not_a_point[0] = 2;
  auto records = std::vector<crypto::record>{rec(2, {id(3), id(1), not_a_point}), rec(3, {id(2)})};
  auto c = bootstrap_candidates(records, id(1));
  CHECK(c == std::vector<endpoint_id>{id(2), id(3)});
}

TEST_CASE("bubble merge acts only below min_neighbors and joins at most max_join_peers") {
  std::mt19937_64 rng{7};
  bubble_merge_config cfg;
  auto records = std::vector<crypto::record>{rec(2, {id(3), id(4)}), rec(5, {id(6)})};
  std::vector<endpoint_id> four = {id(10), id(11), id(12), id(13)};
  CHECK(bubble_merge_candidates(records, four, id(1), cfg, rng).empty());
  CHECK(bubble_merge_candidates({}, {}, id(1), cfg, rng).empty());
  std::vector<endpoint_id> nbrs = {id(3)};
  std::set<endpoint_id> seen;
  for (int i = 0; i < 50; ++i) {
    auto c = bubble_merge_candidates(records, nbrs, id(1), cfg, rng);
    REQUIRE(c.size() == 2);
    CHECK(c[0] != c[1]);
    for (auto& x : c) {
      CHECK(x != id(3)); // already a neighbour
      CHECK(x != id(1)); // us
      seen.insert(x);
    }
  }
  CHECK(seen == std::set<endpoint_id>{id(2), id(4), id(5), id(6)});
}

TEST_CASE("overlap merge acts only on records whose hashes are disjoint from ours") {
  std::mt19937_64 rng{9};
  auto overlapping = rec(2, {id(3)}, {h(1), h(2)});
  auto disjoint = rec(4, {id(5)}, {h(8)});
  auto no_hashes = rec(6, {id(7)}, {});
  std::vector<bytes32> local = {h(2), h(3)};
  CHECK(overlap_merge_candidates({overlapping, disjoint, no_hashes}, {}, {}, id(1), 5, rng)
          .empty()); // no local hashes → nothing to compare
  auto c = overlap_merge_candidates({overlapping, disjoint, no_hashes}, local, {}, id(1), 5, rng);
  CHECK(std::set<endpoint_id>(c.begin(), c.end()) == std::set<endpoint_id>{id(4), id(5)});
  auto cut = overlap_merge_candidates({disjoint}, local, {id(5)}, id(1), 2, rng);
  CHECK(cut == std::vector<endpoint_id>{id(4)});
}

TEST_CASE("jitter stays between base and base plus max and zero jitter adds nothing") {
  std::mt19937_64 rng{1};
  for (int i = 0; i < 1000; ++i) {
    auto d = jittered(10s, 50s, rng);
    CHECK(d >= 10s);
    CHECK(d < 60s);
  }
  CHECK(jittered(10s, 0ms, rng) == 10s);
}

TEST_CASE("the message hash window keeps the last five, oldest first") {
  message_hash_window w;
  for (uint8_t i = 0; i < 7; ++i)
    w.push(bytes{i});
  REQUIRE(w.hashes().size() == 5);
  message_hash_window expected;
  for (uint8_t i = 2; i < 7; ++i)
    expected.push(bytes{i});
  CHECK(w.hashes() == expected.hashes());
}

TEST_CASE("records_from_items counts dropped records by reason") {
  auto me = keys_for(1);
  std::vector<dht::mutable_item> items;
  items.push_back(*make_item(me, rec(2, {})));                           // kept
  items.push_back(*make_item(me, rec(2, {id(3)})));                      // duplicate
  {
    // A record of minute 101 sealed to minute 100's key (a replay by an insider): stale.
    auto enc = crypto::encryption_keypair(me.topic, me.rotation, me.initial_secret_hash, 100);
    auto sealed = crypto::encrypted_record::seal(rec(5, {}, {}, 101), enc.public_key_bytes(),
                                                 crypto::os_random());
    auto stale = items[0];
    stale.value = *sealed->to_bytes();
    items.push_back(stale);
  }
  auto other_secret = topic_keys{me.topic, key(6), byte_view::of("wrong")};
  items.push_back(*make_item(other_secret, rec(6, {})));                 // undecryptable
  auto junk = items[0];
  junk.value[100] ^= 1;                                                  // tampered: undecryptable
  items.push_back(junk);
  auto short_value = items[0];
  short_value.value.resize(3);                                           // malformed
  items.push_back(short_value);
  record_rejections why;
  size_t dropped = 0;
  auto out = records_from_items(me, 100, items, &dropped, &why);
  CHECK(out.size() == 1);
  CHECK(why.stale == 1);
  CHECK(why.undecryptable == 2);
  CHECK(why.malformed == 1);
  CHECK(why.duplicate == 1);
  CHECK(why.bad_signature == 0);
  CHECK(why.wrong_topic == 0);
  CHECK(dropped == why.total());
  CHECK(why.total() == 4);
  records_from_items(me, 100, items, nullptr, &why); // counters add up across reads
  CHECK(why.undecryptable == 4);
}

TEST_CASE("hardened items: secret-derived slot, seq = unix time, newest record per publisher") {
  auto plain = keys_for(1);
  auto hard = keys_for(1);
  hard.hardened = true;
  auto r = rec(2, {});
  auto item = *make_item(hard, r, crypto::os_random(), 6000 + 17);
  CHECK(item.seq == 6017);
  CHECK(item_cas(hard) == -1);
  CHECK(item_cas(plain) == INT64_MAX);
  CHECK(item.verify());
  auto slot = slot_for(hard, 100);
  CHECK(item.key == slot.dht_key);
  CHECK(item.salt == bytes(slot.salt.begin(), slot.salt.end()));
  // Not the public slot, and another secret gives another slot.
  CHECK(slot.dht_key != slot_for(plain, 100).dht_key);
  auto other = topic_keys{hard.topic, key(1), byte_view::of("wrong"), {}, true};
  CHECK(slot_for(other, 100).dht_key != slot.dht_key);
  CHECK(slot_for(other, 100).salt != slot.salt);
  // Without a time, the start of the record's minute.
  CHECK(make_item(hard, r)->seq == 6000);
  // A reader keeps the newest item of a publisher.
  auto newer = *make_item(hard, rec(2, {id(4)}), crypto::os_random(), 6030);
  auto out = records_from_items(hard, 100, {item, newer});
  REQUIRE(out.size() == 1);
  CHECK(out[0].gossip_content()->peers() == std::vector<endpoint_id>{id(4)});
  out = records_from_items(hard, 100, {newer, item});
  REQUIRE(out.size() == 1);
  CHECK(out[0].gossip_content()->peers() == std::vector<endpoint_id>{id(4)});
}
