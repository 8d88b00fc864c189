#include "actors/workers.hpp"

#include "actors/log.hpp"

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

void join_candidates(self_ptr self, const char* who, std::vector<gossip::endpoint_id> c,
                     std::function<void()> done) {
  if (c.empty()) {
    done();
    return;
  }
  log::in("workers").info("{}: joining {} peer(s)", who, c.size());
  join_peers(self, self->state.ctx, std::move(c), [=](bool) { done(); });
}

using decide_fn = std::function<std::vector<gossip::endpoint_id>(
  const record_list& records, const std::vector<gossip::endpoint_id>& neighbors,
  const std::vector<bytes32>& local_hashes, const gossip::endpoint_id& self_id,
  std::mt19937_64& rng)>;

// One merge tick (§6.4–6.5): the records of minutes m−1 and m, our neighbours and message
// hashes, then `decide` picks whom to join. A failed get or request skips the tick.
void merge_tick(self_ptr self, const char* who, decide_fn decide, std::function<void()> done) {
  auto& ctx = self->state.ctx;
  fetch_two_minutes(self, ctx, ctx.minute(), [=](bool ok, record_list prev, record_list now) {
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
      auto& ctx = self->state.ctx;
      auto rec = tracker::make_record(*ctx.keys, m, nbrs, hashes);
      self->request(ctx.records, caf::infinite, publish_record_atom::value, rec)
        .then(
          [=](bool written) {
            log::in("publisher").debug("minute {} record {}", m,
                       written ? "written" : "skipped (minute full)");
            done();
          },
          [=](caf::error& e) {
            log::in("publisher").info("{}", self->system().render(e));
            done();
          });
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
                    merge_tick(self, "bubble merge", decide, std::move(done));
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
                    merge_tick(self, "overlap merge", decide, std::move(done));
                  });
}

} // namespace dtt
