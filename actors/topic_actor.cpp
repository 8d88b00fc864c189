#include "actors/topic_actor.hpp"

#include "actors/bootstrap.hpp"
#include "actors/log.hpp"
#include "actors/receiver.hpp"
#include "actors/record_publisher.hpp"
#include "actors/workers.hpp"
#include "messages/errors.hpp"

#include <caf/actor_cast.hpp>
#include <caf/all.hpp>
#include <caf/send.hpp>

namespace dtt {

namespace {

using self_ptr = caf::stateful_actor<topic_state>*;

void start_workers(self_ptr self) {
  auto& st = self->state;
  if (st.workers_started)
    return;
  st.workers_started = true;
  auto& cfg = st.ctx.cfg;
  if (cfg.publisher.enabled)
    st.workers.push_back(self->spawn<caf::linked>(publisher_worker, st.ctx));
  if (cfg.merge.bubble_merge.enabled)
    st.workers.push_back(self->spawn<caf::linked>(bubble_merge_worker, st.ctx));
  if (cfg.merge.message_overlap_merge.enabled)
    st.workers.push_back(self->spawn<caf::linked>(overlap_merge_worker, st.ctx));
  log::in("topic").info("topic {}: joined, {} background worker(s) started",
            to_hex(byte_view(st.ctx.topic_id()).sub(0, 4)), st.workers.size());
}

} // namespace

caf::behavior topic_actor_fun(caf::stateful_actor<topic_state>* self, topic_context ctx,
                              dht_actor dht) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.ctx.receiver = self->spawn<caf::linked>(receiver, st.ctx.topic_id());
  st.ctx.records = self->spawn<caf::linked>(record_publisher, st.ctx.keys, std::move(dht),
                                            st.ctx.cfg.dht,
                                            st.ctx.cfg.bootstrap.max_bootstrap_records,
                                            st.ctx.seed + 1, st.ctx.clock);
  // Subscribe the receiver (not this actor: the gossip actor keeps its subscribers alive) for
  // neighbour events, and the application's sink for every event.
  auto gossip = st.ctx.gossip;
  auto topic = st.ctx.topic_id();
  auto rcv = caf::actor_cast<gossip_subscriber>(st.ctx.receiver);
  auto sink = st.ctx.sink;
  // No request timeouts in this actor: CAF's clock holds a strong reference to the requester
  // until a timeout fires, which would keep the topic alive after the application let it go.
  auto on_subscribe_error = [=](caf::error& e) {
    log::in("topic").error("gossip subscription failed: {}", self->system().render(e));
    self->quit(std::move(e));
  };
  self->request(gossip, caf::infinite, subscribe_neighbors_atom::value, topic,
                st.ctx.membership_key(), rcv)
    .then([](const std::vector<gossip::endpoint_id>&) {}, on_subscribe_error);
  if (sink)
    self->request(gossip, caf::infinite, subscribe_atom::value, topic, st.ctx.membership_key(),
                  sink)
      .then([](const std::vector<gossip::endpoint_id>&) {}, on_subscribe_error);
  // The state is gone when attached functors run: they get what they need by value.
  auto subscribers = st.subscribers;
  self->attach_functor([gossip, topic, rcv, sink, subscribers] {
    caf::anon_send(gossip, unsubscribe_atom::value, topic, rcv);
    for (auto& sub : *subscribers)
      caf::anon_send(gossip, unsubscribe_atom::value, topic, sub);
    if (sink) {
      caf::anon_send(gossip, unsubscribe_atom::value, topic, sink);
      sink->close();
    }
  });
  // The cached peers are tried in parallel with the bootstrap loop (issue 11).
  if (!st.ctx.peer_cache_path.empty())
    st.peer_cache = self->spawn<caf::linked>(peer_cache_worker, st.ctx);
  st.bootstrap = self->spawn<caf::linked>(bootstrap_loop, st.ctx, self->address());
  auto wait_of = [](duration d) { return caf::timespan{d}; };
  return {
    [=](bootstrap_done_atom, bool ok) {
      if (ok)
        start_workers(self);
    },
    [=](broadcast_atom a, bytes& content) {
      ++self->state.handled;
      auto& c = self->state.ctx;
      return self->delegate(c.gossip, a, c.topic_id(), payload(std::move(content)),
                            wait_of(c.cfg.timeouts.broadcast_timeout));
    },
    [=](broadcast_neighbors_atom a, bytes& content) {
      ++self->state.handled;
      auto& c = self->state.ctx;
      return self->delegate(c.gossip, a, c.topic_id(), payload(std::move(content)),
                            wait_of(c.cfg.timeouts.broadcast_neighbors_timeout));
    },
    [=](join_peers_atom, std::vector<gossip::endpoint_id> ids) -> caf::result<bool> {
      ++self->state.handled;
      auto rp = self->make_response_promise<bool>();
      join_peers(self, self->state.ctx, std::move(ids), [=](bool ok) mutable { rp.deliver(ok); });
      return rp;
    },
    [=](neighbors_atom a) {
      ++self->state.handled;
      return self->delegate(self->state.ctx.gossip, a, self->state.ctx.topic_id());
    },
    [=](subscribe_atom a, const event_subscriber& sub) {
      ++self->state.handled;
      auto& subs = *self->state.subscribers;
      if (sub && std::find(subs.begin(), subs.end(), sub) == subs.end())
        subs.push_back(sub);
      auto& c = self->state.ctx;
      return self->delegate(c.gossip, a, c.topic_id(), c.membership_key(), sub);
    },
    [=](unsubscribe_atom a, const event_subscriber& sub) {
      ++self->state.handled;
      auto& subs = *self->state.subscribers;
      subs.erase(std::remove(subs.begin(), subs.end(), sub), subs.end());
      self->send(self->state.ctx.gossip, a, self->state.ctx.topic_id(), sub);
    },
    [=](await_joined_atom a) {
      ++self->state.handled;
      return self->delegate(self->state.ctx.receiver, a);
    },
    // Internal (not in dtt::topic_actor): the tracker's counters, for tests and metrics.
    [=](stats_atom) -> caf::result<std::map<std::string, uint64_t>> {
      std::map<std::string, uint64_t> out;
      out["workers"] = self->state.workers.size();
      out["joined_once"] = self->state.workers_started ? 1 : 0;
      out["actor_messages"] = self->state.handled;
      auto& n = *self->state.ctx.counters;
      out["bootstrap_rounds"] = n.bootstrap_rounds;
      for (auto k : {merge_kind::bubble, merge_kind::overlap}) {
        auto i = static_cast<size_t>(k);
        out[std::string("merges_") + merge_kind_name(k)] = n.merges[i];
        out[std::string("merge_peers_") + merge_kind_name(k)] = n.merge_peers[i];
      }
      out["last_bootstrap_unix_seconds"] = n.last_round_unix;
      out["last_bootstrap_reads_ok"] = n.last_round_reads_ok;
      out["last_bootstrap_records"] = n.last_round_records;
      out["last_bootstrap_candidates"] = n.last_round_candidates;
      auto rp = self->make_response_promise<std::map<std::string, uint64_t>>();
      // The record publisher's counters (records dropped by reason) join ours.
      self->request(self->state.ctx.records, caf::infinite, stats_atom::value)
        .then(
          [=](std::map<std::string, uint64_t>& more) mutable {
            out.insert(more.begin(), more.end());
            rp.deliver(std::move(out));
          },
          [=](caf::error&) mutable { rp.deliver(std::move(out)); });
      return rp;
    },
  };
}

} // namespace dtt
