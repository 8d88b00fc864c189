#include "gossip/sim.hpp"

#include <algorithm>
#include <limits>

namespace dtt::gossip::sim {

using namespace std::chrono_literals;

struct simulator::event {
  enum class kind { deliver, timer, closed } k;
  size_t node = 0;  // who handles it
  size_t other = 0; // sender (deliver) or peer (closed)
  timer_id timer = 0;
  message msg;
};

simulator::simulator(sim_config cfg) : cfg_(std::move(cfg)), rng_(cfg_.seed) {}

simulator::~simulator() = default;

topic_id simulator::topic() {
  topic_id t{};
  t.fill(0x5a);
  return t;
}

endpoint_id simulator::id_of(size_t index) {
  endpoint_id id{};
  for (int i = 0; i < 8; ++i)
    id[i] = static_cast<uint8_t>(uint64_t(index) >> (56 - 8 * i));
  id[31] = 1;
  return id;
}

size_t simulator::add_node(const std::vector<size_t>& bootstrap) {
  size_t index = nodes_.size();
  auto id = id_of(index);
  nodes_.push_back(std::make_unique<protocol>(id, peer_data{}, cfg_.proto, rng_.next()));
  index_.emplace(id, index);
  if (in_round_)
    delivered_.emplace_back(round_messages_.size(), 2); // late joiners are not counted
  std::vector<endpoint_id> peers;
  for (auto b : bootstrap)
    peers.push_back(id_of(b));
  nodes_[index]->join(topic(), peers, now_);
  flush(index);
  return index;
}

void simulator::bootstrap(size_t n) {
  if (n == 0)
    return;
  add_node({});
  for (size_t i = 1; i < n; ++i)
    add_node({0});
  run_for(cfg_.latency_max * 20);
}

void simulator::crash(size_t index) {
  if (!is_live(index))
    return;
  std::vector<size_t> peers;
  for (const auto& [a, b] : conns_)
    if (a == index || b == index)
      peers.push_back(a == index ? b : a);
  for (auto p : peers)
    kill_connection(index, p);
  nodes_[index].reset();
}

void simulator::crash_random(size_t k) {
  for (size_t i = 0; i < k && !live_nodes().empty(); ++i)
    crash(random_live_node());
}

void simulator::leave(size_t index) {
  if (!is_live(index))
    return;
  nodes_[index]->quit(topic(), now_);
  flush(index);
  crash(index);
}

void simulator::run_for(duration d) {
  auto until = now_ + d;
  while (step(until)) {
  }
  now_ = until;
}

round_stats simulator::gossip_round(const std::vector<std::pair<size_t, bytes>>& messages) {
  for (auto& n : nodes_)
    if (n)
      n->reset_stats(topic());
  auto live = live_nodes();
  in_round_ = true;
  round_messages_.clear();
  round_senders_.clear();
  delivered_.assign(nodes_.size(), {});
  for (const auto& [from, content] : messages) {
    if (round_messages_.emplace(content, round_senders_.size()).second)
      round_senders_.push_back(from);
  }
  size_t m = round_senders_.size();
  for (size_t i = 0; i < nodes_.size(); ++i)
    delivered_[i].assign(m, nodes_[i] ? 0 : 2);
  for (size_t k = 0; k < m; ++k)
    delivered_[round_senders_[k]][k] = 1; // a sender does not receive its own message
  received_ = 0;
  duplicates_ = 0;
  sent_ = {};
  ups_ = downs_ = 0;
  expected_ = 0;
  for (size_t k = 0; k < m; ++k)
    expected_ += is_live(round_senders_[k]) && !live.empty() ? live.size() - 1 : 0;

  auto start = now_;
  auto last = now_;
  for (const auto& [from, content] : messages) {
    if (!is_live(from))
      continue;
    nodes_[from]->broadcast(topic(), content, now_);
    flush(from);
  }
  auto until = start + cfg_.round_timeout;
  while (received_ < expected_ && step(until))
    if (received_ == expected_)
      last = now_;
  if (received_ < expected_)
    last = until;
  now_ = std::max(now_, last);
  const auto missed = expected_ - received_;
  run_for(cfg_.round_drain);

  round_stats r;
  r.elapsed = last - start;
  r.expected = expected_;
  r.missed = missed;
  r.duplicate_events = duplicates_;
  r.sent = sent_;
  r.neighbor_up = ups_;
  r.neighbor_down = downs_;
  uint16_t ldh = 0;
  for (auto& n : nodes_) {
    if (!n)
      continue;
    const auto* tree = n->broadcast_tree(topic());
    if (!tree)
      continue;
    r.payload += tree->stats().payload_messages_received;
    r.control += tree->stats().control_messages_received;
    ldh = std::max(ldh, tree->stats().max_last_delivery_hop);
  }
  r.ldh = ldh;
  // iroh-gossip's formula: RMR = m / (n - 1) - 1 over all deliveries of the round.
  r.rmr = received_ > 1 ? double(r.payload) / double(received_ - 1) - 1.0 : 0.0;
  in_round_ = false;
  return r;
}

view_report simulator::report() const {
  view_report r;
  for (const auto& n : nodes_) {
    if (!n)
      continue;
    const auto* hv = n->membership(topic());
    const auto* pt = n->broadcast_tree(topic());
    if (!hv || !pt)
      continue;
    ++r.nodes;
    ++r.active[hv->active_view().size()];
    ++r.passive[hv->passive_view().size()];
    ++r.eager[pt->eager_peers().size()];
    ++r.lazy[pt->lazy_peers().size()];
    if (hv->active_view().empty())
      ++r.without_neighbors;
  }
  return r;
}

size_t simulator::random_live_node() {
  auto live = live_nodes();
  return live.empty() ? 0 : live[rng_.below(live.size())];
}

std::vector<size_t> simulator::live_nodes() const {
  std::vector<size_t> out;
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (nodes_[i])
      out.push_back(i);
  return out;
}

bool simulator::is_live(size_t index) const {
  return index < nodes_.size() && nodes_[index] != nullptr;
}

const protocol* simulator::node(size_t index) const {
  return is_live(index) ? nodes_[index].get() : nullptr;
}

bool simulator::views_symmetric() const {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (!nodes_[i])
      continue;
    for (const auto& peer : nodes_[i]->neighbors(topic())) {
      auto j = index_.at(peer);
      if (!nodes_[j])
        return false;
      auto back = nodes_[j]->neighbors(topic());
      if (std::find(back.begin(), back.end(), id_of(i)) == back.end())
        return false;
    }
  }
  return true;
}

