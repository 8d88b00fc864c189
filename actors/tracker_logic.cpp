#include "actors/tracker_logic.hpp"

#include "crypto/hash.hpp"

#include <algorithm>
#include <set>

namespace dtt::tracker {

topic_keys::topic_keys(crypto::topic_id t, crypto::signing_key k, byte_view initial_secret,
                       crypto::rotation_handle r)
  : topic(t),
    node_key(std::move(k)),
    initial_secret_hash(crypto::initial_secret_hash(initial_secret)),
    rotation(std::move(r)),
    membership(crypto::derive_membership(topic.hash(), initial_secret_hash)) {
}

minute_slot slot_for(const topic_keys& keys, uint64_t minute) {
  return {crypto::signing_keypair(keys.topic, minute).public_key_bytes(),
          crypto::salt(keys.topic, minute)};
}

std::vector<crypto::record> records_from_items(const topic_keys& keys, uint64_t minute,
                                               const std::vector<dht::mutable_item>& items,
                                               size_t* dropped) {
  auto enc = crypto::encryption_keypair(keys.topic, keys.rotation, keys.initial_secret_hash,
                                        minute);
  std::vector<crypto::record> out;
  std::set<crypto::public_key> seen;
  size_t bad = 0;
  for (auto& it : items) {
    auto rec = crypto::open_record(it.value, keys.topic, minute, enc);
    if (!rec) {
      ++bad;
      continue;
    }
    if (rec->pub_key() == keys.node_key.public_key_bytes())
      continue;
    // All writers use the same seq, so "keep the highest seq" keeps the first (§4.4 step 3).
    if (seen.insert(rec->pub_key()).second)
      out.push_back(std::move(*rec));
  }
  if (dropped)
    *dropped = bad;
  return out;
}

crypto::record make_record(const topic_keys& keys, uint64_t minute,
                           const std::vector<endpoint_id>& active_peers,
                           const std::vector<bytes32>& message_hashes) {
  auto content = crypto::gossip_record_content::make(active_peers, message_hashes);
  return crypto::record::sign(keys.topic.hash(), minute, content.encode(), keys.node_key);
}

result<dht::mutable_item> make_item(const topic_keys& keys, const crypto::record& r,
                                    crypto::random_source& rng) {
  auto minute = r.unix_minute();
  auto enc = crypto::encryption_keypair(keys.topic, keys.rotation, keys.initial_secret_hash,
                                        minute);
  auto sealed = crypto::encrypted_record::seal(r, enc.public_key_bytes(), rng);
  if (!sealed)
    return sealed.err();
  auto value = sealed->to_bytes();
  if (!value)
    return value.err();
  auto dht_key = crypto::signing_keypair(keys.topic, minute);
  auto s = crypto::salt(keys.topic, minute);
  return dht::mutable_item::sign(dht_key, bytes(s.begin(), s.end()), record_seq,
                                 std::move(*value));
}

std::vector<crypto::record> merge_records(std::vector<crypto::record> a,
                                          const std::vector<crypto::record>& b) {
  std::set<crypto::public_key> seen;
  for (auto& r : a)
    seen.insert(r.pub_key());
  for (auto& r : b)
    if (seen.insert(r.pub_key()).second)
      a.push_back(r);
  return a;
}

namespace {

struct candidate_set {
  std::vector<endpoint_id> order;
  std::set<endpoint_id> seen;
  void add(const endpoint_id& id) {
    if (seen.insert(id).second)
      order.push_back(id);
  }
};

bool contains(const std::vector<endpoint_id>& xs, const endpoint_id& x) {
  return std::find(xs.begin(), xs.end(), x) != xs.end();
}

std::vector<endpoint_id> shuffle_cut(std::vector<endpoint_id> xs, size_t n,
                                     std::mt19937_64& rng) {
  std::shuffle(xs.begin(), xs.end(), rng);
  if (xs.size() > n)
    xs.resize(n);
  return xs;
}

} // namespace

std::vector<endpoint_id> bootstrap_candidates(const std::vector<crypto::record>& records,
                                              const endpoint_id& self) {
  candidate_set c;
  for (auto& r : records) {
    if (r.pub_key() != self && crypto::is_valid_public_key(r.pub_key()))
      c.add(r.pub_key());
    auto content = r.gossip_content();
    if (!content)
      continue;
    for (auto& p : content->peers())
      if (p != self && crypto::is_valid_public_key(p))
        c.add(p);
  }
  return c.order;
}

std::vector<endpoint_id> bubble_merge_candidates(const std::vector<crypto::record>& records,
                                                 const std::vector<endpoint_id>& neighbors,
                                                 const endpoint_id& self,
                                                 const bubble_merge_config& cfg,
                                                 std::mt19937_64& rng) {
  if (neighbors.size() >= cfg.min_neighbors || records.empty())
    return {};
  candidate_set c;
  auto usable = [&](const endpoint_id& id) {
    return id != self && !contains(neighbors, id) && crypto::is_valid_public_key(id);
  };
  for (auto& r : records) {
    if (auto content = r.gossip_content())
      for (auto& p : content->peers())
        if (p != r.pub_key() && usable(p))
          c.add(p);
    if (usable(r.pub_key()))
      c.add(r.pub_key());
  }
  return shuffle_cut(std::move(c.order), cfg.max_join_peers, rng);
}

std::vector<endpoint_id> overlap_merge_candidates(const std::vector<crypto::record>& records,
                                                  const std::vector<bytes32>& local_hashes,
                                                  const std::vector<endpoint_id>& neighbors,
                                                  const endpoint_id& self,
                                                  size_t max_join_peers, std::mt19937_64& rng) {
  if (local_hashes.empty())
    return {};
  std::set<bytes32> local(local_hashes.begin(), local_hashes.end());
  candidate_set c;
  auto usable = [&](const endpoint_id& id) {
    return id != self && !contains(neighbors, id) && crypto::is_valid_public_key(id);
  };
  for (auto& r : records) {
    auto content = r.gossip_content();
    if (!content)
      continue;
    auto hashes = content->hashes();
    if (hashes.empty())
      continue;
    bool disjoint = std::none_of(hashes.begin(), hashes.end(),
                                 [&](const bytes32& h) { return local.count(h) > 0; });
    if (!disjoint)
      continue;
    if (usable(r.pub_key()))
      c.add(r.pub_key());
    for (auto& p : content->peers())
      if (usable(p))
        c.add(p);
  }
  return shuffle_cut(std::move(c.order), max_join_peers, rng);
}

duration jittered(duration base, duration max_jitter, std::mt19937_64& rng) {
  if (max_jitter.count() <= 0)
    return base;
  std::uniform_int_distribution<int64_t> dist(0, max_jitter.count() - 1);
  return base + duration{dist(rng)};
}

void message_hash_window::push(byte_view content) {
  hashes_.push_back(crypto::sha512_32({content}));
  if (hashes_.size() > crypto::max_message_hashes)
    hashes_.erase(hashes_.begin());
}

} // namespace dtt::tracker
