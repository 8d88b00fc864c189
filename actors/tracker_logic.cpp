#include "actors/tracker_logic.hpp"

#include "crypto/hardened.hpp"
#include "crypto/hash.hpp"

#include <map>

#include <algorithm>
#include <set>

namespace dtt::tracker {

topic_keys::topic_keys(crypto::topic_id t, crypto::signing_key k, byte_view initial_secret,
                       crypto::rotation_handle r, bool hardened_slots)
  : topic(t),
    node_key(std::move(k)),
    initial_secret_hash(crypto::initial_secret_hash(initial_secret)),
    rotation(std::move(r)),
    hardened(hardened_slots),
    membership(crypto::derive_membership(topic.hash(), initial_secret_hash)) {
}

uint64_t record_rejections::total() const noexcept {
  return malformed + undecryptable + bad_signature + wrong_topic + stale;
}

record_rejections& record_rejections::operator+=(const record_rejections& o) noexcept {
  malformed += o.malformed;
  undecryptable += o.undecryptable;
  bad_signature += o.bad_signature;
  wrong_topic += o.wrong_topic;
  stale += o.stale;
  duplicate += o.duplicate;
  return *this;
}

void record_rejections::count(errc e) noexcept {
  switch (e) {
    case errc::decrypt_failed:
    case errc::crypto_failure: ++undecryptable; break;
    case errc::bad_signature:
    case errc::bad_key: ++bad_signature; break;
    case errc::wrong_topic: ++wrong_topic; break;
    case errc::wrong_minute: ++stale; break;
    default: ++malformed; break;
  }
}

namespace {

// The minute's BEP 44 signing key and salt, standard (§1.4, §1.5) or hardened.
std::pair<crypto::signing_key, bytes32> slot_keys(const topic_keys& keys, uint64_t minute) {
  if (keys.hardened) {
    auto s = crypto::hardened::derive(keys.topic, keys.rotation, keys.initial_secret_hash, minute);
    return {crypto::signing_key::from_seed(s.dht_seed), s.salt};
  }
  return {crypto::signing_keypair(keys.topic, minute), crypto::salt(keys.topic, minute)};
}

} // namespace

minute_slot slot_for(const topic_keys& keys, uint64_t minute) {
  auto [k, s] = slot_keys(keys, minute);
  return {k.public_key_bytes(), s};
}

int64_t item_seq(const topic_keys& keys, int64_t unix_seconds) noexcept {
  return keys.hardened ? crypto::hardened::seq_at(unix_seconds) : record_seq;
}

int64_t item_cas(const topic_keys& keys) noexcept {
  return keys.hardened ? int64_t{-1} : record_seq;
}

std::vector<crypto::record> records_from_items(const topic_keys& keys, uint64_t minute,
                                               const std::vector<dht::mutable_item>& items,
                                               size_t* dropped, record_rejections* why) {
  auto enc = crypto::encryption_keypair(keys.topic, keys.rotation, keys.initial_secret_hash,
                                        minute);
  std::vector<crypto::record> out;
  std::map<crypto::public_key, std::pair<size_t, int64_t>> seen; // publisher → (index, seq)
  record_rejections r;
  for (auto& it : items) {
    auto rec = crypto::open_record(it.value, keys.topic, minute, enc);
    if (!rec) {
      r.count(rec.err().code);
      continue;
    }
    if (rec->pub_key() == keys.node_key.public_key_bytes())
      continue;
    // Standard writers all use seq i64::MAX, so "keep the highest seq" keeps the first
    // (§4.4 step 3); hardened items carry their write time, and the newest wins.
    auto [s, fresh] = seen.emplace(rec->pub_key(), std::make_pair(out.size(), it.seq));
    if (fresh) {
      out.push_back(std::move(*rec));
      continue;
    }
    ++r.duplicate;
    if (it.seq > s->second.second) {
      out[s->second.first] = std::move(*rec);
      s->second.second = it.seq;
    }
  }
  if (dropped)
    *dropped = static_cast<size_t>(r.total());
  if (why)
    *why += r;
  return out;
}

crypto::record make_record(const topic_keys& keys, uint64_t minute,
                           const std::vector<endpoint_id>& active_peers,
                           const std::vector<bytes32>& message_hashes) {
  auto content = crypto::gossip_record_content::make(active_peers, message_hashes);
  return crypto::record::sign(keys.topic.hash(), minute, content.encode(), keys.node_key);
}

result<dht::mutable_item> make_item(const topic_keys& keys, const crypto::record& r,
                                    crypto::random_source& rng, int64_t unix_seconds) {
  auto minute = r.unix_minute();
  auto enc = crypto::encryption_keypair(keys.topic, keys.rotation, keys.initial_secret_hash,
                                        minute);
  auto sealed = crypto::encrypted_record::seal(r, enc.public_key_bytes(), rng);
  if (!sealed)
    return sealed.err();
  auto value = sealed->to_bytes();
  if (!value)
    return value.err();
  auto [dht_key, s] = slot_keys(keys, minute);
  if (unix_seconds == 0)
    unix_seconds = static_cast<int64_t>(minute * 60);
  return dht::mutable_item::sign(dht_key, bytes(s.begin(), s.end()), item_seq(keys, unix_seconds),
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