void simulator::push(time_point at, std::unique_ptr<event> ev) {
  queue_.push(entry{at, seq_++, std::move(ev)});
}

bool simulator::step(time_point until) {
  if (queue_.empty() || queue_.top().at > until)
    return false;
  // Moving the payload out of the top keeps its ordering fields intact for pop().
  auto ev = std::move(const_cast<entry&>(queue_.top()).ev);
  now_ = queue_.top().at;
  queue_.pop();
  if (!is_live(ev->node))
    return true; // for a crashed node: lost
  auto& n = *nodes_[ev->node];
  switch (ev->k) {
    case event::kind::deliver:
      conns_.insert(std::minmax(ev->node, ev->other));
      if (!n.receive(id_of(ev->other), ev->msg, now_).ok()) {
        // Refused (a flood, as the gossip actor sees it): that peer is disconnected, and the
        // closed connection is reported back at our end too (the transport's closed()).
        ++refused_[ev->msg.body.index()];
        kill_connection(ev->node, ev->other);
        auto closed = std::make_unique<event>();
        closed->k = event::kind::closed;
        closed->node = ev->node;
        closed->other = ev->other;
        push(now_, std::move(closed));
      }
      break;
    case event::kind::timer:
      n.timer_fired(ev->timer, now_);
      break;
    case event::kind::closed:
      failed_dials_.erase({ev->node, ev->other});
      // The connection is gone at both ends; anything sent later opens a new one.
      conns_.erase(std::minmax(ev->node, ev->other));
      n.connection_closed(id_of(ev->other), now_);
      break;
  }
  flush(ev->node);
  return true;
}

