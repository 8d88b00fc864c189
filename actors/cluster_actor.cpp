#include "actors/cluster_actor.hpp"

#include "actors/log.hpp"
#include "messages/errors.hpp"

#include <caf/all.hpp>
#include <caf/io/middleman_actor.hpp>
#include <caf/openssl/manager.hpp>

#include <map>

namespace dtt {

namespace {

using namespace cluster_core;
using tick_atom_c = caf::atom_constant<caf::atom("ctick")>;

// A connected member: its cluster actor (a proxy over the TLS link) and resolved names.
struct remote_member {
  uint64_t incarnation = 0;
  caf::actor peer;
  std::map<std::string, caf::actor> handles;
};

struct cluster_state {
  std::unique_ptr<membership> core;
  topic_actor topic;
  caf::io::middleman_actor mm;
  std::map<std::string, caf::actor> published;
  std::map<endpoint_id, remote_member> remote;
  std::vector<cluster_subscriber> subscribers;
  // Hellos from members whose record has not arrived yet (at most max_members).
  std::map<endpoint_id, std::pair<uint64_t, caf::actor>> pending_hellos;
  caf::actor_clock::time_point epoch;
  bool tick_pending = false;
  time_ms tick_at{0};
  uint64_t tick_gen = 0;
  bool started = false;
  static inline const char* name = "dtt.cluster";
};

using self_ptr = caf::stateful_actor<cluster_state>*;

time_ms now_of(self_ptr self) {
  return std::chrono::duration_cast<time_ms>(self->clock().now() - self->state.epoch);
}

void notify(self_ptr self, const cluster_event& ev) {
  for (auto& s : self->state.subscribers)
    self->send(s, cluster_event_atom::value, ev);
}

void schedule(self_ptr self) {
  auto& st = self->state;
  auto at = st.core->next_deadline();
  if (st.tick_pending && st.tick_at <= at)
    return;
  st.tick_pending = true;
  st.tick_at = at;
  auto delay = std::max(time_ms{0}, at - now_of(self));
  self->delayed_send(self, delay, tick_atom_c::value, ++st.tick_gen);
}

void apply(self_ptr self, effects fx);

// A link to member `id` is up, with `peer` its cluster actor: true if its record agrees.
bool accept_link(self_ptr self, const endpoint_id& id, uint64_t inc, const caf::actor& peer) {
  auto& st = self->state;
  auto it = st.core->members().find(id);
  if (it == st.core->members().end() || it->second.rec.incarnation != inc || it->second.up)
    return false;
  auto node = caf::to_string(peer.node());
  if (bytes(node.begin(), node.end()) != it->second.rec.node)
    return false;
  if (auto old = st.remote.find(id); old != st.remote.end())
    self->demonitor(old->second.peer);
  self->monitor(peer);
  auto& rm = st.remote[id];
  rm.incarnation = inc;
  rm.peer = peer;
  rm.handles.clear();
  apply(self, st.core->connected(id, inc, now_of(self)));
  return true;
}

void try_connect(self_ptr self, connect_request req, size_t index) {
  if (index >= req.addresses.size()) {
    apply(self, self->state.core->connect_failed(req.id, req.incarnation, now_of(self)));
    return;
  }
  auto addr = req.addresses[index];
  self->request(self->state.mm, std::chrono::seconds(10), caf::connect_atom::value, addr.ip,
                addr.port)
    .then(
      [=](const caf::node_id& nid, caf::strong_actor_ptr& ptr, std::set<std::string>&) {
        auto node = caf::to_string(nid);
        if (!ptr || bytes(node.begin(), node.end()) != req.node) {
          log::warn_limited("cluster-node", "cluster: {}:{} is not the node its record names",
                            addr.ip, addr.port);
          try_connect(self, req, index + 1);
          return;
        }
        auto peer = caf::actor_cast<caf::actor>(std::move(ptr));
        auto& core = *self->state.core;
        if (!accept_link(self, req.id, req.incarnation, peer))
          return; // replaced or dropped meanwhile
        self->request(peer, std::chrono::seconds(10), cluster_hello_atom::value, core.id(),
                      core.incarnation())
          .then([](bool) {}, [](const caf::error&) {});
      },
      [=](const caf::error& e) {
        log::debug("cluster: connecting {}:{} failed: {}", addr.ip, addr.port,
                   self->system().render(e));
        try_connect(self, req, index + 1);
      });
}

void resolve(self_ptr self, const endpoint_id& id, uint64_t inc, const std::string& name) {
  auto it = self->state.remote.find(id);
  if (it == self->state.remote.end() || it->second.incarnation != inc)
    return;
  self->request(it->second.peer, std::chrono::seconds(10), cluster_resolve_atom::value, name)
    .then(
      [=](caf::actor& a) {
        auto r = self->state.remote.find(id);
        auto m = self->state.core->members().find(id);
        if (r == self->state.remote.end() || r->second.incarnation != inc || !a ||
            m == self->state.core->members().end())
          return;
        auto& names = m->second.rec.names;
        if (!std::binary_search(names.begin(), names.end(), name))
          return; // withdrawn meanwhile
        r->second.handles[name] = a;
        notify(self, cluster_event{cluster_event::kind::actor_up, id, inc, name, a});
      },
      [=](const caf::error&) {});
}

void apply(self_ptr self, effects fx) {
  auto& st = self->state;
  for (auto& b : fx.broadcasts)
    self->request(st.topic, std::chrono::seconds(10), broadcast_atom::value, std::move(b))
      .then([](bool) {}, [](const caf::error&) {}); // the next announce repeats it
  for (auto& ev : fx.events) {
    using k = membership_event::kind;
    switch (ev.k) {
      case k::member_up:
        notify(self, {cluster_event::kind::member_up, ev.id, ev.incarnation, {}, {}});
        break;
      case k::member_down:
        notify(self, {cluster_event::kind::member_down, ev.id, ev.incarnation, {}, {}});
        break;
      case k::actor_up:
        resolve(self, ev.id, ev.incarnation, ev.name);
        break;
      case k::actor_down: {
        caf::actor old;
        if (auto it = st.remote.find(ev.id); it != st.remote.end()) {
          auto h = it->second.handles.find(ev.name);
          if (h != it->second.handles.end()) {
            old = h->second;
            it->second.handles.erase(h);
          }
        }
        notify(self, {cluster_event::kind::actor_down, ev.id, ev.incarnation, ev.name, old});
        break;
      }
    }
  }
  for (auto& [id, inc] : fx.probes) {
    auto it = st.remote.find(id);
    if (it == st.remote.end())
      continue;
    auto idc = id;
    auto incc = inc;
    self->request(it->second.peer, std::chrono::seconds(3), cluster_ping_atom::value)
      .then([=](bool) { apply(self, self->state.core->alive(idc, incc, now_of(self))); },
            [=](const caf::error&) {
              apply(self, self->state.core->node_down(idc, incc, now_of(self)));
            });
  }
  // After the events: actor_down carries the handle that goes.
  for (auto& id : fx.disconnects) {
    auto it = st.remote.find(id);
    if (it != st.remote.end()) {
      self->demonitor(it->second.peer);
      st.remote.erase(it);
    }
  }
  for (auto& c : fx.connects)
    try_connect(self, std::move(c), 0);
  for (auto it = st.pending_hellos.begin(); it != st.pending_hellos.end();) {
    auto m = st.core->members().find(it->first);
    if (m == st.core->members().end()) {
      ++it;
      continue;
    }
    auto [inc, peer] = it->second;
    auto id = it->first;
    it = st.pending_hellos.erase(it);
    accept_link(self, id, inc, peer);
    it = st.pending_hellos.lower_bound(id);
  }
  if (st.started)
    schedule(self);
}

std::vector<cluster_member> member_list(self_ptr self) {
  auto& core = *self->state.core;
  std::vector<cluster_member> out;
  auto to_member = [](const member_record& r, bool self_flag) {
    return cluster_member{r.id,        r.incarnation, std::string(r.node.begin(), r.node.end()),
                          r.addresses, r.names,       self_flag};
  };
  out.push_back(to_member(core.self(), true));
  for (auto& [id, e] : core.members())
    if (e.up)
      out.push_back(to_member(e.rec, false));
  return out;
}

caf::behavior cluster_fn(self_ptr self, cluster_actor_args args) {
  auto& st = self->state;
  st.epoch = self->clock().now();
  st.topic = args.topic;
  st.mm = self->system().openssl_manager().actor_handle();
  st.core = std::make_unique<membership>(args.key, args.cluster_id, args.incarnation,
                                         args.membership);
  auto node = caf::to_string(self->system().node());
  st.core->set_local(bytes(node.begin(), node.end()), args.advertise);
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& st = self->state;
    for (auto it = st.subscribers.begin(); it != st.subscribers.end(); ++it)
      if (caf::actor_cast<caf::actor_addr>(*it) == dm.source) {
        st.subscribers.erase(it);
        return;
      }
    for (auto it = st.published.begin(); it != st.published.end(); ++it)
      if (caf::actor_cast<caf::actor_addr>(it->second) == dm.source) {
        auto name = it->first;
        st.published.erase(it);
        notify(self, {cluster_event::kind::actor_down, st.core->id(), st.core->incarnation(),
                      name, {}});
        apply(self, st.core->unpublish(name, now_of(self)));
        return;
      }
    for (auto& [id, rm] : st.remote)
      if (caf::actor_cast<caf::actor_addr>(rm.peer) == dm.source) {
        log::info("cluster: link to member {} down", to_hex(byte_view(id.data(), 4)));
        auto idc = id;
        auto inc = rm.incarnation;
        apply(self, st.core->node_down(idc, inc, now_of(self)));
        return;
      }
  });
  self->request(st.topic, caf::infinite, subscribe_atom::value,
                caf::actor_cast<event_subscriber>(self))
    .then([](const std::vector<endpoint_id>&) {},
          [=](const caf::error&) { self->quit(caf::exit_reason::user_shutdown); });
  return {
    [=](cluster_start_atom, std::vector<socket_address>& addresses) {
      auto& st = self->state;
      st.core->set_local(st.core->self().node, std::move(addresses));
      st.started = true;
      apply(self, st.core->start(now_of(self)));
    },
    [=](tick_atom_c, uint64_t gen) {
      auto& st = self->state;
      if (gen != st.tick_gen)
        return;
      st.tick_pending = false;
      apply(self, st.core->tick(now_of(self)));
    },
    [=](event_atom, const bytes32&, const event& ev) {
      auto& st = self->state;
      auto now = now_of(self);
      switch (ev.k) {
        case event::kind::received:
          apply(self, st.core->handle_record(ev.content, now));
          break;
        case event::kind::neighbor_down:
          apply(self, st.core->neighbor_down(ev.peer, now));
          break;
        case event::kind::neighbor_up:
          // Our first announcements may have gone out before we had a neighbour.
          apply(self, st.core->neighbor_up(now));
          break;
        case event::kind::lagged:
          break;
      }
    },
    [=](cluster_publish_atom, const std::string& name, const caf::actor& a) -> caf::result<bool> {
      auto& st = self->state;
      if (!a)
        return caf::make_error(errc::invalid_argument, "null actor");
      auto fx = st.core->publish(name, now_of(self));
      if (!fx)
        return caf::make_error(fx.err().code, fx.err().what);
      if (auto old = st.published.find(name); old != st.published.end())
        self->demonitor(old->second);
      st.published[name] = a;
      self->monitor(a);
      notify(self, {cluster_event::kind::actor_up, st.core->id(), st.core->incarnation(), name, a});
      apply(self, std::move(*fx));
      return true;
    },
    [=](cluster_unpublish_atom, const std::string& name) {
      auto& st = self->state;
      auto it = st.published.find(name);
      if (it == st.published.end())
        return false;
      self->demonitor(it->second);
      st.published.erase(it);
      notify(self, {cluster_event::kind::actor_down, st.core->id(), st.core->incarnation(), name,
                    {}});
      apply(self, st.core->unpublish(name, now_of(self)));
      return true;
    },
    [=](cluster_lookup_atom, const std::string& name) {
      auto& st = self->state;
      std::vector<caf::actor> out;
      if (auto it = st.published.find(name); it != st.published.end())
        out.push_back(it->second);
      for (auto& [id, rm] : st.remote) {
        auto h = rm.handles.find(name);
        if (h != rm.handles.end())
          out.push_back(h->second);
      }
      return out;
    },
    [=](cluster_members_atom) { return member_list(self); },
    [=](subscribe_atom, const cluster_subscriber& s) {
      self->state.subscribers.push_back(s);
      self->monitor(s);
      return member_list(self);
    },
    [=](unsubscribe_atom, const cluster_subscriber& s) {
      auto& subs = self->state.subscribers;
      subs.erase(std::remove(subs.begin(), subs.end(), s), subs.end());
    },
    // From another member's cluster actor over the TLS link.
    [=](cluster_resolve_atom, const std::string& name) -> caf::result<caf::actor> {
      auto& st = self->state;
      auto it = st.published.find(name);
      if (it == st.published.end())
        return caf::make_error(errc::unreachable, "not published here");
      return it->second;
    },
    [=](cluster_hello_atom, const endpoint_id& id, uint64_t inc) {
      auto& st = self->state;
      auto peer = caf::actor_cast<caf::actor>(self->current_sender());
      if (!peer || id == st.core->id())
        return false;
      if (accept_link(self, id, inc, peer))
        return true;
      // The record may still be on its way: kept until it comes (bounded).
      if (st.pending_hellos.size() < 256 || st.pending_hellos.count(id) > 0)
        st.pending_hellos[id] = {inc, peer};
      return false;
    },
    [=](cluster_ping_atom) { return true; },
    [=](cluster_leave_atom) -> caf::result<bool> {
      auto& st = self->state;
      auto fx = st.core->leave();
      auto rp = self->make_response_promise<bool>();
      if (fx.broadcasts.empty()) {
        rp.deliver(true);
        return rp;
      }
      self->request(st.topic, std::chrono::seconds(2), broadcast_atom::value,
                    std::move(fx.broadcasts.front()))
        .then([=](bool) mutable { rp.deliver(true); },
              [=](const caf::error&) mutable { rp.deliver(false); });
      return rp;
    },
  };
}

} // namespace

caf::actor spawn_cluster_actor(caf::actor_system& sys, cluster_actor_args args) {
  return sys.spawn(cluster_fn, std::move(args));
}

} // namespace dtt
