#include "gossip/plumtree.hpp"

#include "crypto/hash.hpp"

#include <algorithm>
#include <cstdint>

namespace dtt::gossip {

message_id message_id_of(byte_view content) { return crypto::sha256(content); }

plumtree::plumtree(endpoint_id me, plumtree_config cfg, uint64_t hash_key)
  : me_(me),
    cfg_(cfg),
    missing_(16, id_hasher(hash_key)),
    seen_(cfg.message_id_retention, cfg.message_cache_retention, cfg.max_seen_ids,
          cfg.max_cache_bytes, hash_key + 1),
    answered_(cfg.message_cache_retention, cfg.max_graft_answers, hash_key + 5),
    graft_timer_armed_(16, id_hasher(hash_key + 3)) {}

void plumtree::remember(const msg::gossip& m, time_point now, effects& out, bool absent) {
  seen_.insert(m, now, absent);
  arm_evict(now, out);
}

// The eviction timer runs only while something is held: an idle topic sets no timer (issue 12,
// "Idle ≈ 0"); ids and payloads still leave within cache_evict_interval of their retention.
void plumtree::arm_evict(time_point now, effects& out) {
  if (evict_armed_)
    return;
  evict_armed_ = true;
  out.push_back(effect::timer{now + cfg_.cache_evict_interval, {topic_timer::kind::evict_cache}});
}

void plumtree::start(time_point, effects&) {}

void plumtree::broadcast(shared_bytes content, delivery_scope::kind scope, time_point now,
                         effects& out) {
  msg::gossip m;
  m.id = message_id_of(content);
  m.content = std::move(content);
  m.scope.k = scope;
  m.scope.round = 0;
  if (scope == delivery_scope::kind::swarm) {
    remember(m, now, out);
    lazy_push(m, me_, now, out);
  }
  eager_push(m, me_, out);
}

void plumtree::receive(const endpoint_id& from, const msg::body& m, time_point now,
                       effects& out) {
  if (from == me_)
    return;
  if (auto* g = std::get_if<msg::gossip>(&m)) {
    ++stats_.payload_messages_received;
    on_gossip(from, *g, now, out);
    return;
  }
  if (std::holds_alternative<msg::prune>(m)) {
    ++stats_.control_messages_received;
    add_lazy(from);
  } else if (auto* gr = std::get_if<msg::graft>(&m)) {
    ++stats_.control_messages_received;
    on_graft(from, *gr, now, out);
  } else if (auto* ih = std::get_if<msg::ihave>(&m)) {
    ++stats_.control_messages_received;
    on_ihave(from, *ih, now, out);
  }
}

void plumtree::timer_fired(const topic_timer& t, time_point now, effects& out) {
  switch (t.k) {
    case topic_timer::kind::graft:
      on_graft_timer(t.id, now, out);
      break;
    case topic_timer::kind::dispatch_lazy_push:
      on_dispatch(out);
      break;
    case topic_timer::kind::evict_cache:
      on_evict(now, out);
      break;
    default:
      break;
  }
}

void plumtree::neighbor_up(const endpoint_id& peer) {
  if (peer == me_)
    return;
  lazy_.erase(peer);
  eager_.insert(peer);
  links_[peer] = link_state{++epochs_, std::nullopt};
}

void plumtree::neighbor_up(const endpoint_id& peer, time_point now, effects& out) {
  neighbor_up(peer);
  if (peer != me_)
    links_[peer].renewed_at = now; // the announcement below counts as this link's renewal
  announce_recent(peer, now, out);
}

void plumtree::link_renewed(const endpoint_id& peer, time_point now, effects& out) {
  auto it = links_.find(peer);
  if (it == links_.end())
    return;
  auto& l = it->second;
  if (l.renewed_at && now < *l.renewed_at + cfg_.renewal_interval)
    return;
  l.renewed_at = now;
  l.epoch = ++epochs_;
  ++stats_.renewals;
  announce_recent(peer, now, out);
}

void plumtree::announce_recent(const endpoint_id& peer, time_point now, effects& out) {
  if (peer == me_ || cfg_.neighbor_up_announce <= duration::zero())
    return;
  auto since = now - cfg_.neighbor_up_announce;
  std::vector<msg::ihave_entry> entries;
  seen_.for_each_recent(since, cfg_.neighbor_up_announce_max,
                        [&](const message_id& id, const delivery_scope& scope) {
                          entries.push_back(msg::ihave_entry{id, scope.round});
                        });
  if (entries.empty())
    return;
  // Oldest first, as lazy_push queues them; sent with the next IHave dispatch.
  auto& q = lazy_queue_[peer];
  q.insert(q.end(), entries.rbegin(), entries.rend());
  if (!dispatch_armed_) {
    dispatch_armed_ = true;
    out.push_back(
      effect::timer{now + cfg_.dispatch_timeout, {topic_timer::kind::dispatch_lazy_push}});
  }
}

void plumtree::neighbor_down(const endpoint_id& peer) {
  // "the record of IHAVE messages sent from failed members is deleted from the missing
  // history" (paper p9).
  for (auto it = missing_.begin(); it != missing_.end();) {
    auto& q = it->second;
    q.erase(std::remove_if(q.begin(), q.end(), [&](const auto& e) { return e.first == peer; }),
            q.end());
    it = q.empty() ? missing_.erase(it) : std::next(it);
  }
  eager_.erase(peer);
  lazy_.erase(peer);
  lazy_queue_.erase(peer);
  links_.erase(peer);
}

void plumtree::on_gossip(const endpoint_id& from, const msg::gossip& m, time_point now,
                         effects& out) {
  if (seen_.contains(m.id)) {
    // A duplicate: the link from `from` is redundant for this tree. Its content is not hashed
    // (the id's own content was checked when first seen; what this copy carries is dropped
    // either way, and a peer that sends a seen id with other content only prunes its own link).
    ++stats_.duplicates;
    add_lazy(from);
    out.push_back(effect::send{from, msg::prune{}});
    return;
  }
  if (message_id_of(m.content) != m.id)
    return; // a spoofed id: drop (PROTOCOL.md §8.4)
  if (m.scope.k == delivery_scope::kind::swarm) {
    msg::gossip next = m;
    next.scope.round = static_cast<uint16_t>(m.scope.round + 1);
    remember(next, now, out, true); // contains() was false above
    eager_push(next, from, out);
    lazy_push(next, from, now, out);
    graft_timer_armed_.erase(m.id);
    auto it = missing_.find(m.id);
    if (it != missing_.end()) {
      auto announced = std::move(it->second);
      missing_.erase(it);
      optimize(from, next.scope.round, announced, out);
    }
    stats_.max_last_delivery_hop = std::max(stats_.max_last_delivery_hop, m.scope.round);
  }
  out.push_back(effect::emit{event{event::kind::received, from, {}, m.scope}, m.content});
}

void plumtree::optimize(const endpoint_id& sender, uint16_t round,
                        const announcers& announced,
                        effects& out) {
  // If a lazy peer announced the message much closer to its origin than the eager path
  // delivered it, swap them (paper §3.8, "optimization").
  auto best = std::min_element(announced.begin(), announced.end(),
                               [](const auto& a, const auto& b) { return a.second < b.second; });
  if (best == announced.end())
    return;
  auto [peer, ihave_round] = *best;
  if (ihave_round >= round || round - ihave_round < cfg_.optimization_threshold)
    return;
  if (!eager_.count(peer)) {
    add_eager(peer);
    out.push_back(effect::send{peer, msg::graft{std::nullopt, ihave_round}});
  }
  add_lazy(sender);
  out.push_back(effect::send{sender, msg::prune{}});
}

void plumtree::on_ihave(const endpoint_id& from, const msg::ihave& m, time_point now,
                        effects& out) {
  // Each entry's seen check is a miss in a table far larger than the caches; the entries are
  // independent, so their slots are fetched a few entries ahead and the misses overlap.
  const auto& entries = m.entries;
  for (size_t i = 0; i < entries.size(); ++i) {
    fetch_ahead(i, entries.size(), 8, [&](size_t j) { seen_.prefetch(entries[j].id); });
    const auto& e = entries[i];
    if (seen_.contains(e.id))
      continue;
    auto it = missing_.find(e.id);
    if (it == missing_.end()) {
      if (missing_.size() >= cfg_.max_missing)
        continue;
      it = missing_.emplace(e.id, announcers{}).first;
    }
    auto& q = it->second;
    bool known = std::any_of(q.begin(), q.end(), [&](const auto& x) { return x.first == from; });
    if (!known && q.size() < cfg_.max_announcers)
      q.emplace_back(from, e.round);
    if (graft_timer_armed_.insert(e.id).second) {
      topic_timer t{topic_timer::kind::graft};
      t.id = e.id;
      out.push_back(effect::timer{now + cfg_.graft_timeout_1, t});
    }
  }
}

void plumtree::on_graft_timer(const message_id& id, time_point now, effects& out) {
  graft_timer_armed_.erase(id);
  auto it = missing_.find(id);
  if (seen_.contains(id) || it == missing_.end()) {
    if (it != missing_.end())
      missing_.erase(it);
    return;
  }
  // The announcer leaves the id's list as it is Grafted, so the next Graft for this id (after
  // graft_timeout_2) goes to the next announcer: we never Graft one peer twice for one id, and
  // on_graft answers a (peer, id) pair once.
  auto [peer, round] = it->second.front();
  it->second.erase(it->second.begin());
  if (it->second.empty())
    missing_.erase(it);
  add_eager(peer);
  out.push_back(effect::send{peer, msg::graft{id, round}});
  // "another timer is started ... to ensure that the message will be requested to another
  // neighbor if it is not received meanwhile" (paper p9).
  graft_timer_armed_.insert(id);
  topic_timer t{topic_timer::kind::graft};
  t.id = id;
  out.push_back(effect::timer{now + cfg_.graft_timeout_2, t});
}

void plumtree::on_graft(const endpoint_id& from, const msg::graft& m, time_point now,
                        effects& out) {
  add_eager(from);
  if (!m.id)
    return; // an optimisation Graft: only makes the sender eager
  auto cached = seen_.cached(*m.id);
  if (!cached)
    return;
  // An honest peer Grafts one announcer at most once per id (on_graft_timer moves on to the
  // next announcer), so a repeated Graft is a replay asking us to resend up to 4 KiB for a few
  // dozen bytes: answered once per (peer, id) while the payload is cached (graft_answers.hpp).
  auto link = links_.find(from);
  uint64_t epoch = link == links_.end() ? 0 : link->second.epoch;
  if (!answered_.first_answer(from, epoch, *m.id, now)) {
    ++stats_.repeated_grafts;
    return;
  }
  out.push_back(effect::send{from, std::move(*cached)});
}

void plumtree::on_dispatch(effects& out) {
  dispatch_armed_ = false;
  size_t room = cfg_.max_message_size > ihave_header_size
                  ? (cfg_.max_message_size - ihave_header_size) / ihave_entry_size
                  : 1;
  room = std::max<size_t>(room, 1);
  for (auto& [peer, list] : lazy_queue_) {
    for (size_t i = 0; i < list.size(); i += room) {
      msg::ihave batch;
      auto end = std::min(list.size(), i + room);
      batch.entries.assign(list.begin() + static_cast<std::ptrdiff_t>(i),
                           list.begin() + static_cast<std::ptrdiff_t>(end));
      out.push_back(effect::send{peer, std::move(batch)});
    }
  }
  lazy_queue_.clear();
}

void plumtree::on_evict(time_point now, effects& out) {
  evict_armed_ = false;
  seen_.expire(now);
  answered_.expire(now);
  if (seen_.size() > 0 || answered_.size() > 0)
    arm_evict(now, out);
}

void plumtree::eager_push(const msg::gossip& m, const endpoint_id& except, effects& out) {
  for (const auto& peer : eager_)
    if (peer != except && peer != me_)
      out.push_back(effect::send{peer, m});
}

void plumtree::lazy_push(const msg::gossip& m, const endpoint_id& except, time_point now,
                         effects& out) {
  if (m.scope.k != delivery_scope::kind::swarm)
    return;
  bool queued = false;
  for (const auto& peer : lazy_)
    if (peer != except) {
      lazy_queue_[peer].push_back(msg::ihave_entry{m.id, m.scope.round});
      queued = true;
    }
  if (queued && !dispatch_armed_) {
    dispatch_armed_ = true;
    out.push_back(
      effect::timer{now + cfg_.dispatch_timeout, {topic_timer::kind::dispatch_lazy_push}});
  }
}

// Only neighbours (peers HyParView reported up) move between the sets: a late Prune or Graft
// from a peer that went down must not bring it back.
void plumtree::add_eager(const endpoint_id& peer) {
  if (lazy_.erase(peer) || eager_.count(peer))
    eager_.insert(peer);
}

void plumtree::add_lazy(const endpoint_id& peer) {
  if (eager_.erase(peer) || lazy_.count(peer))
    lazy_.insert(peer);
}

} // namespace dtt::gossip
