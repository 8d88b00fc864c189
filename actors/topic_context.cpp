#include "actors/topic_context.hpp"

#include "actors/log.hpp"

namespace dtt {

namespace {
const auto tlog = log::in("topic");
} // namespace

uint64_t topic_context::minute(int64_t offset) const {
  return crypto::unix_minute(*clock, offset).value_or(0);
}

void join_peers(caf::event_based_actor* self, const topic_context& ctx,
                std::vector<gossip::endpoint_id> ids, std::function<void(bool)> done) {
  auto gossip = ctx.gossip;
  auto topic = ctx.topic_id();
  auto timeout = ctx.cfg.timeouts.join_peer_timeout;
  auto hand_over = [=](std::vector<gossip::endpoint_id> peers) {
    if (peers.empty()) {
      done(false);
      return;
    }
    self->request(gossip, timeout, join_peers_atom::value, topic, std::move(peers))
      .then([=](bool ok) { done(ok); },
            [=](caf::error& e) {
              tlog.debug("join_peers failed: {}", self->system().render(e));
              done(false);
            });
  };
  if (!ctx.resolver) {
    hand_over(std::move(ids));
    return;
  }
  // Resolution is a DHT lookup per id; bound it by the DHT get timeout plus a margin.
  self->request(ctx.resolver, ctx.cfg.dht.get_timeout + std::chrono::seconds(2),
                resolve_atom::value, std::move(ids))
    .then([=](const std::vector<gossip::endpoint_id>& resolved) { hand_over(resolved); },
          [=](caf::error& e) {
            tlog.debug("resolving join candidates failed: {}", self->system().render(e));
            done(false);
          });
}

void check_joined(caf::event_based_actor* self, const topic_context& ctx,
                  std::function<void(bool)> then) {
  self->request(ctx.receiver, std::chrono::seconds(5), neighbors_atom::value)
    .then([=](const std::vector<gossip::endpoint_id>& n) { then(!n.empty()); },
          [=](caf::error&) { then(false); });
}

void fetch_view(caf::event_based_actor* self, const topic_context& ctx,
                std::function<void(bool, std::vector<gossip::endpoint_id>, std::vector<bytes32>)>
                  then) {
  // One request: the gossip actor owns the neighbours and the recent messages.
  self->request(ctx.gossip, std::chrono::seconds(5), snapshot_atom::value, ctx.topic_id())
    .then(
      [=](std::vector<gossip::endpoint_id>& nbrs, std::vector<bytes32>& hashes) {
        then(true, std::move(nbrs), std::move(hashes));
      },
      [=](caf::error&) { then(false, {}, {}); });
}

void fetch_minutes(caf::event_based_actor* self, const topic_context& ctx, uint64_t m,
                   std::function<void(bool, record_list, record_list)> then) {
  struct pending {
    int left = 4;
    bool ok = true;
    record_list before, prev, now, next;
  };
  auto p = std::make_shared<pending>();
  auto finish = [=] {
    if (--p->left == 0)
      then(p->ok,
           tracker::merge_records(tracker::merge_records(std::move(p->prev), p->before),
                                  p->next),
           std::move(p->now));
  };
  auto timeout = ctx.cfg.dht.get_timeout + std::chrono::seconds(5);
  auto get = [&](uint64_t minute, record_list pending::*into) {
    self->request(ctx.records, timeout, get_records_atom::value, minute)
      .then([=](record_list& r) { (*p).*into = std::move(r); finish(); },
            [=](caf::error&) { p->ok = false; finish(); });
  };
  get(m > 1 ? m - 2 : 0, &pending::before);
  get(m > 0 ? m - 1 : 0, &pending::prev);
  get(m, &pending::now);
  get(m + 1, &pending::next);
}

} // namespace dtt
