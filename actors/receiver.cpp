#include "actors/receiver.hpp"

#include "actors/log.hpp"
#include "messages/errors.hpp"

#include <caf/send.hpp>

#include <algorithm>

namespace dtt {

namespace {

using self_ptr = receiver_actor::stateful_pointer<receiver_state>;

void notify(self_ptr self, caf::atom_value what) {
  for (auto& w : self->state.watchers)
    caf::anon_send(w, what);
}

void deliver(self_ptr self) {
  auto& st = self->state;
  while (!st.readers.empty() && (!st.buffer.empty() || st.lagged > 0)) {
    gossip::event ev;
    if (st.lagged > 0) {
      ev.k = gossip::event::kind::lagged;
      // The count of dropped events travels in the content as LE64.
      put_le64(ev.content, st.lagged);
      st.lagged = 0;
    } else {
      ev = std::move(st.buffer.front());
      st.buffer.pop_front();
    }
    st.readers.begin()->second.deliver(std::move(ev));
    st.readers.erase(st.readers.begin());
  }
}

void on_joined(self_ptr self) {
  for (auto& w : self->state.join_waiters)
    w.deliver(true);
  self->state.join_waiters.clear();
  notify(self, join_notify_atom::value);
}

} // namespace

receiver_actor::behavior_type receiver(receiver_actor::stateful_pointer<receiver_state> self,
                                       size_t capacity) {
  self->state.capacity = capacity == 0 ? 1 : capacity;
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& ws = self->state.watchers;
    ws.erase(std::remove_if(ws.begin(), ws.end(),
                            [&](const caf::actor& a) { return a.address() == dm.source; }),
             ws.end());
  });
  return {
    [=](gossip_event_atom, const gossip::topic_id&, const gossip::event& ev) {
      auto& st = self->state;
      switch (ev.k) {
        case gossip::event::kind::neighbor_up:
          st.neighbors.insert(ev.peer);
          break;
        case gossip::event::kind::neighbor_down:
          st.neighbors.erase(ev.peer);
          break;
        case gossip::event::kind::received:
          st.hashes.push(ev.content);
          break;
        case gossip::event::kind::lagged:
          break;
      }
      if (st.buffer.size() >= st.capacity) {
        st.buffer.pop_front();
        ++st.lagged;
      }
      st.buffer.push_back(ev);
      deliver(self);
      if (ev.k == gossip::event::kind::neighbor_up || ev.k == gossip::event::kind::received)
        on_joined(self);
      else if (ev.k == gossip::event::kind::neighbor_down && st.neighbors.empty())
        notify(self, isolated_atom::value);
    },
    [=](neighbors_atom) {
      auto& n = self->state.neighbors;
      return std::vector<gossip::endpoint_id>(n.begin(), n.end());
    },
    [=](hashes_atom) { return self->state.hashes.hashes(); },
    [=](await_joined_atom) -> caf::result<bool> {
      if (!self->state.neighbors.empty())
        return true;
      auto rp = self->make_response_promise<bool>();
      self->state.join_waiters.push_back(rp);
      return rp;
    },
    [=](next_event_atom, caf::timespan wait) -> caf::result<gossip::event> {
      auto rp = self->make_response_promise<gossip::event>();
      auto id = self->state.next_reader++;
      self->state.readers.emplace(id, rp);
      deliver(self);
      if (self->state.readers.count(id) > 0 && wait != caf::timespan::max())
        self->delayed_send(self, wait, wake_atom::value, id);
      return rp;
    },
    [=](wake_atom, uint64_t id) {
      auto i = self->state.readers.find(id);
      if (i != self->state.readers.end()) {
        i->second.deliver(caf::make_error(errc::timeout, "no event within the wait"));
        self->state.readers.erase(i);
      }
    },
    [=](watch_atom, caf::actor watcher) {
      self->monitor(watcher);
      self->state.watchers.push_back(std::move(watcher));
    },
  };
}

} // namespace dtt
