#include "actors/receiver.hpp"

#include "actors/log.hpp"

#include <caf/send.hpp>

#include <algorithm>

namespace dtt {

namespace {

using self_ptr = receiver_actor::stateful_pointer<receiver_state>;

void notify(self_ptr self, caf::atom_value what) {
  for (auto& w : self->state.watchers)
    caf::anon_send(w, what);
}

} // namespace

receiver_actor::behavior_type receiver(receiver_actor::stateful_pointer<receiver_state> self,
                                       gossip::topic_id topic) {
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& ws = self->state.watchers;
    ws.erase(std::remove_if(ws.begin(), ws.end(),
                            [&](const caf::actor& a) { return a.address() == dm.source; }),
             ws.end());
  });
  return {
    [=](gossip_event_atom, const gossip::topic_id&, const gossip::event& ev) {
      auto& st = self->state;
      if (ev.k == gossip::event::kind::neighbor_up) {
        st.neighbors.insert(ev.peer);
        for (auto& w : st.join_waiters)
          w.deliver(true);
        st.join_waiters.clear();
        notify(self, join_notify_atom::value);
      } else if (ev.k == gossip::event::kind::neighbor_down) {
        st.neighbors.erase(ev.peer);
        if (st.neighbors.empty()) {
          log::in("topic").debug("topic {}: the last neighbour is gone",
                                 to_hex(byte_view(topic).sub(0, 4)));
          notify(self, isolated_atom::value);
        }
      }
    },
    [=](neighbors_atom) {
      auto& n = self->state.neighbors;
      return std::vector<gossip::endpoint_id>(n.begin(), n.end());
    },
    [=](await_joined_atom) -> caf::result<bool> {
      if (!self->state.neighbors.empty())
        return true;
      auto rp = self->make_response_promise<bool>();
      self->state.join_waiters.push_back(rp);
      return rp;
    },
    [=](watch_atom, caf::actor watcher) {
      self->monitor(watcher);
      if (!self->state.neighbors.empty()) // the state so far, then every change
        caf::anon_send(watcher, join_notify_atom::value);
      self->state.watchers.push_back(std::move(watcher));
    },
  };
}

} // namespace dtt
