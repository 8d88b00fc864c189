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
  // Fill the old bucket from its replacements if the split emptied slots.
  while (old.nodes.size() < cfg_.k && !old.replacements.empty()) {
    old.nodes.push_back(old.replacements.back());
    old.replacements.pop_back();
  }
}

void routing_table::add_replacement(bucket& b, const entry& e) {
  for (auto& r : b.replacements) {
    if (r.node.id == e.node.id) {
      r.last_seen = e.last_seen;
      r.confirmed = r.confirmed || e.confirmed;
      return;
    }
  }
  if (b.replacements.size() >= cfg_.replacements)
    b.replacements.erase(b.replacements.begin());
  b.replacements.push_back(e);
}

bool routing_table::heard_from(const node_entry& n, time_point now, bool confirmed) {
  if (n.id == own_)
    return false;
  while (true) {
    size_t idx = bucket_index(n.id);
    auto& b = buckets_[idx];
    for (auto& e : b.nodes) {
      if (e.node.id == n.id) {
        if (e.node.ep != n.ep)
          return true; // keep the first address seen for an id (no hijacking by re-announcing)
        e.last_seen = now;
        if (confirmed) {
          e.failures = 0;
          e.confirmed = true;
          b.last_changed = now;
        }
        return true;
      }
    }
    entry fresh{n, now, 0, confirmed};
    if (b.nodes.size() < cfg_.k) {
      b.nodes.push_back(fresh);
      b.last_changed = now;
      return true;
    }
    if (idx == buckets_.size() - 1 && buckets_.size() < 160) {
      split_last();
      continue;
    }
    if (confirmed) {
      auto worst = std::max_element(b.nodes.begin(), b.nodes.end(),
                                    [](const entry& a, const entry& c) {
                                      return a.failures < c.failures;
                                    });
      if (worst->failures > 0) {
        *worst = fresh;
        b.last_changed = now;
        return true;
      }
    }
    add_replacement(b, fresh);
    return false;
  }
}

void routing_table::failed(const node_id& id) {
  auto& b = buckets_[bucket_index(id)];
  for (auto it = b.nodes.begin(); it != b.nodes.end(); ++it) {
    if (it->node.id != id)
      continue;
    ++it->failures;
    if (it->failures >= cfg_.stale_failures && !b.replacements.empty()) {
      // Prefer the most recent confirmed replacement.
      auto rep = std::find_if(b.replacements.rbegin(), b.replacements.rend(),
                              [](const entry& e) { return e.confirmed; });
      auto pick = rep != b.replacements.rend() ? std::prev(rep.base())
                                               : std::prev(b.replacements.end());
      *it = *pick;
      b.replacements.erase(pick);
    } else if (it->failures >= cfg_.max_failures) {
      b.nodes.erase(it);
    }
    return;
  }
  b.replacements.erase(std::remove_if(b.replacements.begin(), b.replacements.end(),
                                      [&](const entry& e) { return e.node.id == id; }),
                       b.replacements.end());
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

std::vector<node_entry> routing_table::all() const {
  std::vector<node_entry> out;
  for (auto& b : buckets_)
    for (auto& e : b.nodes)
      out.push_back(e.node);
  return out;
}

bytes routing_table::save() const {
  auto nodes = all();
  auto root = bencode::value::dict();
  root.set("nodes", bencode::value::string(compact_nodes(nodes, 4)));
  root.set("nodes6", bencode::value::string(compact_nodes(nodes, 6)));
  return bencode::encode(root);
}

result<std::vector<node_entry>> routing_table::load(byte_view saved) {
  constexpr size_t max_nodes = 4096;
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
