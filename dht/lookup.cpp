#include "dht/lookup.hpp"

#include <algorithm>

namespace dtt::dht {

lookup_set::candidate* lookup_set::find(const endpoint& ep) {
  for (auto& c : cands_)
    if (c.node.ep == ep)
      return &c;
  return nullptr;
}

void lookup_set::sort_and_trim() {
  std::stable_sort(cands_.begin(), cands_.end(), [&](const candidate& a, const candidate& b) {
    if (a.id_known != b.id_known)
      return !a.id_known;
    return closer(target_, a.node.id, b.node.id);
  });
  // Drop the farthest candidates that are not in flight.
  while (cands_.size() > cfg_.max_candidates) {
    auto it = std::find_if(cands_.rbegin(), cands_.rend(),
                           [](const candidate& c) { return c.st != state::in_flight; });
    if (it == cands_.rend())
      break;
    cands_.erase(std::next(it).base());
  }
}

void lookup_set::add(const std::vector<node_entry>& nodes, uint8_t depth, time_point now) {
  bool changed = false;
  for (auto& n : nodes) {
    if (n.ep.port == 0)
      continue;
    bool dup = false;
    for (auto& c : cands_) {
      if (c.node.ep == n.ep || (c.id_known && c.node.id == n.id)) {
        dup = true;
        break;
      }
    }
    if (dup)
      continue;
    candidate c;
    c.node = n;
    c.depth = depth;
    c.added_at = now;
    cands_.push_back(std::move(c));
    changed = true;
  }
  if (changed)
    sort_and_trim();
}

void lookup_set::add_seed(const endpoint& ep) {
  if (find(ep))
    return;
  candidate c;
  c.node.ep = ep;
  c.id_known = false;
  cands_.push_back(std::move(c));
  sort_and_trim();
}

std::vector<lookup_set::candidate> lookup_set::next(size_t budget, time_point now) {
  std::vector<candidate> out;
  // Adaptive lookups that saw no stall yet (and a node that saw no timeout lately) run as the
  // lookup before issue 16, at alpha_clean.
  bool clean = cfg_.adaptive && cfg_.alpha_clean > 0 && !troubled_;
  if (cfg_.adaptive && cfg_.slots_at_top && !clean) {
    // Walk from the closest: keep alpha queries in flight among the candidates before the
    // k-th that answered; queries to candidates behind them hold no slot.
    size_t alpha = cfg_.alpha;
    if (cfg_.converged_after > 0) {
      size_t live = 0, answered_top = 0;
      for (auto& c : cands_) {
        if (live >= cfg_.k)
          break;
        if (c.st == state::failed || c.stalled || !c.id_known)
          continue;
        ++live;
        answered_top += c.st == state::responded ? 1 : 0;
      }
      if (answered_top >= cfg_.converged_after)
        alpha = std::max(alpha, cfg_.k);
    }
    // Passed queries hold no slot but stay open until they time out (config::max_open_extra).
    const size_t max_open = cfg_.alpha + (cfg_.max_open_extra ? cfg_.max_open_extra : cfg_.k);
    size_t answered = 0, outstanding = 0;
    for (auto& c : cands_) {
      if (outstanding >= alpha || out.size() >= budget || answered >= cfg_.k ||
          in_flight_ - stalled_ >= max_open)
        break;
      if (c.st == state::failed || c.stalled)
        continue;
      if (c.st == state::responded) {
        answered += c.id_known ? 1 : 0;
        continue;
      }
      ++outstanding;
      if (c.st == state::fresh) {
        c.st = state::in_flight;
        c.queried_at = now;
        ++in_flight_;
        out.push_back(c);
      }
    }
    return out;
  }
  size_t alpha = clean ? cfg_.alpha_clean : cfg_.alpha;
  size_t live = 0;
  for (auto& c : cands_) {
    // Stalled queries hold no slot: one more candidate is queried per stall.
    if (in_flight_ - stalled_ >= alpha || out.size() >= budget)
      break;
    if (c.st == state::failed || c.stalled)
      continue;
    // Seeds with unknown ids are always worth asking; known ones only within the k closest.
    if (c.id_known && live >= cfg_.k)
      break;
    if (c.id_known)
      ++live;
    if (c.st == state::fresh) {
      c.st = state::in_flight;
      c.queried_at = now;
      ++in_flight_;
      out.push_back(c);
    }
  }
  return out;
}

bool lookup_set::responded(const endpoint& from, const node_id& id, bytes token,
                           time_point at) {
  auto* c = find(from);
  if (!c || c->st != state::in_flight)
    return false;
  --in_flight_;
  if (c->stalled) {
    c->stalled = false;
    c->late = true;
    --stalled_;
  }
  if (c->id_known && c->node.id != id) {
    c->st = state::failed;
    return false;
  }
  // Another candidate may already carry this id (learned from someone else): keep one.
  if (!c->id_known) {
    for (auto& o : cands_) {
      if (&o != c && o.id_known && o.node.id == id && o.st != state::in_flight) {
        o.st = state::failed;
      }
    }
  }
  c->node.id = id;
  c->id_known = true;
  c->st = state::responded;
  c->token = std::move(token);
  c->answered_at = at;
  sort_and_trim();
  return true;
}

void lookup_set::failed(const endpoint& from) {
  auto* c = find(from);
  if (!c || c->st != state::in_flight)
    return;
  --in_flight_;
  if (c->stalled) {
    c->stalled = false;
    --stalled_;
  }
  c->st = state::failed;
  troubled_ = true;
}

void lookup_set::stalled(const endpoint& from) {
  auto* c = find(from);
  if (!cfg_.adaptive || !c || c->st != state::in_flight || c->stalled)
    return;
  c->stalled = true;
  ++stalled_;
  troubled_ = true;
}

void lookup_set::give_up() {
  for (auto& c : cands_) {
    if (c.st == state::fresh || c.st == state::in_flight) {
      c.st = state::failed;
      c.stalled = false;
    }
  }
  in_flight_ = 0;
  stalled_ = 0;
}

uint8_t lookup_set::depth_of(const endpoint& from) const noexcept {
  for (auto& c : cands_)
    if (c.node.ep == from)
      return c.depth;
  return 0;
}

bool lookup_set::done() const noexcept {
  if (cfg_.adaptive) {
    // Done when the k closest candidates that are neither failed nor stalled have answered;
    // stalled queries and queries to farther candidates are not waited for.
    size_t live = 0, slack = 0;
    for (auto& c : cands_) {
      if (c.st == state::failed || c.stalled)
        continue;
      if (c.st == state::in_flight && c.id_known && troubled_ && slack < cfg_.end_slack) {
        ++slack;
        continue;
      }
      if (c.st != state::responded)
        return false;
      if (c.id_known && ++live >= cfg_.k)
        return true;
    }
    return in_flight_ == stalled_;
  }
  if (in_flight_ > 0)
    return false;
  size_t live = 0;
  for (auto& c : cands_) {
    if (c.st == state::failed)
      continue;
    if (c.st == state::fresh)
      return false;
    if (c.id_known && ++live >= cfg_.k)
      break;
  }
  return true;
}

std::vector<const lookup_set::candidate*> lookup_set::closest_responded(size_t count) const {
  std::vector<const candidate*> out;
  for (auto& c : cands_) {
    if (out.size() >= count)
      break;
    if (c.st == state::responded && c.id_known)
      out.push_back(&c);
  }
  return out;
}

lookup_set::tail lookup_set::tail_of(size_t count) const {
  tail t;
  size_t answered = 0;
  for (auto& c : cands_) {
    if (answered >= count)
      break;
    if (c.st == state::responded && c.id_known) {
      ++answered;
      t.late += c.late ? 1 : 0;
    } else if (c.st == state::failed) {
      ++t.failed;
    } else if (c.stalled) {
      ++t.stalled;
    }
  }
  return t;
}

} // namespace dtt::dht