void simulator::flush(size_t index) {
  if (!is_live(index))
    return;
  for (auto& o : nodes_[index]->take_outputs()) {
    if (auto* s = std::get_if<output::send>(&o)) {
      auto it = index_.find(s->to);
      if (it == index_.end())
        continue;
      size_t to = it->second;
      if (!is_live(to)) {
        // The dial fails after a round trip; report it once.
        if (!conns_.count(std::minmax(index, to)) && failed_dials_.insert({index, to}).second) {
          auto ev = std::make_unique<event>();
          ev->k = event::kind::closed;
          ev->node = index;
          ev->other = to;
          push(now_ + 2 * latency(index, to), std::move(ev));
        }
        continue;
      }
      ++sent_[s->msg.body.index()];
      if (rng_.chance(cfg_.loss))
        continue;
      auto ev = std::make_unique<event>();
      ev->k = event::kind::deliver;
      ev->node = to;
      ev->other = index;
      ev->msg = std::move(s->msg);
      push(now_ + latency(index, to), std::move(ev));
    } else if (auto* t = std::get_if<output::arm_timer>(&o)) {
      auto ev = std::make_unique<event>();
      ev->k = event::kind::timer;
      ev->node = index;
      ev->timer = t->id;
      push(std::max(t->at, now_), std::move(ev));
    } else if (auto* e = std::get_if<output::emit>(&o)) {
      if (e->ev.k == gossip::event::kind::received)
        on_received(index, e->payload);
      else if (e->ev.k == gossip::event::kind::neighbor_up)
        ++ups_;
      else if (e->ev.k == gossip::event::kind::neighbor_down)
        ++downs_;
    } else if (auto* d = std::get_if<output::disconnect>(&o)) {
      auto it = index_.find(d->peer);
      if (it != index_.end())
        kill_connection(index, it->second);
    }
  }
}

void simulator::on_received(size_t index, const shared_bytes& content) {
  if (!in_round_)
    return;
  auto it = round_messages_.find(content.to_bytes());
  if (it == round_messages_.end())
    return;
  auto& got = delivered_[index][it->second];
  if (got == 2)
    return; // a node this round does not count (joined late)
  if (got == 1) {
    ++duplicates_; // delivered twice, or a sender got its own message back
    return;
  }
  got = 1;
  ++received_;
}

duration simulator::latency(size_t a, size_t b) {
  auto key = std::minmax(a, b);
  auto it = latencies_.find(key);
  if (it != latencies_.end())
    return it->second;
  auto span = cfg_.latency_max - cfg_.latency_min;
  duration d = cfg_.latency_min;
  if (span.count() > 0)
    d += duration(static_cast<duration::rep>(rng_.below(static_cast<uint64_t>(span.count()))));
  latencies_.emplace(key, d);
  return d;
}

void simulator::kill_connection(size_t from, size_t to) {
  if (!conns_.erase(std::minmax(from, to)))
    return;
  // After the link's latency (plus a tick), so that messages already sent arrive first.
  auto ev = std::make_unique<event>();
  ev->k = event::kind::closed;
  ev->node = to;
  ev->other = from;
  push(now_ + latency(from, to) + 1us, std::move(ev));
}

round_summary summarize(const std::vector<round_stats>& rounds) {
  round_summary s;
  s.rounds = rounds.size();
  if (rounds.empty())
    return s;
  s.min.rmr = s.min.ldh = std::numeric_limits<double>::max();
  s.min.missed = std::numeric_limits<uint64_t>::max();
  s.min.elapsed = duration::max();
  for (const auto& r : rounds) {
    s.mean.rmr += r.rmr;
    s.mean.ldh += r.ldh;
    s.missed_total += r.missed;
    s.mean.elapsed += r.elapsed;
    s.mean.expected += r.expected;
    s.mean.payload += r.payload;
    s.mean.control += r.control;
    s.mean.duplicate_events += r.duplicate_events;
    s.min.rmr = std::min(s.min.rmr, r.rmr);
    s.min.ldh = std::min(s.min.ldh, r.ldh);
    s.min.missed = std::min(s.min.missed, r.missed);
    s.min.elapsed = std::min(s.min.elapsed, r.elapsed);
    s.max.rmr = std::max(s.max.rmr, r.rmr);
    s.max.ldh = std::max(s.max.ldh, r.ldh);
    s.max.missed = std::max(s.max.missed, r.missed);
    s.max.elapsed = std::max(s.max.elapsed, r.elapsed);
    s.max.duplicate_events = std::max(s.max.duplicate_events, r.duplicate_events);
  }
  double n = double(rounds.size());
  if (rounds.size() > 1)
    s.rmr_after_first = (s.mean.rmr - rounds.front().rmr) / (n - 1);
  s.mean.rmr /= n;
  s.mean.ldh /= n;
  s.mean.elapsed /= rounds.size();
  s.mean.missed = s.missed_total / rounds.size();
  s.mean.expected /= rounds.size();
  s.mean.payload /= rounds.size();
  s.mean.control /= rounds.size();
  return s;
}

std::string to_string(const std::map<size_t, size_t>& histogram) {
  std::string out = "{";
  bool first = true;
  for (const auto& [size, count] : histogram) {
    if (!first)
      out += ", ";
    first = false;
    out += std::to_string(size) + ": " + std::to_string(count);
  }
  return out + "}";
}

} // namespace dtt::gossip::sim
