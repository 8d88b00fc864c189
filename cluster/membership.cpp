#include "cluster/membership.hpp"

#include <algorithm>

namespace dtt::cluster_core {

using kind = membership_event::kind;

void effects::append(effects&& o) {
  for (auto& b : o.broadcasts)
    broadcasts.push_back(std::move(b));
  for (auto& c : o.connects)
    connects.push_back(std::move(c));
  disconnects.insert(disconnects.end(), o.disconnects.begin(), o.disconnects.end());
  probes.insert(probes.end(), o.probes.begin(), o.probes.end());
  for (auto& e : o.events)
    events.push_back(std::move(e));
}

membership::membership(crypto::signing_key key, bytes32 cluster_id, uint64_t incarnation,
                       membership_options opts)
  : key_(std::move(key)), cluster_id_(cluster_id), opts_(std::move(opts)) {
  self_.id = key_.public_key_bytes();
  self_.incarnation = incarnation;
}

void membership::set_local(bytes node, std::vector<socket_address> addresses) {
  self_.node = std::move(node);
  self_.addresses = std::move(addresses);
}

effects membership::start(time_ms now) {
  started_ = true;
  return announce(now);
}

effects membership::announce(time_ms now) {
  effects out;
  ++self_.seq;
  auto wire = encode_record(self_, key_, cluster_id_, opts_.limits);
  if (wire) // set_local/publish keep the record within its limits
    out.broadcasts.push_back(std::move(*wire));
  last_announce_ = now;
  next_announce_ = now + opts_.announce_interval;
  return out;
}

bool membership::initiates(const endpoint_id& other) const {
  return !opts_.lower_id_connects || self_.id < other;
}

void membership::request_connect(member_entry& e, effects& out) {
  if (!initiates(e.rec.id))
    return; // the other end connects and says hello (or tick() after hello_wait)
  e.connecting = true;
  out.connects.push_back({e.rec.id, e.rec.incarnation, e.rec.node, e.rec.addresses});
}

void membership::trigger_announce(time_ms now, effects& out) {
  if (!started_ || self_.leaving)
    return;
  if (now - last_announce_ >= opts_.min_announce_gap)
    out.append(announce(now));
  else
    next_announce_ = std::min(next_announce_, last_announce_ + opts_.min_announce_gap);
}

result<effects> membership::publish(const std::string& name, time_ms now) {
  if (!valid_name(name, opts_.limits))
    return error{errc::invalid_argument, "actor name: 1..48 bytes of [A-Za-z0-9._:/-]"};
  auto pos = std::lower_bound(self_.names.begin(), self_.names.end(), name);
  if (pos != self_.names.end() && *pos == name)
    return effects{};
  auto trial = self_;
  trial.names.insert(trial.names.begin() + (pos - self_.names.begin()), name);
  ++trial.seq;
  if (auto wire = encode_record(trial, key_, cluster_id_, opts_.limits); !wire)
    return wire.err();
  self_.names = std::move(trial.names);
  return started_ ? announce(now) : effects{};
}

effects membership::unpublish(const std::string& name, time_ms now) {
  auto pos = std::lower_bound(self_.names.begin(), self_.names.end(), name);
  if (pos == self_.names.end() || *pos != name)
    return {};
  self_.names.erase(pos);
  return started_ ? announce(now) : effects{};
}

void membership::remember_gone(const member_record& r, time_ms now) {
  gone_[r.id] = gone{r.incarnation, r.seq, now + opts_.expiry};
  // Bounded like the table: the entry closest to its end goes first.
  while (gone_.size() > opts_.max_members) {
    auto oldest = std::min_element(gone_.begin(), gone_.end(), [](auto& a, auto& b) {
      return a.second.until < b.second.until;
    });
    gone_.erase(oldest);
  }
}

void membership::drop(std::map<endpoint_id, member_entry>::iterator it, effects& out) {
  auto& e = it->second;
  if (e.up) {
    for (auto& n : e.rec.names)
      out.events.push_back({kind::actor_down, e.rec.id, e.rec.incarnation, n});
    out.events.push_back({kind::member_down, e.rec.id, e.rec.incarnation, {}});
  }
  out.disconnects.push_back(e.rec.id);
  members_.erase(it);
}

effects membership::handle_record(byte_view wire, time_ms now) {
  effects out;
  ++stats_.records;
  auto rec = decode_record(wire, cluster_id_, opts_.limits);
  if (!rec) {
    ++stats_.rejected;
    return out;
  }
  auto& r = *rec;
  if (r.id == self_.id) {
    if (r.incarnation != self_.incarnation)
      ++stats_.own_key; // another process runs with our key (or an old run of us)
    return out;
  }
  if (auto g = gone_.find(r.id); g != gone_.end()) {
    if (r.incarnation < g->second.incarnation ||
        (r.incarnation == g->second.incarnation && r.seq <= g->second.seq)) {
      ++stats_.stale;
      return out;
    }
    gone_.erase(g);
  }
  auto it = members_.find(r.id);
  if (it != members_.end()) {
    auto& e = it->second;
    if (r.incarnation < e.rec.incarnation ||
        (r.incarnation == e.rec.incarnation && r.seq <= e.rec.seq)) {
      ++stats_.stale;
      return out;
    }
    if (r.leaving) {
      remember_gone(r, now);
      drop(it, out);
      return out;
    }
    if (r.incarnation > e.rec.incarnation || r.node != e.rec.node) {
      // A restarted member: its old entry, links and handles go, the new one is connected.
      drop(it, out);
      it = members_.end();
    } else {
      if (e.up) {
        std::vector<std::string> gone_names, new_names;
        std::set_difference(e.rec.names.begin(), e.rec.names.end(), r.names.begin(),
                            r.names.end(), std::back_inserter(gone_names));
        std::set_difference(r.names.begin(), r.names.end(), e.rec.names.begin(),
                            e.rec.names.end(), std::back_inserter(new_names));
        for (auto& n : gone_names)
          out.events.push_back({kind::actor_down, r.id, r.incarnation, n});
        for (auto& n : new_names)
          out.events.push_back({kind::actor_up, r.id, r.incarnation, n});
      }
      bool moved = r.addresses != e.rec.addresses;
      e.rec = std::move(r);
      e.expires = now + opts_.expiry;
      e.probing = false;
      if (!e.up && !e.connecting && (moved || now >= e.retry_at))
        request_connect(e, out);
      return out;
    }
  }
  if (r.leaving) {
    remember_gone(r, now);
    return out;
  }
  if (members_.size() >= opts_.max_members) {
    ++stats_.refused_full;
    return out;
  }
  member_entry e;
  e.rec = std::move(r);
  e.expires = now + opts_.expiry;
  e.waiting_since = now;
  request_connect(e, out);
  members_.emplace(e.rec.id, std::move(e));
  trigger_announce(now, out); // the newcomer learns us without waiting for an interval
  return out;
}

effects membership::connected(const endpoint_id& id, uint64_t incarnation, time_ms now) {
  effects out;
  auto it = members_.find(id);
  if (it == members_.end() || it->second.rec.incarnation != incarnation || it->second.up)
    return out;
  auto& e = it->second;
  e.up = true;
  e.connecting = false;
  out.events.push_back({kind::member_up, id, incarnation, {}});
  for (auto& n : e.rec.names)
    out.events.push_back({kind::actor_up, id, incarnation, n});
  return out;
}

effects membership::connect_failed(const endpoint_id& id, uint64_t incarnation, time_ms now) {
  auto it = members_.find(id);
  if (it != members_.end() && it->second.rec.incarnation == incarnation && !it->second.up) {
    it->second.connecting = false;
    it->second.retry_at = now + opts_.connect_retry;
  }
  return {};
}

effects membership::node_down(const endpoint_id& id, uint64_t incarnation, time_ms now) {
  effects out;
  auto it = members_.find(id);
  if (it == members_.end() || it->second.rec.incarnation != incarnation)
    return out;
  remember_gone(it->second.rec, now);
  drop(it, out);
  return out;
}

effects membership::alive(const endpoint_id& id, uint64_t incarnation, time_ms now) {
  auto it = members_.find(id);
  if (it != members_.end() && it->second.rec.incarnation == incarnation && it->second.up) {
    it->second.probing = false;
    it->second.expires = now + opts_.expiry;
  }
  return {};
}

effects membership::neighbor_down(const endpoint_id& id, time_ms now) {
  auto it = members_.find(id);
  if (it != members_.end())
    it->second.expires = std::min(it->second.expires, now + opts_.neighbor_grace);
  return {};
}

effects membership::neighbor_up(time_ms now) {
  effects out;
  trigger_announce(now, out);
  return out;
}

effects membership::tick(time_ms now) {
  effects out;
  for (auto it = members_.begin(); it != members_.end();) {
    auto next = std::next(it);
    auto& e = it->second;
    if (e.expires <= now && e.up && !e.probing) {
      // Silent, but the link is up: ask over the link before dropping (announcements can be
      // late on a loaded host, and dropping one end of a live link leaves the ends disagreeing).
      e.probing = true;
      e.expires = now + opts_.neighbor_grace;
      out.probes.emplace_back(e.rec.id, e.rec.incarnation);
    } else if (e.expires <= now) {
      remember_gone(e.rec, now);
      drop(it, out);
    } else if (!e.up && !e.connecting && e.retry_at <= now) {
      if (initiates(e.rec.id) || now - e.waiting_since >= opts_.hello_wait) {
        e.connecting = true;
        out.connects.push_back({e.rec.id, e.rec.incarnation, e.rec.node, e.rec.addresses});
      }
    }
    it = next;
  }
  for (auto it = gone_.begin(); it != gone_.end();)
    it = it->second.until <= now ? gone_.erase(it) : std::next(it);
  if (started_ && !self_.leaving && now >= next_announce_)
    out.append(announce(now));
  return out;
}

effects membership::leave() {
  effects out;
  if (!started_ || self_.leaving)
    return out;
  self_.leaving = true;
  ++self_.seq;
  if (auto wire = encode_record(self_, key_, cluster_id_, opts_.limits))
    out.broadcasts.push_back(std::move(*wire));
  return out;
}

time_ms membership::next_deadline() const {
  auto t = next_announce_;
  for (auto& [id, e] : members_) {
    t = std::min(t, e.expires);
    if (!e.up && !e.connecting)
      t = std::min(t, initiates(id) ? e.retry_at
                                    : std::max(e.retry_at, e.waiting_since + opts_.hello_wait));
  }
  for (auto& [id, g] : gone_)
    t = std::min(t, g.until);
  return t;
}

} // namespace dtt::cluster_core
