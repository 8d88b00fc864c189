#include "actors/bootstrap.hpp"

#include "actors/log.hpp"

#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

namespace dtt {

namespace {

using self_ptr = caf::stateful_actor<bootstrap_state>*;

void loop(self_ptr self);

// Calls `then` with whether the topic has a neighbour now: the receiver pushes that state to
// this actor (join_notify_atom, isolated_atom), so nothing is asked.
void if_joined(self_ptr self, const std::function<void(bool)>& then) {
  then(self->state.joined);
}

// Waits for `d` or the next join notification, whichever comes first, then runs `k`.
void wait_then(self_ptr self, duration d, std::function<void()> k) {
  auto& st = self->state;
  auto gen = ++st.wait_generation;
  st.waiting = std::move(k);
  self->delayed_send(self, d, wake_atom::value, gen);
}

void resume(self_ptr self) {
  auto& st = self->state;
  if (!st.waiting)
    return;
  ++st.wait_generation; // the pending timer is now stale
  auto k = std::move(st.waiting);
  st.waiting = nullptr;
  k();
}

// Fire-and-forget publish of an all-zero record (bootstrap records carry no peers, §6.2).
void publish_empty(self_ptr self, uint64_t minute, const record_list* cache) {
  auto& ctx = self->state.ctx;
  auto rec = tracker::make_record(*ctx.keys, minute, {}, {});
  auto on_done = [=](bool written) {
    log::debug("bootstrap record for minute {} {}", minute, written ? "written" : "not written (minute full)");
  };
  auto on_err = [=](caf::error& e) {
    log::info("bootstrap record for minute {} failed: {}", minute, self->system().render(e));
  };
  auto timeout = caf::infinite;
  if (cache)
    self->request(ctx.records, timeout, publish_record_atom::value, rec, *cache).then(on_done, on_err);
  else
    self->request(ctx.records, timeout, publish_record_atom::value, rec).then(on_done, on_err);
}

void succeed(self_ptr self) {
  auto& st = self->state;
  st.running = false;
  st.waiting = nullptr;
  log::info("bootstrap: joined after {} round(s)", st.rounds);
  if (auto owner = caf::actor_cast<caf::actor>(st.owner))
    caf::anon_send(owner, bootstrap_done_atom::value, true);
}

void publish_if_new_minute(self_ptr self, uint64_t cur, bool use_cache, const record_list& now) {
  auto& st = self->state;
  if (cur == st.last_pub)
    return;
  st.last_pub = cur;
  publish_empty(self, cur, use_cache ? &now : nullptr);
}

void after_joins(self_ptr self, uint64_t cur, bool use_cache, record_list now) {
  auto& ctx = self->state.ctx;
  if_joined(self, [=](bool joined) {
    if (joined) {
      succeed(self);
      return;
    }
    wait_then(self, ctx.cfg.bootstrap.join_confirmation_wait_time, [=] {
      if_joined(self, [=](bool joined2) {
        if (joined2) {
          succeed(self);
          return;
        }
        publish_if_new_minute(self, cur, use_cache, now);
        wait_then(self, ctx.cfg.bootstrap.discovery_poll_interval, [=] { loop(self); });
      });
    });
  });
}

void join_next(self_ptr self, std::shared_ptr<std::vector<gossip::endpoint_id>> candidates,
               size_t i, uint64_t cur, bool use_cache, record_list now) {
  auto& ctx = self->state.ctx;
  if (i >= candidates->size()) {
    after_joins(self, cur, use_cache, std::move(now));
    return;
  }
  join_peers(self, ctx, {(*candidates)[i]}, [=](bool handed_over) {
    if (!handed_over) {
      join_next(self, candidates, i + 1, cur, use_cache, now);
      return;
    }
    wait_then(self, ctx.cfg.bootstrap.per_peer_join_settle_time, [=] {
      if_joined(self, [=](bool joined) {
        if (joined)
          succeed(self);
        else
          join_next(self, candidates, i + 1, cur, use_cache, now);
      });
    });
  });
}

void round(self_ptr self) {
  auto& st = self->state;
  auto& ctx = st.ctx;
  ++st.rounds;
  ++ctx.counters->bootstrap_rounds;
  auto started = ctx.clock->unix_seconds();
  auto cur = ctx.minute();
  bool older = st.first_round && st.last_pub == 0
               && ctx.cfg.bootstrap.check_older_records_first_on_startup;
  st.first_round = false;
  uint64_t off = older ? 1 : 0;
  bool use_cache = !older;
  uint64_t m = cur >= off ? cur - off : 0;
  fetch_minutes(self, ctx, m, [=](bool ok, record_list prev, record_list now) {
    auto records = tracker::merge_records(prev, now);
    auto candidates = std::make_shared<std::vector<gossip::endpoint_id>>(
      tracker::bootstrap_candidates(records, self->state.ctx.self_id()));
    auto& n = *self->state.ctx.counters;
    n.last_round_unix = started > 0 ? static_cast<uint64_t>(started) : 0;
    n.last_round_reads_ok = ok ? 1 : 0;
    n.last_round_records = records.size();
    n.last_round_candidates = candidates->size();
    if (records.empty()) {
      log::debug("bootstrap round {}: no records for minutes {}..{}", self->state.rounds,
                 m > 1 ? m - 2 : 0, m + 1);
      publish_if_new_minute(self, cur, use_cache, now);
      wait_then(self, ctx.cfg.bootstrap.no_peers_retry_interval, [=] { loop(self); });
      return;
    }
    log::debug("bootstrap round {}: {} records, {} candidates", self->state.rounds,
               records.size(), candidates->size());
    if_joined(self, [=](bool joined) {
      if (joined)
        succeed(self);
      else
        join_next(self, candidates, 0, cur, use_cache, now);
    });
  });
}

void loop(self_ptr self) {
  if_joined(self, [=](bool joined) {
    if (joined)
      succeed(self);
    else
      round(self);
  });
}

} // namespace

caf::behavior bootstrap_loop(caf::stateful_actor<bootstrap_state>* self, topic_context ctx,
                             caf::actor_addr owner) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.owner = std::move(owner);
  st.running = true;
  caf::anon_send(st.ctx.receiver, watch_atom::value, caf::actor_cast<caf::actor>(self));
  if (st.ctx.cfg.bootstrap.publish_record_on_startup) {
    auto m0 = st.ctx.minute();
    st.last_pub = st.ctx.cfg.bootstrap.check_older_records_first_on_startup ? 0 : m0;
    publish_empty(self, m0, nullptr);
  }
  loop(self);
  return {
    [=](wake_atom, uint64_t gen) {
      if (gen == self->state.wait_generation)
        resume(self);
    },
    [=](join_notify_atom) {
      self->state.joined = true;
      resume(self);
    },
    [=](isolated_atom) {
      auto& st = self->state;
      st.joined = false;
      if (st.running || !st.ctx.cfg.rebootstrap_when_isolated)
        return;
      log::info("bootstrap: all neighbours gone, discovering again");
      st.running = true;
      loop(self);
    },
  };
}

} // namespace dtt
