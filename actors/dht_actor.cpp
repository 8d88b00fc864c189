#include "actors/dht_actor.hpp"

#include "actors/io_bridge.hpp"
#include "actors/log.hpp"

#include "dht/bencode.hpp"
#include "dht/udp_node.hpp"
#include "messages/errors.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <caf/actor_cast.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <map>
#include <memory>
#include <set>

namespace dtt {

namespace {

// Internal messages from the io thread (and self timers); not part of dht_actor.
using dht_item_atom = caf::atom_constant<caf::atom("dhtitem")>;
using dht_got_atom = caf::atom_constant<caf::atom("dhtgot")>;
using dht_put_atom = caf::atom_constant<caf::atom("dhtput")>;
using dht_imm_atom = caf::atom_constant<caf::atom("dhtimm")>;
using dht_stat_atom = caf::atom_constant<caf::atom("dhtstat")>;
using dht_tmo_atom = caf::atom_constant<caf::atom("dhttmo")>;

using impl_actor = dht_actor::extend<
  caf::reacts_to<dht_item_atom, uint64_t, dht::mutable_item>,
  caf::reacts_to<dht_got_atom, uint64_t>,
  caf::reacts_to<dht_put_atom, uint64_t, dht::put_outcome, byte_array<20>>,
  caf::reacts_to<dht_imm_atom, uint64_t, bool, bytes>,
  caf::reacts_to<dht_stat_atom, uint64_t, std::map<std::string, uint64_t>>,
  caf::reacts_to<dht_tmo_atom, uint64_t>>;

// Everything the io thread touches. Only used on the io thread, except `node` (set once before
// the actor exists) and `bridge` (thread-safe).
struct io_side {
  std::shared_ptr<dht::udp_node> node;
  io_bridge bridge; // results and timeouts to the actor (weak: never keeps it alive)
  std::map<uint64_t, dht::request_id> ids;  // actor correlation id -> core request id

  std::set<uint64_t> finished;              // completed before track() ran (synchronously)

  void track(uint64_t cid, dht::request_id id) {
    if (!finished.erase(cid))
      ids[cid] = id;
  }
  void finish(uint64_t cid) {
    timers.erase(cid);
    if (!ids.erase(cid))
      finished.insert(cid);
  }
  // Request deadlines run on the io thread, not as actor self-timers: a pending delayed_send
  // would keep the actor alive after its last handle is dropped (DESIGN.md, Lifetimes).
  std::map<uint64_t, std::unique_ptr<boost::asio::steady_timer>> timers;

  void arm(uint64_t cid, caf::timespan timeout, const std::shared_ptr<io_side>& me) {
    auto timer = std::make_unique<boost::asio::steady_timer>(node->io_context(), timeout);
    std::weak_ptr<io_side> weak = me;
    timer->async_wait([weak, cid](const boost::system::error_code& ec) {
      auto s = weak.lock();
      if (ec || !s)
        return;
      s->timers.erase(cid);
      auto it = s->ids.find(cid);
      if (it != s->ids.end()) {
        s->node->cancel(it->second);
        s->ids.erase(it);
      }
      s->bridge.send(dht_tmo_atom::value, cid);
    });
    timers[cid] = std::move(timer);
  }
};

struct dht_state {
  static inline const char* name = "dtt.dht";
  boost::asio::io_context* io = nullptr;
  std::shared_ptr<io_side> side;
  uint64_t next_id = 1;
  struct pending_get {
    caf::typed_response_promise<std::vector<dht::mutable_item>> rp;
    std::vector<dht::mutable_item> items;
  };
  std::map<uint64_t, pending_get> gets;
  std::map<uint64_t, caf::typed_response_promise<dht::put_outcome>> puts;
  std::map<uint64_t, caf::typed_response_promise<byte_array<20>>> imm_puts;
  std::map<uint64_t, caf::typed_response_promise<bytes>> imm_gets;
  std::map<uint64_t, caf::typed_response_promise<std::map<std::string, uint64_t>>> stats;
  /// Requests this actor took, by kind (reported by dht_stats as actor_<kind>).
  uint64_t n_get_mutable = 0, n_put_mutable = 0, n_get_immutable = 0, n_put_immutable = 0;

