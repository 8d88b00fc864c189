#include "gossip/proto.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

namespace dtt::gossip {

namespace {

// Keeps a message we send within the max message size, which every peer enforces on its
// frames: peer samples (Shuffle, ShuffleReply) whose addresses make them too long lose peers
// from the end. Other bodies fit by construction (IHave batches are sized by PlumTree).
void fit(message& m, size_t max) {
  auto cut = [&](std::vector<peer_info>& nodes) {
    while (!nodes.empty() && encoded_size(m) > max)
      nodes.pop_back();
  };
  if (auto* s = std::get_if<msg::shuffle>(&m.body))
    cut(s->nodes);
  else if (auto* r = std::get_if<msg::shuffle_reply>(&m.body))
    cut(r->nodes);
}
} // namespace

protocol::protocol(endpoint_id me, peer_data addresses, config cfg, uint64_t seed)
  : me_(me), addresses_(std::move(addresses)), cfg_(cfg), rng_(seed) {
  if (cfg_.max_message_size < min_max_message_size)
    throw std::invalid_argument("gossip: max_message_size below min_max_message_size");
  cfg_.broadcast.max_message_size = cfg_.max_message_size;
}

void protocol::join(const topic_id& topic, const std::vector<endpoint_id>& peers,
                    time_point now) {
  auto it = topics_.find(topic);
  effects& fx = scratch();
  if (it == topics_.end()) {
    auto swarm_rng = rng_.fork();
    uint64_t hash_key = rng_.next();
    auto st = std::make_unique<topic_state>(
      topic_state{hyparview(me_, addresses_, cfg_.membership, std::move(swarm_rng)),
                  plumtree(me_, cfg_.broadcast, hash_key), {}, {}});
    st->swarm.start(now, fx);
    st->tree.start(now, fx);
    it = topics_.emplace(topic, std::move(st)).first;
  }
  for (const auto& peer : peers)
    it->second->swarm.join(peer, now, fx);
  apply(topic, *it->second, fx, now);
}

status protocol::broadcast(const topic_id& topic, shared_bytes content, time_point now) {
  return do_broadcast(topic, std::move(content), delivery_scope::kind::swarm, now);
}

status protocol::broadcast_neighbors(const topic_id& topic, shared_bytes content, time_point now) {
  return do_broadcast(topic, std::move(content), delivery_scope::kind::neighbors, now);
}

status protocol::do_broadcast(const topic_id& topic, shared_bytes content, delivery_scope::kind k,
                              time_point now) {
  if (content.size() > max_content_size())
    return error{errc::too_large, "gossip broadcast larger than the max message size"};
  auto it = topics_.find(topic);
  if (it == topics_.end())
    return error{errc::closed, "gossip topic not joined"};
  effects& fx = scratch();
  it->second->tree.broadcast(std::move(content), k, now, fx);
  apply(topic, *it->second, fx, now);
  return ok_status();
}

void protocol::quit(const topic_id& topic, time_point now) {
  auto it = topics_.find(topic);
  if (it == topics_.end())
    return;
  effects& fx = scratch();
  it->second->swarm.quit(now, fx);
  apply(topic, *it->second, fx, now);
  topics_.erase(it);
  // Connections only this topic used are no longer needed; its timers die when they fire.
  std::vector<endpoint_id> users;
  for (const auto& [peer, set] : peer_topics_)
    if (set.count(topic))
      users.push_back(peer);
  for (const auto& peer : users)
    release(topic, peer);
}

status protocol::receive(const endpoint_id& from, const message& m, time_point now) {
  if (from == me_)
    return ok_status();
  auto it = topics_.find(m.topic);
  if (it == topics_.end())
    return ok_status();
  const size_t kind = m.body.index();
  auto& counts = it->second->counts;
  if (const auto* limit = cfg_.flood.of(kind))
    if (!it->second->guard.admit(from, kind, *limit, now)) {
      ++counts.flood_refused[kind];
      return error{errc::refused, flood_error_text(kind, *limit, m.topic)};
    }
  ++counts.received[kind];
  peer_topics_[from].insert(m.topic);
  effects& fx = scratch();
  if (msg::is_swarm(m.body)) {
    // A Join from a neighbour: it joins again (it restarted, or lost its link to us while we
    // kept ours), so what we sent it lately may be lost: announce it again.
    bool rejoin = std::holds_alternative<msg::join>(m.body) && it->second->swarm.is_active(from);
    it->second->swarm.receive(from, m.body, now, fx);
    if (rejoin && it->second->swarm.is_active(from))
      it->second->tree.link_renewed(from, now, fx);
  } else
    it->second->tree.receive(from, m.body, now, fx);
  if (it->second->guard.size() > 0)
    it->second->tree.keep_ticking(now, fx); // the tick prunes the guard (below)
  apply(m.topic, *it->second, fx, now);
  return ok_status();
}

status protocol::receive_bytes(const endpoint_id& from, byte_view frame, time_point now) {
  auto m = decode(frame, cfg_.max_message_size);
  if (!m)
    return m.err();
  return receive(from, *m, now);
}

status protocol::receive_frame(const endpoint_id& from, shared_buffer frame, time_point now) {
  if (frame.size() > cfg_.max_message_size) // before taking it: decode would refuse it anyway
    return error{errc::too_large, "gossip message over the max message size"};
  auto m = decode(std::move(frame), cfg_.max_message_size);
  if (!m)
    return m.err();
  return receive(from, *m, now);
}

void protocol::prefetch(byte_view frame) const noexcept {
  auto peek = peek_gossip(frame);
  if (!peek.id)
    return;
  topic_id topic;
  std::memcpy(topic.data(), peek.topic, topic.size());
  auto it = topics_.find(topic);
  if (it == topics_.end())
    return;
  message_id id;
  std::memcpy(id.data(), peek.id, id.size());
  it->second->tree.prefetch(id);
}

void protocol::timer_fired(timer_id id, time_point now) {
  auto t = timers_.find(id);
  if (t == timers_.end())
    return;
  auto [topic, timer] = t->second;
  timers_.erase(t);
  auto it = topics_.find(topic);
  if (it == topics_.end())
    return;
  effects& fx = scratch();
  switch (timer.k) {
    case topic_timer::kind::shuffle:
    case topic_timer::kind::neighbor_request:
      it->second->swarm.timer_fired(timer, now, fx);
      break;
    case topic_timer::kind::evict_cache:
      // PlumTree's tick (1 s, while it or the guard holds anything) keeps the guard small too.
      it->second->guard.prune(now);
      it->second->tree.timer_fired(timer, now, fx);
      if (it->second->guard.size() > 0)
        it->second->tree.keep_ticking(now, fx);
      break;
    default:
      it->second->tree.timer_fired(timer, now, fx);
      break;
  }
  apply(topic, *it->second, fx, now);
}

void protocol::connection_closed(const endpoint_id& peer, time_point now) {
  peer_topics_.erase(peer);
  for (auto& [topic, st] : topics_) {
    effects& fx = scratch();
    st->swarm.connection_closed(peer, now, fx);
    // An active peer's NeighborDown effect tells PlumTree in apply(); a peer that was not
    // active may still be an announcer in PlumTree's missing list, so it is told directly
    // (once either way: neighbor_down scans every missing id).
    bool told = std::any_of(fx.begin(), fx.end(), [&](const effect::any& e) {
      auto* em = std::get_if<effect::emit>(&e);
      return em && em->ev.k == event::kind::neighbor_down && em->ev.peer == peer;
    });
    if (!told)
      st->tree.neighbor_down(peer);
    apply(topic, *st, fx, now);
  }
}

void protocol::link_renewed(const endpoint_id& peer, time_point now) {
  for (auto& [topic, st] : topics_) {
    effects& fx = scratch();
    st->tree.link_renewed(peer, now, fx); // ignored unless `peer` is a neighbour there
    apply(topic, *st, fx, now);
  }
}

std::vector<output::any> protocol::take_outputs() {
  std::vector<output::any> out;
  out.swap(outbox_);
  return out;
}

void protocol::take_outputs(std::vector<output::any>& into) {
  into.clear();
  into.swap(outbox_);
}


std::vector<endpoint_id> protocol::neighbors(const topic_id& topic) const {
  auto* m = membership(topic);
  return m ? m->active_view() : std::vector<endpoint_id>{};
}

const hyparview* protocol::membership(const topic_id& topic) const {
  auto it = topics_.find(topic);
  return it == topics_.end() ? nullptr : &it->second->swarm;
}

const plumtree* protocol::broadcast_tree(const topic_id& topic) const {
  auto it = topics_.find(topic);
  return it == topics_.end() ? nullptr : &it->second->tree;
}

const flood_guard* protocol::flood_budgets(const topic_id& topic) const {
  auto it = topics_.find(topic);
  return it == topics_.end() ? nullptr : &it->second->guard;
}

const message_counters* protocol::counters(const topic_id& topic) const {
  auto it = topics_.find(topic);
  return it == topics_.end() ? nullptr : &it->second->counts;
}

void protocol::reset_stats(const topic_id& topic) {
  auto it = topics_.find(topic);
  if (it == topics_.end())
    return;
  it->second->counts = {};
  it->second->swarm.reset_stats();
  it->second->tree.reset_stats();
}

void protocol::apply(const topic_id& topic, topic_state& st, effects& fx, time_point now) {
  // NeighborUp/Down from HyParView drive PlumTree's eager/lazy sets (PROTOCOL.md §8.4); a new
  // neighbour is told what we broadcast recently (plumtree_config::neighbor_up_announce).
  size_t n = fx.size();
  for (size_t i = 0; i < n; ++i)
    if (auto* em = std::get_if<effect::emit>(&fx[i])) {
      if (em->ev.k == event::kind::neighbor_up) {
        auto peer = em->ev.peer; // fx may grow below
        st.tree.neighbor_up(peer, now, fx);
      } else if (em->ev.k == event::kind::neighbor_down) {
        st.tree.neighbor_down(em->ev.peer);
      }
    }
  for (auto& e : fx) {
    if (auto* s = std::get_if<effect::send>(&e)) {
      peer_topics_[s->to].insert(topic);
      message m{topic, std::move(s->body)};
      fit(m, cfg_.max_message_size);
      ++st.counts.sent[m.body.index()];
      outbox_.push_back(output::send{s->to, std::move(m)});
    } else if (auto* t = std::get_if<effect::timer>(&e)) {
      timer_id id = next_timer_++;
      timers_.emplace(id, std::make_pair(topic, t->t));
      outbox_.push_back(output::arm_timer{t->at, id});
    } else if (auto* d = std::get_if<effect::disconnect>(&e)) {
      release(topic, d->peer);
    } else if (auto* em = std::get_if<effect::emit>(&e)) {
      outbox_.push_back(output::emit{topic, std::move(em->ev), std::move(em->payload)});
    } else if (auto* pa = std::get_if<effect::peer_addresses>(&e)) {
      outbox_.push_back(output::peer_addresses{pa->peer, std::move(pa->addresses)});
    }
  }
}

void protocol::release(const topic_id& topic, const endpoint_id& peer) {
  auto it = peer_topics_.find(peer);
  if (it != peer_topics_.end()) {
    it->second.erase(topic);
    if (!it->second.empty())
      return;
    peer_topics_.erase(it);
  }
  outbox_.push_back(output::disconnect{peer});
}

} // namespace dtt::gossip
