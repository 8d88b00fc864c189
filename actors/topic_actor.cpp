#include "actors/topic_actor.hpp"

#include "actors/bootstrap.hpp"
#include "actors/log.hpp"
#include "actors/receiver.hpp"
#include "actors/record_publisher.hpp"
#include "actors/workers.hpp"
#include "messages/errors.hpp"

#include <caf/actor_cast.hpp>
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

// Forwards a payload to the gossip actor under a timeout, answering the caller.
caf::result<bool> forward_broadcast(self_ptr self, bool neighbors_only, const bytes& content) {
  auto& ctx = self->state.ctx;
  auto rp = self->make_response_promise<bool>();
  // The caller applies broadcast[_neighbors]_timeout (see the note on request timeouts above).
  auto timeout = caf::infinite;
  auto on_ok = [=](bool ok) mutable { rp.deliver(ok); };
  auto on_err = [=](caf::error& e) mutable { rp.deliver(std::move(e)); };
  if (neighbors_only)
    self->request(ctx.gossip, timeout, broadcast_neighbors_atom::value, ctx.topic_id(), content)
      .then(on_ok, on_err);
  else
    self->request(ctx.gossip, timeout, broadcast_atom::value, ctx.topic_id(), content)
      .then(on_ok, on_err);
  return rp;
}

} // namespace

caf::behavior topic_actor(caf::stateful_actor<topic_state>* self, topic_context ctx,
                          dht_actor dht) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.ctx.receiver = self->spawn<caf::linked>(receiver, st.ctx.cfg.event_buffer);
  st.ctx.records = self->spawn<caf::linked>(record_publisher, st.ctx.keys, std::move(dht),
                                            st.ctx.cfg.dht,
                                            st.ctx.cfg.bootstrap.max_bootstrap_records,
                                            st.ctx.seed + 1, st.ctx.clock);
  // Subscribe the receiver (not this actor: the gossip actor keeps its subscribers alive).
  auto gossip = st.ctx.gossip;
  auto topic = st.ctx.topic_id();
  auto rcv = st.ctx.receiver;
  // No request timeouts in this actor: CAF's clock holds a strong reference to the requester
  // until a timeout fires, which would keep the topic alive after the application let it go.
  self->request(gossip, caf::infinite, subscribe_atom::value, topic,
                st.ctx.membership_key(), caf::actor_cast<gossip_subscriber>(rcv))
    .then([](const std::vector<gossip::endpoint_id>&) {},
          [=](caf::error& e) {
            log::in("topic").error("gossip subscription failed: {}", self->system().render(e));
            self->quit(std::move(e));
          });
  self->attach_functor([gossip, topic, rcv] {
    caf::anon_send(gossip, unsubscribe_atom::value, topic,
                   caf::actor_cast<gossip_subscriber>(rcv));
  });
  // The cached peers are tried in parallel with the bootstrap loop (issue 11).
  if (!st.ctx.peer_cache_path.empty())
    st.peer_cache = self->spawn<caf::linked>(peer_cache_worker, st.ctx);
  st.bootstrap = self->spawn<caf::linked>(bootstrap_loop, st.ctx, self->address());
  return {
    [=](bootstrap_done_atom, bool ok) {
      if (ok)
        start_workers(self);
    },
    [=](broadcast_atom, const bytes& content) { return forward_broadcast(self, false, content); },
    [=](broadcast_neighbors_atom, const bytes& content) {
      return forward_broadcast(self, true, content);
    },
    [=](join_peers_atom, std::vector<gossip::endpoint_id> ids) -> caf::result<bool> {
      auto rp = self->make_response_promise<bool>();
      join_peers(self, self->state.ctx, std::move(ids), [=](bool ok) mutable { rp.deliver(ok); });
      return rp;
    },
    [=](neighbors_atom a) { return self->delegate(self->state.ctx.receiver, a); },
    [=](hashes_atom a) { return self->delegate(self->state.ctx.receiver, a); },
    [=](next_event_atom a, caf::timespan wait) {
      return self->delegate(self->state.ctx.receiver, a, wait);
    },
    [=](await_joined_atom a) { return self->delegate(self->state.ctx.receiver, a); },
    [=](stats_atom) -> caf::result<std::map<std::string, uint64_t>> {
      std::map<std::string, uint64_t> out;
      out["workers"] = self->state.workers.size();
      out["joined_once"] = self->state.workers_started ? 1 : 0;
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
