#include "dht/routing_table.hpp"

#include "dht/bencode.hpp"

#include <algorithm>

namespace dtt::dht {

routing_table::routing_table(node_id own, config cfg) : own_(own), cfg_(cfg) {
  buckets_.emplace_back();
}

size_t routing_table::bucket_index(const node_id& id) const noexcept {
  auto cpb = static_cast<size_t>(common_prefix_bits(own_, id));
  return std::min(cpb, buckets_.size() - 1);
}

void routing_table::split_last() {
  size_t idx = buckets_.size() - 1;
  buckets_.emplace_back();
  auto& old = buckets_[idx];
  auto& fresh = buckets_.back();
  fresh.last_changed = old.last_changed;
  auto moves = [&](const entry& e) {
    return static_cast<size_t>(common_prefix_bits(own_, e.node.id)) > idx;
  };
  for (auto* list : {&old.nodes, &old.replacements}) {
    auto& dst = list == &old.nodes ? fresh.nodes : fresh.replacements;
    auto it = std::stable_partition(list->begin(), list->end(),
                                    [&](const entry& e) { return !moves(e); });
    dst.insert(dst.end(), it, list->end());
    list->erase(it, list->end());
  }
  // Fill both buckets from their confirmed replacements if the split left slots free.
  for (auto* b : {&old, &fresh}) {
    for (auto it = b->replacements.end();
         it != b->replacements.begin() && b->nodes.size() < cfg_.k;) {
      --it;
      if (it->confirmed) {
        b->nodes.push_back(*it);
        it = b->replacements.erase(it);
      }
    }
  }
}

const char* outcome_name(table_outcome o) noexcept {
  switch (o) {
    case table_outcome::in_bucket: return "in_bucket";
    case table_outcome::candidate: return "candidate";
    case table_outcome::own_id: return "own_id";
    case table_outcome::address_mismatch: return "address_mismatch";
    case table_outcome::address_taken: return "address_taken";
    case table_outcome::bad_node_id: return "bad_node_id";
    case table_outcome::full: return "full";
  }
  return "unknown";
}

endpoint routing_table::key(const endpoint& ep) const noexcept {
  return cfg_.one_per_ip ? address_unit(ep) : ep;
}

bool routing_table::good_id(const node_entry& n) const noexcept {
  return !node_id_checks() || bep42_valid(n.id, n.ep);
}

void routing_table::remember(const entry& e) { by_address_[key(e.node.ep)] = e.node.id; }

void routing_table::forget(const entry& e) {
  auto it = by_address_.find(key(e.node.ep));
  if (it != by_address_.end() && it->second == e.node.id)
    by_address_.erase(it);
}

size_t routing_table::replaceable(const bucket& b, const node_entry& n) const noexcept {
  size_t worst = npos;
  for (size_t i = 0; i < b.nodes.size(); ++i)
    if (b.nodes[i].failures > 0 && (worst == npos || b.nodes[i].failures > b.nodes[worst].failures))
      worst = i;
  if (worst != npos)
    return worst;
  // BEP 42 prefer: a node whose id matches its address takes the slot of one whose id does not.
  if (cfg_.id_check == node_id_check::prefer && node_id_checks() && bep42_valid(n.id, n.ep))
    for (size_t i = 0; i < b.nodes.size(); ++i)
      if (!bep42_valid(b.nodes[i].node.id, b.nodes[i].node.ep))
        return i;
  return npos;
}

bool routing_table::wants(size_t idx, const node_entry& n) const noexcept {
  auto& b = buckets_[idx];
  return b.nodes.size() < cfg_.k || (idx + 1 == buckets_.size() && buckets_.size() < 160)
         || replaceable(b, n) != npos;
}

admission routing_table::add_replacement(bucket& b, const entry& e, bool wanted) {
  if (b.replacements.size() >= cfg_.replacements) {
    // Evict the oldest candidate that never answered; a confirmed node is evicted only for
    // another confirmed node.
    auto victim = std::find_if(b.replacements.begin(), b.replacements.end(),
                               [](const entry& r) { return !r.confirmed; });
    if (victim == b.replacements.end()) {
      if (!e.confirmed)
        return {table_outcome::full, false};
      victim = b.replacements.begin();
    }
    forget(*victim);
    b.replacements.erase(victim);
  }
  b.replacements.push_back(e);
  remember(e);
  return {table_outcome::candidate, wanted && !e.confirmed};
}

admission routing_table::heard_from(const node_entry& n, time_point now, bool confirmed) {
  if (n.id == own_)
    return {table_outcome::own_id, false};
  if (cfg_.id_check == node_id_check::enforce && !good_id(n))
    return {table_outcome::bad_node_id, false};
  if (auto it = by_address_.find(key(n.ep)); it != by_address_.end() && it->second != n.id) {
    // The address holds another id. Only a node that answered us displaces it, and only if
    // the holder is a candidate or failing (e.g. a node that restarted with a new id).
    auto& hb = buckets_[bucket_index(it->second)];
    auto same = [&](const entry& e) { return e.node.id == it->second; };
    auto* list = &hb.nodes;
    auto h = std::find_if(list->begin(), list->end(), same);
    if (h == list->end()) {
      list = &hb.replacements;
      h = std::find_if(list->begin(), list->end(), same);
    }
    if (h != list->end()) {
      if (!confirmed || (h->confirmed && h->failures == 0))
        return {table_outcome::address_taken, false};
      forget(*h);
      list->erase(h);
    } else {
      by_address_.erase(it); // unreachable: the index follows the buckets
    }
  }
  while (true) {
    size_t idx = bucket_index(n.id);
    auto& b = buckets_[idx];
    auto same = [&](const entry& e) { return e.node.id == n.id; };
    auto in = std::find_if(b.nodes.begin(), b.nodes.end(), same);
    if (in != b.nodes.end()) {
      if (in->node.ep != n.ep)
        return {table_outcome::address_mismatch, false}; // an id keeps its first address
      in->last_seen = now;
      if (confirmed) {
        in->failures = 0;
        in->confirmed = true;
        b.last_changed = now;
      }
      return {table_outcome::in_bucket, false};
    }
    auto rep = std::find_if(b.replacements.begin(), b.replacements.end(), same);
    if (rep != b.replacements.end()) {
      if (rep->node.ep != n.ep)
        return {table_outcome::address_mismatch, false};
      rep->last_seen = now;
      if (!confirmed)
        return {table_outcome::candidate, !rep->confirmed && wants(idx, n)};
      forget(*rep);
      b.replacements.erase(rep); // confirmed now: try the bucket below
    }
    entry fresh{n, now, 0, confirmed};
    if (!confirmed)
      return add_replacement(b, fresh, wants(idx, n));
    if (b.nodes.size() < cfg_.k) {
      b.nodes.push_back(fresh);
      remember(fresh);
      b.last_changed = now;
      return {table_outcome::in_bucket, false};
    }
    if (idx + 1 == buckets_.size() && buckets_.size() < 160) {
      split_last();
      continue;
    }
    if (auto slot = replaceable(b, n); slot != npos) {
      forget(b.nodes[slot]);
      b.nodes[slot] = fresh;
      remember(fresh);
      b.last_changed = now;
      return {table_outcome::in_bucket, false};
    }
    return add_replacement(b, fresh, false);
  }
}

void routing_table::failed(const node_id& id) {
  auto& b = buckets_[bucket_index(id)];
  for (auto it = b.nodes.begin(); it != b.nodes.end(); ++it) {
    if (it->node.id != id)
      continue;
    ++it->failures;
    if (it->failures >= cfg_.stale_failures) {
      // Swap in the most recent confirmed replacement; candidates must answer first.
      auto rep = std::find_if(b.replacements.rbegin(), b.replacements.rend(),
                              [](const entry& e) { return e.confirmed; });
      if (rep != b.replacements.rend()) {
        forget(*it);
        *it = *rep;
        b.replacements.erase(std::prev(rep.base()));
        return;
      }
    }
    if (it->failures >= cfg_.max_failures) {
      forget(*it);
      b.nodes.erase(it);
    }
    return;
  }
  for (auto it = b.replacements.begin(); it != b.replacements.end();) {
    if (it->node.id == id) {
      forget(*it);
      it = b.replacements.erase(it);
    } else {
      ++it;
    }
  }
}

std::vector<node_entry> routing_table::wanted_candidates(size_t count) const {
  std::vector<node_entry> out;
  for (size_t i = 0; i < buckets_.size() && out.size() < count; ++i)
    for (auto& r : buckets_[i].replacements)
      if (!r.confirmed && out.size() < count && wants(i, r.node))
        out.push_back(r.node);
  return out;
}

std::vector<node_entry> routing_table::questionable(size_t count) const {
  std::vector<node_entry> out;
  for (auto& b : buckets_) {
    if (b.replacements.empty())
      continue;
    for (auto& e : b.nodes)
      if (e.failures > 0 && e.failures < cfg_.stale_failures && out.size() < count)
        out.push_back(e.node);
  }
  return out;
}

std::vector<node_entry> routing_table::closest(const node_id& target, size_t count) const {
  std::vector<const entry*> all;
  for (auto& b : buckets_)
    for (auto& e : b.nodes)
      all.push_back(&e);
  auto by_distance = [&](const entry* a, const entry* b) {
    if (a->failures != b->failures && (a->failures >= cfg_.stale_failures
                                       || b->failures >= cfg_.stale_failures))
      return a->failures < b->failures;
    return closer(target, a->node.id, b->node.id);
  };
  size_t n = std::min(count, all.size());
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n), all.end(),
                    by_distance);
  std::vector<node_entry> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i)
    out.push_back(all[i]->node);
  return out;
}