  template <class F>
  void on_io(F f) {
    boost::asio::post(*io, [s = side, f = std::move(f)]() mutable {
      if (!s->node->stopped())
        f(*s, s);
    });
  }
};

bool answered(const dht::put_outcome& o) {
  return o.stored + o.cas_mismatch + o.seq_too_small + o.other_errors > 0;
}

impl_actor::behavior_type dht_behavior(impl_actor::stateful_pointer<dht_state> self,
                                       boost::asio::io_context* io,
                                       std::shared_ptr<io_side> side) {
  self->state.io = io;
  self->state.side = side;
  side->bridge.attach(self->address());
  boost::asio::post(*io, [side] { side->node->start(); });
  // When the actor goes away (last handle dropped), the node shuts down on its own thread.
  self->attach_functor([io, side](const caf::error&) {
    boost::asio::post(*io, [side] {
      side->node->stop();
      side->ids.clear();
      side->timers.clear();
    });
  });
  return {
    [=](get_mutable_atom, bytes32 key, bytes salt, caf::timespan timeout)
      -> caf::result<std::vector<dht::mutable_item>> {
      auto& st = self->state;
      ++st.n_get_mutable;
      auto cid = st.next_id++;
      auto& g = st.gets[cid];
      g.rp = self->make_response_promise<std::vector<dht::mutable_item>>();
      auto rp = g.rp;
      st.on_io([cid, key, salt = std::move(salt), timeout](io_side& s,
                                                          const std::shared_ptr<io_side>& me) mutable {
        auto id = s.node->get_mutable(
          key, std::move(salt),
          [cid, &s](const dht::mutable_item& item) {
            s.bridge.send(dht_item_atom::value, cid, item);
          },
          [cid, &s](const dht::completion& c) {
            log::debug("dht get: {} items; {}", c.items, dht::summary(c));
            s.finish(cid);
            s.bridge.send(dht_got_atom::value, cid);
          });
        s.track(cid, id);
        if (s.ids.count(cid))
          s.arm(cid, timeout, me);
      });
      return rp;
    },
    [=](put_mutable_atom, dht::mutable_item item, int64_t cas) -> caf::result<dht::put_outcome> {
      auto& st = self->state;
      ++st.n_put_mutable;
      if (auto v = item.verify(); !v)
        return to_caf_error(v.err());
      auto cid = st.next_id++;
      auto rp = self->make_response_promise<dht::put_outcome>();
      st.puts[cid] = rp;
      std::optional<int64_t> c;
      if (cas >= 0)
        c = cas;
      st.on_io([cid, item = std::move(item), c](io_side& s, const std::shared_ptr<io_side>& me) {
        auto target = item.target();
        auto id = s.node->put_mutable(item, c, [cid, target, &s](const dht::completion& r) {
          log::debug("dht put: stored on {}, {} refused, {} no response; {}", r.put.stored,
                     r.put.cas_mismatch + r.put.seq_too_small + r.put.other_errors,
                     r.put.no_response, dht::summary(r));
          s.finish(cid);
          s.bridge.send(dht_put_atom::value, cid, r.put, target);
        });
        s.track(cid, id);
      });
      return rp;
    },
    [=](get_immutable_atom, byte_array<20> target, caf::timespan timeout) -> caf::result<bytes> {
      auto& st = self->state;
      ++st.n_get_immutable;
      auto cid = st.next_id++;
      auto rp = self->make_response_promise<bytes>();
      st.imm_gets[cid] = rp;
      st.on_io([cid, target, timeout](io_side& s, const std::shared_ptr<io_side>& me) {
        auto id = s.node->get_immutable(target, [cid, &s](const dht::completion& r) {
          s.finish(cid);
          s.bridge.send(dht_imm_atom::value, cid, r.immutable_value.has_value(),
                        r.immutable_value.value_or(bytes{}));
        });
        s.track(cid, id);
        if (s.ids.count(cid))
          s.arm(cid, timeout, me);
      });
      return rp;
    },
    [=](put_immutable_atom, bytes value) -> caf::result<byte_array<20>> {
      auto& st = self->state;
      ++st.n_put_immutable;
      if (value.size() > crypto::bep44::max_value_size)
        return caf::make_error(errc::too_large, "BEP 44 value over 1000 bytes");
      if (!dht::bencode::decode(value))
        return caf::make_error(errc::invalid_argument, "put_immutable needs a bencoded value");
      auto cid = st.next_id++;
      auto rp = self->make_response_promise<byte_array<20>>();
      st.imm_puts[cid] = rp;
      st.on_io([cid, value = std::move(value)](io_side& s, const std::shared_ptr<io_side>& me) mutable {
        auto target = crypto::bep44::immutable_target(value);
        auto done = [cid, target, &s](const dht::completion& r) {
          s.finish(cid);
          s.bridge.send(dht_put_atom::value, cid, r.put, target);
        };
        s.track(cid, s.node->put_immutable(std::move(value), done));
      });
      return rp;
    },
    [=](dht_stats_atom) -> caf::result<std::map<std::string, uint64_t>> {
      auto& st = self->state;
      auto cid = st.next_id++;
      auto rp = self->make_response_promise<std::map<std::string, uint64_t>>();
      st.stats[cid] = rp;
      boost::asio::post(*st.io, [side = st.side, cid] {
        side->bridge.send(dht_stat_atom::value, cid, side->node->stats());
      });
      return rp;
    },
    // ---- internal ----
    [=](dht_item_atom, uint64_t cid, dht::mutable_item& item) {
      auto it = self->state.gets.find(cid);
      if (it != self->state.gets.end())
        it->second.items.push_back(std::move(item));
    },
    [=](dht_got_atom, uint64_t cid) {
      auto it = self->state.gets.find(cid);
      if (it == self->state.gets.end())
        return;
      it->second.rp.deliver(std::move(it->second.items));
      self->state.gets.erase(it);
    },
    [=](dht_put_atom, uint64_t cid, dht::put_outcome outcome, byte_array<20> target) {
      auto& st = self->state;
      if (auto it = st.puts.find(cid); it != st.puts.end()) {
        if (answered(outcome))
          it->second.deliver(outcome);
        else
          it->second.deliver(caf::make_error(errc::unreachable, "no DHT node answered the put"));
        st.puts.erase(it);
      } else if (auto jt = st.imm_puts.find(cid); jt != st.imm_puts.end()) {
        if (outcome.stored > 0)
          jt->second.deliver(target);
        else
          jt->second.deliver(caf::make_error(errc::unreachable, "no DHT node stored the value"));
        st.imm_puts.erase(jt);
      }
    },
    [=](dht_imm_atom, uint64_t cid, bool found, bytes& value) {
      auto it = self->state.imm_gets.find(cid);
      if (it == self->state.imm_gets.end())
        return;
      if (found)
        it->second.deliver(std::move(value));
      else
        it->second.deliver(caf::make_error(errc::unreachable, "immutable item not found"));
      self->state.imm_gets.erase(it);
    },
    [=](dht_stat_atom, uint64_t cid, std::map<std::string, uint64_t>& stats) {
      auto it = self->state.stats.find(cid);
      if (it == self->state.stats.end())
        return;
      stats["pending_requests"] = self->state.gets.size() + self->state.puts.size()
                                  + self->state.imm_gets.size() + self->state.imm_puts.size();
      stats["actor_get_mutable"] = self->state.n_get_mutable;
      stats["actor_put_mutable"] = self->state.n_put_mutable;
      stats["actor_get_immutable"] = self->state.n_get_immutable;
      stats["actor_put_immutable"] = self->state.n_put_immutable;
      it->second.deliver(std::move(stats));
      self->state.stats.erase(it);
    },
    [=](dht_tmo_atom, uint64_t cid) {
      auto& st = self->state;
      if (auto it = st.gets.find(cid); it != st.gets.end()) {
        // PROTOCOL.md §10.8: keep what arrived before the timeout.
        it->second.rp.deliver(std::move(it->second.items));
        st.gets.erase(it);
      } else if (auto jt = st.imm_gets.find(cid); jt != st.imm_gets.end()) {
        jt->second.deliver(caf::make_error(errc::timeout, "immutable get timed out"));
        st.imm_gets.erase(jt);
      }
    },
  };
}

} // namespace

std::vector<std::string> dht_options::default_dht_bootstrap() {
  return dht::default_bootstrap_routers();
}

caf::expected<dht_actor> spawn_dht_actor(caf::actor_system& sys, boost::asio::io_context& io,
                                         dht_options opts) {
  dht::udp_node_options o;
  o.bind_address = opts.bind_address;
  o.bind6 = opts.bind6;
  o.port = opts.port;
  o.bootstrap = opts.bootstrap;
  o.routing_table_file = opts.routing_table_file;
  o.node.read_only = opts.read_only;
  o.node.request_timeout = opts.request_timeout;
  o.node.rate_limit_per_ip = opts.rate_limit_per_ip;
  o.node.table.one_per_ip = opts.one_entry_per_ip;
  o.node.table.id_check = opts.node_id_check;
  // Every refusal is counted in the node's stats; the line goes to debug until the shared
  // rate-limited logger exists (issue 11: warn, rate-limited per kind).
  o.on_refused = [](dht::refusal r, const dht::endpoint& from) {
    // A peer can cause these at will: warn, rate-limited per kind (5 per 10 s, then a
    // "suppressed N similar lines" line).
    log::warn_limited(std::string("dht.") + dht::refusal_name(r), "refused {} from {}",
                      dht::refusal_name(r), from.to_string());
  };
  o.on_external_address = opts.on_external_address;
  auto node = dht::udp_node::create(io, o);
  if (!node)
    return to_caf_error(node.err());
  if (opts.on_bound)
    opts.on_bound((*node)->local_endpoint());
  auto side = std::make_shared<io_side>();
  side->node = *node;
  auto hdl = sys.spawn(dht_behavior, &io, side);
  return caf::actor_cast<dht_actor>(hdl);
}

} // namespace dtt
