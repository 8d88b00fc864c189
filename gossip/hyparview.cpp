#include "gossip/hyparview.hpp"

#include <algorithm>

namespace dtt::gossip {

namespace {

bool contains(const std::vector<endpoint_id>& v, const endpoint_id& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// Bound on the Shuffles awaiting a reply (one per shuffle_interval is started; more are
// outstanding at once only if shuffle_reply_window exceeds the interval).
constexpr size_t max_outstanding_shuffles = 4;
// How long after a link ends its peer's parting ShuffleReply is still merged (dtt's choice):
// when both ends drop a link at once (a crowd of Joins makes this common), each one's
// ShuffleReply + Disconnect crosses the other's and arrives a trip after the link ended here;
// a trip is well under a second in the simulator and a few seconds at worst over a relay.
constexpr duration parting_grace = std::chrono::seconds(10);
// Bound on the peers holding a parting ShuffleReply credit (the active view, the Neighbor
// requests in flight and the links ended within parting_grace).
constexpr size_t max_parting_credits = 64;

bool erase(std::vector<endpoint_id>& v, const endpoint_id& x) {
  auto it = std::find(v.begin(), v.end(), x);
  if (it == v.end())
    return false;
  v.erase(it);
  return true;
}

} // namespace

hyparview::hyparview(endpoint_id me, std::optional<peer_data> me_data, hyparview_config cfg,
                     rng r)
  : me_(me), me_data_(std::move(me_data)), cfg_(cfg), rng_(r) {
}

void hyparview::start(time_point now, effects& out) {
  out.push_back(effect::timer{now + cfg_.shuffle_interval, {topic_timer::kind::shuffle}});
}

void hyparview::join(const endpoint_id& peer, time_point, effects& out) {
  if (peer == me_)
    return;
  out.push_back(effect::send{peer, msg::join{me_data_}});
}

const peer_data* hyparview::addresses_of(const endpoint_id& peer) const {
  auto it = addresses_.find(peer);
  return it == addresses_.end() ? nullptr : &it->second;
}

void hyparview::receive(const endpoint_id& from, const msg::body& m, time_point now,
                        effects& out) {
  if (!msg::is_swarm(m) || from == me_)
    return;
  ++stats_.messages_received;
  bool is_disconnect = std::holds_alternative<msg::disconnect>(m);
  if (auto* j = std::get_if<msg::join>(&m))
    on_join(from, j->data, now, out);
  else if (auto* fj = std::get_if<msg::forward_join>(&m))
    on_forward_join(from, *fj, now, out);
  else if (auto* s = std::get_if<msg::shuffle>(&m))
    on_shuffle(from, *s, now, out);
  else if (auto* sr = std::get_if<msg::shuffle_reply>(&m))
    on_shuffle_reply(from, *sr, now, out);
  else if (auto* n = std::get_if<msg::neighbor>(&m))
    on_neighbor(from, *n, now, out);
  else if (auto* d = std::get_if<msg::disconnect>(&m))
    on_disconnect(from, *d, now, out);
  // A connection that carried a swarm message but is not (or no longer) an active link is
  // closed after handling, unless we still wait for that peer's Neighbor answer (§8.3).
  if (!is_disconnect && !contains(active_, from) && !pending_.count(from)) {
    // ForwardJoin and Shuffle go only to peers the sender holds active: it holds us, we do
    // not hold it (our Disconnect was lost with a link, or its Neighbor reached us while we
    // held it and went unanswered). Tell it, or it keeps sending on links we keep closing
    // (the soak's redial storm, issue 17); alive: it may keep us passive.
    if (std::holds_alternative<msg::forward_join>(m) || std::holds_alternative<msg::shuffle>(m))
      out.push_back(effect::send{from, msg::disconnect{true}});
    out.push_back(effect::disconnect{from});
  }
}

void hyparview::timer_fired(const topic_timer& t, time_point now, effects& out) {
  if (t.k == topic_timer::kind::shuffle)
    on_shuffle_timer(now, out);
  else if (t.k == topic_timer::kind::neighbor_request)
    on_neighbor_timer(t.peer, now, out);
}

void hyparview::connection_closed(const endpoint_id& peer, time_point now, effects& out) {
  if (contains(active_, peer)) {
    pending_.erase(peer);
    remove_active(peer, removal::connection_closed, now, out);
    return;
  }
  if (drop_pending(peer, now)) {
    // Our Neighbor request could not be delivered: a failed dial (paper p7).
    alive_disconnect_.erase(peer);
    remove_passive(peer);
    refill({peer}, now, out);
    return;
  }
  if (!alive_disconnect_.erase(peer))
    remove_passive(peer);
}

void hyparview::quit(time_point, effects& out) {
  auto active = active_;
  for (const auto& peer : active) {
    erase(active_, peer);
    send_disconnect(peer, false, out);
  }
  pending_.clear();
  refused_.clear();
  parting_.clear();
  shuffles_out_.clear();
}

void hyparview::on_join(const endpoint_id& from, const std::optional<peer_data>& data,
                        time_point now, effects& out) {
  // "A node that receives a join request will start by adding the new node to its active view,
  // even if it has to drop a random node from it" (paper §4.2), then spread ForwardJoin.
  // A Join from a peer already active (it restarted, or lost its link to us while we kept
  // ours) is answered too: the joiner waits for a Neighbor, and a Join is never sent in
  // answer to one, so this cannot loop.
  bool was_active = contains(active_, from);
  add_active(from, data, priority::high, true, now, out);
  if (was_active)
    send_neighbor_ack(from, priority::high, out);
  peer_info info{from, data};
  for (const auto& peer : active_)
    if (peer != from)
      out.push_back(
        effect::send{peer, msg::forward_join{info, cfg_.active_random_walk_length}});
}

void hyparview::on_forward_join(const endpoint_id& from, const msg::forward_join& m,
                                time_point now, effects& out) {
  const endpoint_id& peer = m.peer.id;
  if (peer == me_)
    return;
  if (contains(active_, peer)) {
    learn(m.peer, out);
    send_neighbor_ack(peer, priority::high, out);
    return;
  }
  if (m.ttl == 0 || active_.size() <= 1) {
    // Instead of adding the peer at once we ask it to be our neighbour, and add it when it
    // answers, so that unreachable peers never enter the active view (as iroh-gossip does).
    learn(m.peer, out);
    request_neighbor(peer, priority::high, now, out);
    return;
  }
  if (m.ttl == cfg_.passive_random_walk_length)
    add_passive(peer, m.peer.data, out);
  if (pending_.count(peer))
    return;
  auto next = sample(active_, {from, peer}, 1);
  if (!next.empty())
    out.push_back(effect::send{next[0], msg::forward_join{m.peer, uint16_t(m.ttl - 1)}});
}

void hyparview::on_shuffle(const endpoint_id& from, const msg::shuffle& m, time_point now,
                           effects& out) {
  if (m.origin == me_)
    return;
  if (m.ttl == 0 || active_.size() <= 1) {
    // At most as many nodes as an honest Shuffle holds (ka + kp + its origin), not the 64 the
    // wire allows: one Shuffle must not replace our whole passive view.
    size_t len = std::min(m.nodes.size(),
                          cfg_.shuffle_active_view_count + cfg_.shuffle_passive_view_count + 1);
    for (size_t i = 0; i < len; ++i)
      add_passive(m.nodes[i].id, m.nodes[i].data, out);
    send_shuffle_reply(m.origin, len, out);
    return;
  }
  auto next = sample(active_, {m.origin, from}, 1);
  if (!next.empty())
    out.push_back(
      effect::send{next[0], msg::shuffle{m.origin, m.nodes, uint16_t(m.ttl - 1)}});
}

size_t hyparview::take_outstanding_shuffle(time_point now) {
  while (!shuffles_out_.empty() && shuffles_out_.front().first <= now)
    shuffles_out_.pop_front();
  if (shuffles_out_.empty())
    return 0;
  size_t len = shuffles_out_.front().second;
  shuffles_out_.pop_front();
  return len;
}

void hyparview::on_shuffle_reply(const endpoint_id& from, const msg::shuffle_reply& m,
                                 time_point now, effects& out) {
  // Merged only in the two cases in which §8.3 sends one (see the class comment); otherwise
  // anyone could fill our passive view with ids of its choice. Others are ignored, not refused
  // (a late answer may come from an honest but slow walk).
  // At most as many nodes as an honest reply holds (§8.3: ka + kp before a Disconnect, as many
  // as our Shuffle carried in an answer); the wire allows max_shuffle_nodes (64).
  auto merge = [&](size_t len, bool evict) {
    len = std::min(len, m.nodes.size());
    for (size_t i = 0; i < len; ++i)
      add_passive(m.nodes[i].id, m.nodes[i].data, out, evict);
    refill({}, now, out);
  };
  if (take_parting_credit(from, now)) {
    // Into free slots only: a peer can Join (always accepted) and leave just to send one.
    merge(cfg_.shuffle_active_view_count + cfg_.shuffle_passive_view_count, false);
    return;
  }
  if (size_t len = take_outstanding_shuffle(now)) {
    merge(len, true);
    return;
  }
  ++stats_.unsolicited_shuffle_replies;
}

void hyparview::link_started(const endpoint_id& peer, time_point now) {
  parting_[peer] = time_point::max();
  if (parting_.size() > max_parting_credits)
    drop_parting_credit(now);
}

bool hyparview::drop_pending(const endpoint_id& peer, time_point now) {
  if (!pending_.erase(peer))
    return false;
  link_ended(peer, now);
  return true;
}

void hyparview::link_ended(const endpoint_id& peer, time_point now) {
  auto it = parting_.find(peer);
  if (it != parting_.end() && it->second == time_point::max())
    it->second = now + parting_grace;
}

bool hyparview::take_parting_credit(const endpoint_id& peer, time_point now) {
  auto it = parting_.find(peer);
  if (it == parting_.end())
    return false;
  bool valid = it->second > now;
  parting_.erase(it);
  return valid;
}

void hyparview::drop_parting_credit(time_point now) {
  // The expired first, else the link that ended first (a live link's credit last).
  for (auto it = parting_.begin(); it != parting_.end();)
    it = it->second <= now ? parting_.erase(it) : std::next(it);
  if (parting_.size() <= max_parting_credits)
    return;
  auto oldest = std::min_element(parting_.begin(), parting_.end(),
                                 [](const auto& a, const auto& b) { return a.second < b.second; });
  parting_.erase(oldest);
}

void hyparview::on_neighbor(const endpoint_id& from, const msg::neighbor& m, time_point now,
                            effects& out) {
  bool is_reply = pending_.erase(from) != 0;
  refused_.erase(from);
  // High priority is always accepted (evicting if full); Low only into a free slot (§4.3).
  if (!add_active(from, m.data, m.prio, !is_reply, now, out)) {
    link_ended(from, now);
    send_disconnect(from, true, out);
  }
}

void hyparview::on_disconnect(const endpoint_id& from, const msg::disconnect& m, time_point now,
                              effects& out) {
  bool was_pending = drop_pending(from, now);
  if (contains(active_, from)) {
    remove_active(from, m.alive ? removal::disconnect_alive : removal::disconnect_leaving, now,
                  out);
    return;
  }
  if (m.alive && contains(passive_, from))
    alive_disconnect_.insert(from);
  if (was_pending) {
    if (m.alive) {
      refused_.insert(from); // retried with another peer when its timer fires
    } else {
      remove_passive(from);
      refill({from}, now, out);
    }
  }
}

void hyparview::on_shuffle_timer(time_point now, effects& out) {
  auto target = sample(active_, {}, 1);
  if (!target.empty()) {
    const endpoint_id& node = target[0];
    msg::shuffle s;
    s.origin = me_;
    s.ttl = cfg_.shuffle_random_walk_length;
    for (const auto& id : sample(active_, {node}, cfg_.shuffle_active_view_count))
      s.nodes.push_back(info_of(id));
    for (const auto& id : sample(passive_, {node}, cfg_.shuffle_passive_view_count))
      s.nodes.push_back(info_of(id));
    s.nodes.push_back(peer_info{me_, me_data_});
    shuffles_out_.emplace_back(now + cfg_.shuffle_reply_window, s.nodes.size());
    out.push_back(effect::send{node, std::move(s)});
    while (shuffles_out_.size() > max_outstanding_shuffles)
      shuffles_out_.pop_front();
  }
  out.push_back(effect::timer{now + cfg_.shuffle_interval, {topic_timer::kind::shuffle}});
}

void hyparview::on_neighbor_timer(const endpoint_id& peer, time_point now, effects& out) {
  if (drop_pending(peer, now)) {
    // No answer: "node q is considered failed and removed from p's passive view" (p7).
    remove_passive(peer);
    refill({peer}, now, out);
  } else if (refused_.erase(peer)) {
    refill({peer}, now, out);
  }
}

bool hyparview::add_active(const endpoint_id& peer, const std::optional<peer_data>& data,
                           priority prio, bool reply, time_point now, effects& out) {
  if (peer == me_)
    return false;
  learn(peer_info{peer, data}, out);
  if (contains(active_, peer))
    return true;
  bool full = active_.size() >= cfg_.active_view_capacity;
  if (prio == priority::low && full)
    return false;
  if (full && !active_.empty()) {
    auto victim = active_[rng_.below(active_.size())];
    remove_active(victim, removal::random, now, out);
  }
  active_.push_back(peer);
  link_started(peer, now);
  erase(passive_, peer);
  alive_disconnect_.erase(peer);
  refused_.erase(peer);
  out.push_back(effect::emit{event{event::kind::neighbor_up, peer, {}, {}}, {}});
  if (reply)
    send_neighbor_ack(peer, prio, out);
  return true;
}

void hyparview::add_passive(const endpoint_id& peer, const std::optional<peer_data>& data,
                            effects& out, bool evict) {
  if (peer == me_)
    return;
  if (contains(active_, peer) || contains(passive_, peer)) {
    learn(peer_info{peer, data}, out);
    return;
  }
  // A peer that does not get in is not learned either (its addresses would outlive it).
  if (passive_.size() >= cfg_.passive_view_capacity && !passive_.empty()) {
    if (!evict)
      return;
    // Never evict a peer whose Neighbor request is outstanding.
    auto victims = sample(passive_, std::vector<endpoint_id>(pending_.begin(), pending_.end()), 1);
    if (victims.empty())
      return;
    remove_passive(victims[0]);
  }
  learn(peer_info{peer, data}, out);
  passive_.push_back(peer);
}

void hyparview::remove_active(const endpoint_id& peer, removal why, time_point now,
                              effects& out) {
  if (!erase(active_, peer))
    return;
  link_ended(peer, now);
  out.push_back(effect::emit{event{event::kind::neighbor_down, peer, {}, {}}, {}});
  bool keep_passive = false;
  switch (why) {
    case removal::random:
      send_disconnect(peer, true, out);
      keep_passive = true;
      break;
    case removal::disconnect_alive:
      out.push_back(effect::disconnect{peer});
      keep_passive = true;
      break;
    case removal::disconnect_leaving:
      out.push_back(effect::disconnect{peer});
      alive_disconnect_.erase(peer);
      break;
    case removal::connection_closed:
      out.push_back(effect::disconnect{peer});
      keep_passive = alive_disconnect_.erase(peer) != 0;
      break;
  }
  if (keep_passive) {
    auto it = addresses_.find(peer);
    std::optional<peer_data> data;
    if (it != addresses_.end())
      data = it->second;
    add_passive(peer, data, out);
    // The connection closes next; keep the peer passive when it does.
    if (why != removal::connection_closed)
      alive_disconnect_.insert(peer);
  } else {
    forget_if_unknown(peer);
  }
  refill({peer}, now, out);
}

void hyparview::remove_passive(const endpoint_id& peer) {
  erase(passive_, peer);
  forget_if_unknown(peer);
}

void hyparview::forget_if_unknown(const endpoint_id& peer) {
  if (contains(active_, peer) || contains(passive_, peer) || pending_.count(peer))
    return;
  addresses_.erase(peer);
  alive_disconnect_.erase(peer);
  refused_.erase(peer);
}

void hyparview::refill(const std::vector<endpoint_id>& skip, time_point now, effects& out) {
  if (active_.size() + pending_.size() + refused_.size() >= cfg_.active_view_capacity)
    return;
  std::vector<endpoint_id> skip_all = skip;
  skip_all.insert(skip_all.end(), pending_.begin(), pending_.end());
  skip_all.insert(skip_all.end(), refused_.begin(), refused_.end());
  auto pick = sample(passive_, skip_all, 1);
  if (pick.empty())
    return;
  request_neighbor(pick[0], active_.empty() ? priority::high : priority::low, now, out);
}

void hyparview::request_neighbor(const endpoint_id& peer, priority prio, time_point now,
                                 effects& out) {
  if (!pending_.insert(peer).second)
    return;
  link_started(peer, now);
  out.push_back(effect::send{peer, msg::neighbor{prio, me_data_}});
  out.push_back(effect::timer{now + cfg_.neighbor_request_timeout,
                              {topic_timer::kind::neighbor_request, peer}});
}

void hyparview::send_neighbor_ack(const endpoint_id& peer, priority prio, effects& out) {
  out.push_back(effect::send{peer, msg::neighbor{prio, me_data_}});
}

void hyparview::send_disconnect(const endpoint_id& peer, bool alive, effects& out) {
  // A ShuffleReply first, so that a peer we drop (often a fresh joiner) can refill its views.
  send_shuffle_reply(peer, cfg_.shuffle_active_view_count + cfg_.shuffle_passive_view_count, out);
  out.push_back(effect::send{peer, msg::disconnect{alive}});
  out.push_back(effect::disconnect{peer});
}

void hyparview::send_shuffle_reply(const endpoint_id& to, size_t len, effects& out) {
  len = std::min(len, max_shuffle_nodes);
  auto nodes = sample(passive_, {to}, len);
  if (nodes.size() < len) {
    auto more = sample(active_, {to}, len - nodes.size());
    nodes.insert(nodes.end(), more.begin(), more.end());
  }
  msg::shuffle_reply reply;
  for (const auto& id : nodes)
    reply.nodes.push_back(info_of(id));
  out.push_back(effect::send{to, std::move(reply)});
}

void hyparview::learn(const peer_info& info, effects& out) {
  if (!info.data || info.id == me_)
    return;
  auto it = addresses_.find(info.id);
  bool same = it != addresses_.end() && it->second == *info.data;
  if (!same && !info.data->empty())
    out.push_back(effect::peer_addresses{info.id, *info.data});
  addresses_[info.id] = *info.data;
}

peer_info hyparview::info_of(const endpoint_id& peer) const {
  peer_info info{peer, std::nullopt};
  if (auto* d = addresses_of(peer))
    info.data = *d;
  return info;
}

std::vector<endpoint_id> hyparview::sample(const std::vector<endpoint_id>& from,
                                           const std::vector<endpoint_id>& skip, size_t n) {
  std::vector<endpoint_id> candidates;
  for (const auto& id : from)
    if (!contains(skip, id))
      candidates.push_back(id);
  // Partial Fisher-Yates: the first n are a uniform sample.
  size_t k = std::min(n, candidates.size());
  for (size_t i = 0; i < k; ++i)
    std::swap(candidates[i], candidates[i + rng_.below(candidates.size() - i)]);
  candidates.resize(k);
  return candidates;
}

} // namespace dtt::gossip