std::vector<node_id> routing_table::refresh_targets(time_point now,
                                                    crypto::random_source& rng) {
  std::vector<node_id> out;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    auto& b = buckets_[i];
    if (b.last_changed == time_point{}) {
      b.last_changed = now;
      continue;
    }
    if (now - b.last_changed >= cfg_.bucket_refresh) {
      b.last_changed = now;
      out.push_back(random_id_with_prefix(own_, static_cast<int>(i), rng));
    }
  }
  return out;
}

size_t routing_table::size() const noexcept {
  size_t n = 0;
  for (auto& b : buckets_)
    n += b.nodes.size();
  return n;
}

size_t routing_table::replacement_count() const noexcept {
  size_t n = 0;
  for (auto& b : buckets_)
    n += b.replacements.size();
  return n;
}

const routing_table::entry* routing_table::find(const node_id& id) const noexcept {
  auto& b = buckets_[bucket_index(id)];
  for (auto& e : b.nodes)
    if (e.node.id == id)
      return &e;
  return nullptr;
}

std::vector<node_entry> routing_table::replacements() const {
  std::vector<node_entry> out;
  for (auto& b : buckets_)
    for (auto& e : b.replacements)
      out.push_back(e.node);
  return out;
}

std::vector<node_entry> routing_table::all() const {
  std::vector<node_entry> out;
  for (auto& b : buckets_)
    for (auto& e : b.nodes)
      out.push_back(e.node);
  return out;
}

