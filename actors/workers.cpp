#include "actors/workers.hpp"

#include "actors/log.hpp"

#include <algorithm>

namespace dtt {

namespace {

using self_ptr = caf::stateful_actor<worker_state>*;
using tick_fn = std::function<void(self_ptr, std::function<void()> done)>;

// The timer of §6.3–6.5: first tick after `initial`, then clamp(base) + jitter after each tick
// completes (missed ticks are skipped).
caf::behavior periodic(self_ptr self, topic_context ctx, duration initial, duration base,
                       duration jitter, tick_fn tick) {
  self->state.ctx = std::move(ctx);
  self->state.rng.seed(self->state.ctx.seed ^ self->id());
  self->delayed_send(self, initial, tick_atom::value);
  return {
    [=](tick_atom) {
      tick(self, [=] {
        auto next = tracker::jittered(clamp_interval(base), jitter, self->state.rng);
        self->delayed_send(self, next, tick_atom::value);
      });
    },
  };
}

void join_candidates(self_ptr self, merge_kind kind, std::vector<gossip::endpoint_id> c,
                     std::function<void()> done) {
  if (c.empty()) {
    done();
    return;
  }
  auto& n = *self->state.ctx.counters;
  ++n.merges[static_cast<size_t>(kind)];
  n.merge_peers[static_cast<size_t>(kind)] += c.size();
  log::in("workers").info("{} merge: joining {} peer(s)", merge_kind_name(kind), c.size());
  join_peers(self, self->state.ctx, std::move(c), [=](bool) { done(); });
}

using decide_fn = std::function<std::vector<gossip::endpoint_id>(
  const record_list& records, const std::vector<gossip::endpoint_id>& neighbors,
  const std::vector<bytes32>& local_hashes, const gossip::endpoint_id& self_id,
  std::mt19937_64& rng)>;

// One merge tick (§6.4–6.5): the records of minutes m−2 to m+1 (fetch_minutes), our
// neighbours and message hashes, then `decide` picks whom to join. A failed get or request
// skips the tick.
void merge_tick(self_ptr self, merge_kind who, decide_fn decide, std::function<void()> done) {
  auto& ctx = self->state.ctx;
  fetch_minutes(self, ctx, ctx.minute(), [=](bool ok, record_list prev, record_list now) {
    if (!ok) {
      done();
      return;
    }
    auto records = tracker::merge_records(std::move(prev), now);
    fetch_view(self, self->state.ctx, [=](bool ok, auto nbrs, auto hashes) {
      if (!ok) {
        done();
        return;
      }
      auto c = decide(records, nbrs, hashes, self->state.ctx.self_id(), self->state.rng);
      join_candidates(self, who, std::move(c), done);
    });
  });
}

} // namespace

namespace {

// Publishes our record for minute `m`; when the publish ends in a later minute (its get and
// put retries ran past the minute, PROTOCOL.md §10.7), publishes the same view once more for
// the minute it is now, so that the record is not left only in a slot readers are leaving.
void publish_for(self_ptr self, uint64_t m, std::vector<gossip::endpoint_id> nbrs,
                 std::vector<bytes32> hashes, bool again, std::function<void()> done) {
  auto& ctx = self->state.ctx;
  auto rec = tracker::make_record(*ctx.keys, m, nbrs, hashes);
  auto after = [=] {
    auto now = self->state.ctx.minute();
    if (again && now > m) {
      log::in("publisher").debug("minute {} ended while publishing: publishing for {} too", m,
                                 now);
      publish_for(self, now, nbrs, hashes, false, done);
      return;
    }
    done();
  };
  self->request(ctx.records, caf::infinite, publish_record_atom::value, rec)
    .then(
      [=](bool written) {
        log::in("publisher").debug("minute {} record {}", m,
                                   written ? "written" : "skipped (minute full)");
        after();
      },
      [=](caf::error& e) {
        log::in("publisher").info("{}", self->system().render(e));
        after();
      });
}

} // namespace

caf::behavior publisher_worker(caf::stateful_actor<worker_state>* self, topic_context ctx) {
  auto cfg = ctx.cfg.publisher;
  return periodic(self, std::move(ctx), cfg.initial_delay, cfg.base_interval, cfg.max_jitter,
                  [](self_ptr self, std::function<void()> done) {
    auto m = self->state.ctx.minute();
    fetch_view(self, self->state.ctx, [=](bool ok, auto nbrs, auto hashes) {
      if (!ok) {
        done();
        return;
      }
      publish_for(self, m, std::move(nbrs), std::move(hashes), true, done);
    });
  });
}

caf::behavior bubble_merge_worker(caf::stateful_actor<worker_state>* self, topic_context ctx) {
  auto cfg = ctx.cfg.merge.bubble_merge;
  auto decide = [cfg](const record_list& records, const std::vector<gossip::endpoint_id>& nbrs,
                      const std::vector<bytes32>&, const gossip::endpoint_id& me,
                      std::mt19937_64& rng) {
    return tracker::bubble_merge_candidates(records, nbrs, me, cfg, rng);
  };
  return periodic(self, std::move(ctx), cfg.initial_interval, cfg.base_interval, cfg.max_jitter,
                  [decide](self_ptr self, std::function<void()> done) {
                    merge_tick(self, merge_kind::bubble, decide, std::move(done));
                  });
}

caf::behavior overlap_merge_worker(caf::stateful_actor<worker_state>* self, topic_context ctx) {
  auto cfg = ctx.cfg.merge.message_overlap_merge;
  auto decide = [cfg](const record_list& records, const std::vector<gossip::endpoint_id>& nbrs,
                      const std::vector<bytes32>& hashes, const gossip::endpoint_id& me,
                      std::mt19937_64& rng) {
    return tracker::overlap_merge_candidates(records, hashes, nbrs, me, cfg.max_join_peers, rng);
  };
  return periodic(self, std::move(ctx), cfg.initial_interval, cfg.base_interval, cfg.max_jitter,
                  [decide](self_ptr self, std::function<void()> done) {
                    merge_tick(self, merge_kind::overlap, decide, std::move(done));
                  });
}

namespace {

using cache_ptr = caf::stateful_actor<peer_cache_state>*;

// One start-up rejoin step: entries [i, i + batch) with their cached addresses, straight to
// the gossip actor (no DHT lookup), then the next step after join_confirmation_wait_time.
void rejoin_step(cache_ptr self, size_t i) {
  auto& st = self->state;
  if (i >= st.entries.size())
    return;
  check_joined(self, st.ctx, [=](bool joined) {
    auto& st = self->state;
    if (joined) {
      log::info("peer cache: the topic has a neighbour ({} cached peer(s) tried)", i);
      return;
    }
    std::vector<gossip::endpoint_id> ids;
    for (size_t j = i; j < st.entries.size() && j < i + peer_cache_batch; ++j) {
      auto& e = st.entries[j];
      if (!e.addresses.empty())
        self->send(st.ctx.gossip, add_addresses_atom::value, e.id, e.addresses);
      ids.push_back(e.id);
    }
    auto next = i + ids.size();
    self->request(st.ctx.gossip, st.ctx.cfg.timeouts.join_peer_timeout, join_peers_atom::value,
                  st.ctx.topic_id(), std::move(ids))
      .then([](bool) {}, [](caf::error&) {});
    self->delayed_send(self, st.ctx.cfg.bootstrap.join_confirmation_wait_time, wake_atom::value,
                       static_cast<uint64_t>(next));
  });
}

void write_cache(cache_ptr self, std::vector<gossip::endpoint_id> nbrs,
                 const peer_address_list& known) {
  auto& st = self->state;
  st.writing = false;
  std::vector<peer_cache::entry> seen;
  for (auto& id : nbrs) {
    peer_cache::entry e;
    e.id = id;
    for (auto& [kid, addrs] : known)
      if (kid == id)
        e.addresses = addrs;
    seen.push_back(std::move(e));
  }
  auto now = st.ctx.clock->unix_seconds();
  st.entries = peer_cache::merge(st.entries, seen, now);
  auto data = peer_cache::encode(st.entries);
  auto w = peer_cache::write_file_atomic(st.ctx.peer_cache_path, data);
  // A failed write is tried again on the next change or refresh, not every check.
  st.written = std::move(nbrs);
  st.last_write = self->clock().now();
  if (!w) {
    log::warn("peer cache not written: {}", w.err().message());
    return;
  }
  log::debug("peer cache: {} peer(s) written ({} neighbours)", st.entries.size(),
             st.written.size());
}

void cache_tick(cache_ptr self) {
  auto& st = self->state;
  self->delayed_send(self, st.check_interval, tick_atom::value);
  st.check_interval = std::min<caf::timespan>(2 * st.check_interval,
                                              peer_cache_max_check_interval);
  if (st.writing)
    return;
  self->request(st.ctx.receiver, std::chrono::seconds(5), neighbors_atom::value)
    .then(
      [=](std::vector<gossip::endpoint_id> nbrs) {
        auto& st = self->state;
        std::sort(nbrs.begin(), nbrs.end());
        if (nbrs != st.seen) { // a change: look again soon
          st.seen = nbrs;
          st.check_interval = peer_cache_check_interval;
        }
        if (nbrs.empty())
          return;
        bool changed = nbrs != st.written;
        if (st.writing
            || (!changed && self->clock().now() - st.last_write < peer_cache_refresh_interval))
          return;
        st.writing = true;
        if (!st.ctx.resolver) {
          write_cache(self, std::move(nbrs), {});
          return;
        }
        self->request(st.ctx.resolver, st.ctx.cfg.dht.get_timeout + std::chrono::seconds(2),
                      peer_addresses_atom::value, nbrs)
          .then([=](const peer_address_list& known) { write_cache(self, nbrs, known); },
                [=](caf::error&) { write_cache(self, nbrs, {}); });
      },
      [](caf::error&) {});
}

} // namespace

caf::behavior peer_cache_worker(caf::stateful_actor<peer_cache_state>* self, topic_context ctx) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  auto& path = st.ctx.peer_cache_path;
  if (auto data = peer_cache::read_file(path)) {
    if (auto entries = peer_cache::decode(*data))
      st.entries = std::move(*entries);
    else
      log::warn("peer cache {} ignored: {}", path, entries.err().message());
  } else if (data.err().code != errc::closed) {
    log::warn("peer cache {} ignored: {}", path, data.err().message());
  }
  if (!st.entries.empty()) {
    log::info("peer cache: trying {} known peer(s) first", st.entries.size());
    rejoin_step(self, 0);
  }
  self->delayed_send(self, peer_cache_check_interval, tick_atom::value);
  return {
    [=](wake_atom, uint64_t next) { rejoin_step(self, static_cast<size_t>(next)); },
    [=](tick_atom) { cache_tick(self); },
  };
}

} // namespace dtt