bytes routing_table::save() const { return save(all()); }

bytes routing_table::save(const std::vector<node_entry>& nodes) {
  std::vector<node_entry> bounded;
  size_t per_family[2] = {0, 0};
  for (auto& n : nodes)
    if (per_family[n.ep.family == 6]++ < max_saved_nodes)
      bounded.push_back(n);
  auto root = bencode::value::dict();
  root.set("nodes", bencode::value::string(compact_nodes(bounded, 4)));
  root.set("nodes6", bencode::value::string(compact_nodes(bounded, 6)));
  return bencode::encode(root);
}

result<std::vector<node_entry>> routing_table::load(byte_view saved) {
  constexpr size_t max_nodes = max_saved_nodes;
  bencode::limits lim;
  lim.max_input = max_nodes * 38 * 2 + 64;
  lim.max_string = max_nodes * 38;
  lim.max_depth = 2;
  lim.max_items = 8;
  auto root = bencode::decode(saved, lim);
  if (!root)
    return root.err();
  if (!root->is_dict())
    return error{errc::malformed, "routing table file: not a dict"};
  std::vector<node_entry> out;
  for (auto [key, fam] : {std::pair<const char*, uint8_t>{"nodes", 4}, {"nodes6", 6}}) {
    auto* v = root->find(key);
    if (!v)
      continue;
    if (!v->is_string())
      return error{errc::malformed, "routing table file: nodes is not a string"};
    auto parsed = parse_compact_nodes(v->as_bytes(), fam, max_nodes);
    if (!parsed)
      return parsed.err();
    out.insert(out.end(), parsed->begin(), parsed->end());
  }
  return out;
}

} // namespace dtt::dht
