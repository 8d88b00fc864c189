#include "actors/gossip_actor.hpp"

#include "actors/io_bridge.hpp"
#include "crypto/bytes.hpp"
#include "crypto/hash.hpp"
#include "crypto/record.hpp"
#include "gossip/transport/transport.hpp"
#include "messages/errors.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <caf/all.hpp>

#include <algorithm>
#include <deque>
#include <map>
#include <mutex>
#include <set>

namespace dtt {
// The frames of one read, from the io thread to the actor (in this process only; a struct
// rather than the vector itself, which CAF would take for a list to inspect).
struct frame_batch {
  std::vector<gossip::shared_buffer> frames;
};
} // namespace dtt

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(dtt::frame_batch)

namespace dtt {

namespace {

namespace asio = boost::asio;

// Messages from the io thread to the actor (not part of the public interface).
using net_message_atom = caf::atom_constant<caf::atom("gnetmsg")>;
using net_closed_atom = caf::atom_constant<caf::atom("gnetcls")>;
using net_renewed_atom = caf::atom_constant<caf::atom("gnetren")>;
using wake_atom = caf::atom_constant<caf::atom("gwake")>;

using gossip_actor_impl =
  gossip_actor::extend<caf::reacts_to<net_message_atom, gossip::endpoint_id, frame_batch>,
                       caf::reacts_to<net_closed_atom, gossip::endpoint_id, std::string>,
                       caf::reacts_to<net_renewed_atom, gossip::endpoint_id>,
                       caf::reacts_to<wake_atom>>;

// Outputs wait while more messages are in the mailbox, so that a busy actor hands the transport
// one batch per mailbox sweep instead of one per message (the last message of the sweep
// flushes); past this many pending outputs it flushes at once (bounds the memory and the delay).
constexpr size_t flush_at_once = 256;

// How often broadcasts waiting for room look at the send queues again (dtt's choice: short
// against a link's drain time, long against a busy loop).
constexpr std::chrono::milliseconds waiting_recheck{2};

const char* const busy_text =
  "gossip send queues are half full (a peer reads slower than we broadcast); retry later";

// One subscriber of a topic: an actor (every event, or neighbour events only) or an event sink.
struct subscriber_entry {
  gossip_subscriber actor;
  std::shared_ptr<event_sink> sink;
  bool messages = true; ///< false: neighbor_up/down only

  bool wants(const gossip::event& ev) const {
    return messages || ev.k == gossip::event::kind::neighbor_up
           || ev.k == gossip::event::kind::neighbor_down;
  }
  void deliver(gossip_actor_impl::pointer self, const gossip::topic_id& topic,
               gossip::event&& ev) const {
    if (sink)
      sink->push(std::move(ev));
    else
      self->send(actor, gossip_event_atom::value, topic, std::move(ev));
  }
};

// The contents of the last messages received on a topic, for the tracker's message hashes
// (hashed only when asked: a snapshot per merge tick, not a hash per message). They share the
// received frames (no copy; at most max_message_hashes frames kept alive per topic).
struct recent_messages {
  std::array<gossip::shared_bytes, crypto::max_message_hashes> slots;
  size_t next = 0;
  size_t count = 0;

  void add(const gossip::shared_bytes& content) {
    slots[next] = content;
    next = (next + 1) % slots.size();
    count = std::min(count + 1, slots.size());
  }
  /// SHA-512/32 of each kept content, oldest first (PROTOCOL.md §6.6).
  std::vector<bytes32> hashes() const {
    std::vector<bytes32> out;
    for (size_t i = 0; i < count; ++i)
      out.push_back(crypto::sha512_32({slots[(next + slots.size() - count + i) % slots.size()].view()}));
    return out;
  }
};

// One io timer that wakes the actor at the earliest deadline it asked for.
class waker : public std::enable_shared_from_this<waker> {
public:
  waker(asio::io_context& io, std::shared_ptr<io_bridge> b)
    : timer_(io), bridge_(std::move(b)) {}

  void wake_at(gossip::time_point t) {
    asio::post(timer_.get_executor(), [self = shared_from_this(), t] {
      if (self->stopped_ || t >= self->armed_)
        return;
      self->armed_ = t;
      self->timer_.expires_at(t);
      self->timer_.async_wait([self](const boost::system::error_code& ec) {
        if (ec || self->stopped_)
          return;
        self->armed_ = gossip::time_point::max();
        self->bridge_->send(wake_atom::value);
      });
    });
  }

  void stop() {
    asio::post(timer_.get_executor(), [self = shared_from_this()] {
      self->stopped_ = true;
      self->timer_.cancel();
    });
  }

private:
  asio::steady_timer timer_;
  std::shared_ptr<io_bridge> bridge_;
  gossip::time_point armed_ = gossip::time_point::max();
  bool stopped_ = false;
};

struct gossip_state {
  std::shared_ptr<net::transport> transport;
  // Back-pressure: broadcasts are refused (errc::busy) while some peer has this much accepted
  // by the transport and not yet written: half its queue bounds, so that the rest absorbs what
  // the protocol still forwards and our own producer cannot make us drop a healthy peer.
  size_t busy_messages = 0;
  size_t busy_bytes = 0;
  std::unique_ptr<gossip::protocol> proto;
  std::shared_ptr<waker> wake;
  net::log_sink log;
  std::map<gossip::topic_id, std::vector<subscriber_entry>> subscribers;
  std::map<gossip::topic_id, recent_messages> recent;
  // Broadcasts waiting for room (broadcast with a wait), oldest first.
  struct waiting_broadcast {
    gossip::topic_id topic;
    gossip::shared_bytes content;
    bool neighbors_only;
    gossip::time_point deadline;
    caf::typed_response_promise<bool> promise;
  };
  std::deque<waiting_broadcast> waiting;
  std::set<caf::actor_addr> monitored;
  std::multimap<gossip::time_point, gossip::timer_id> timers;
  std::vector<gossip::output::any> outputs; // flush()'s, kept for its storage
  // Counters (gossip_stats): what passes through this actor, for tests of the message path
  // and for operators.
  struct {
    uint64_t broadcast_messages = 0; // broadcast requests handled
    uint64_t net_messages = 0;       // batches of frames from the io thread
    uint64_t timer_messages = 0;     // wake-ups
    uint64_t control_messages = 0;   // everything else (subscribe, neighbours, ...)
    uint64_t frames_received = 0;
    uint64_t broadcasts = 0;         // accepted by the protocol
    uint64_t busy_refusals = 0;
    uint64_t events_to_actors = 0;
    uint64_t events_to_sinks = 0;
  } count;
  gossip::time_point next_wake = gossip::time_point::max();
  // Counters for metrics (gossip_stats_atom).
  uint64_t frames_undecodable = 0;
  std::map<std::string, uint64_t> flood_refused; // by message kind
  // When each neighbour came up in each topic (unix seconds), for /status; bounded by the
  // active views (erased at NeighborDown and when the topic is gone).
  std::map<std::pair<gossip::topic_id, gossip::endpoint_id>, uint64_t> neighbor_since;

  ~gossip_state() {
    if (transport)
      transport->shutdown();
    if (wake)
      wake->stop();
  }

  static inline const char* name = "dtt.gossip";
};

using self_ptr = gossip_actor_impl::stateful_pointer<gossip_state>;

using gossip::short_id;

template <class... Fs>
struct overload : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
overload(Fs...) -> overload<Fs...>;

// Performs the protocol's pending outputs, then makes sure the io timer wakes us in time.
// Sends go to the transport in batches (one io hand-off each); a Gossip message sent to several
// peers is encoded once.
void flush(self_ptr self) {
  auto& st = self->state;
  std::vector<net::outgoing> batch;
  const gossip::message* last_gossip = nullptr; // last Gossip encoded, and its frame
  gossip::shared_buffer last_frame;
  auto submit = [&] {
    if (batch.empty())
      return;
    for (auto& [to, why] : st.transport->send(std::move(batch)))
      if (st.log)
        st.log(net::log_level::warn, "gossip: not sent to " + short_id(to) + ": "
                                       + why.message());
    batch.clear();
  };
  auto same_gossip = [](const gossip::message& a, const gossip::message& b) {
    auto* ga = std::get_if<gossip::msg::gossip>(&a.body);
    auto* gb = std::get_if<gossip::msg::gossip>(&b.body);
    return ga && gb && a.topic == b.topic && ga->id == gb->id && ga->scope == gb->scope;
  };
  auto& outputs = st.outputs;
  st.proto->take_outputs(outputs);
  for (auto& out : outputs) {
    std::visit(
      overload{
        [&](gossip::output::send& s) {
          if (!(last_gossip && same_gossip(*last_gossip, s.msg))) {
            last_frame = gossip::encode_shared(s.msg);
            last_gossip = std::holds_alternative<gossip::msg::gossip>(s.msg.body) ? &s.msg
                                                                                   : nullptr;
          }
          batch.push_back({s.to, last_frame});
        },
        [&](gossip::output::arm_timer& t) { st.timers.emplace(t.at, t.id); },
        [&](gossip::output::emit& e) {
          if (e.ev.k == gossip::event::kind::neighbor_up)
            st.neighbor_since[{e.topic, e.ev.peer}] = static_cast<uint64_t>(
              std::chrono::duration_cast<std::chrono::seconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count());
          else if (e.ev.k == gossip::event::kind::neighbor_down)
            st.neighbor_since.erase({e.topic, e.ev.peer});
          auto it = st.subscribers.find(e.topic);
          if (it == st.subscribers.end())
            return;
          const bool received = e.ev.k == gossip::event::kind::received;
          if (received)
            st.recent[e.topic].add(e.payload);
          // Subscribers share the received frame's bytes (dtt::payload: no copy); the last one
          // takes the event itself.
          const subscriber_entry* last = nullptr;
          auto give = [&](const subscriber_entry& sub, gossip::event&& ev) {
            if (received)
              ev.content = e.payload.to_payload();
            ++(sub.sink ? st.count.events_to_sinks : st.count.events_to_actors);
            sub.deliver(self, e.topic, std::move(ev));
          };
          for (auto& sub : it->second) {
            if (!sub.wants(e.ev))
              continue;
            if (last)
              give(*last, gossip::event(e.ev));
            last = &sub;
          }
          if (last)
            give(*last, std::move(e.ev));
        },
        // Transport calls run in order on its io thread: what is batched goes first.
        [&](gossip::output::disconnect& d) {
          submit();
          st.transport->close_when_flushed(d.peer);
        },
        [&](gossip::output::peer_addresses& p) {
          submit();
          st.transport->add_addresses(p.peer, std::move(p.addresses));
        },
      },
      out);
  }
  submit();
  outputs.clear(); // keeps its storage for the next flush
  auto due = st.timers.empty() ? gossip::time_point::max() : st.timers.begin()->first;
  if (!st.waiting.empty()) // look at the send queues again soon: is there room now?
    due = std::min(due, gossip::clock::now() + waiting_recheck);
  if (due < st.next_wake) {
    st.next_wake = due;
    st.wake->wake_at(due);
  }
}

// Flushes once the mailbox is empty (the last message of a sweep flushes for all before it), or
// at once past flush_at_once pending outputs. Every handler ends with this (or with flush), so
// outputs never wait for a message that is not already queued.
void request_flush(self_ptr self) {
  auto& st = self->state;
  if (!st.proto->has_outputs())
    return;
  if (st.proto->pending_outputs() >= flush_at_once || self->mailbox().empty())
    flush(self);
}

bool backlogged(self_ptr self) {
  auto& st = self->state;
  return st.transport->backlogged(st.busy_messages, st.busy_bytes);
}

caf::error do_broadcast(self_ptr self, const gossip::topic_id& topic,
                        gossip::shared_bytes&& content, bool neighbors_only) {
  auto& proto = *self->state.proto;
  auto now = gossip::clock::now();
  auto r = neighbors_only ? proto.broadcast_neighbors(topic, std::move(content), now)
                          : proto.broadcast(topic, std::move(content), now);
  if (!r)
    return to_caf_error(r.err());
  ++self->state.count.broadcasts;
  return {};
}

// Sends the waiting broadcasts that fit now, in order; those past their deadline get busy.
void serve_waiting(self_ptr self) {
  auto& st = self->state;
  while (!st.waiting.empty() && !backlogged(self)) {
    auto w = std::move(st.waiting.front());
    st.waiting.pop_front();
    auto err = do_broadcast(self, w.topic, std::move(w.content), w.neighbors_only);
    if (err)
      w.promise.deliver(std::move(err));
    else
      w.promise.deliver(true);
  }
  auto now = gossip::clock::now();
  for (auto i = st.waiting.begin(); i != st.waiting.end();) {
    if (i->deadline <= now) {
      ++st.count.busy_refusals;
      i->promise.deliver(caf::make_error(errc::busy, busy_text));
      i = st.waiting.erase(i);
    } else {
      ++i;
    }
  }
}

// A broadcast that may wait up to `wait` for room (zero: errc::busy at once when there is
// none). Later broadcasts queue behind waiting ones, so the order of a producer's messages holds.
caf::result<bool> broadcast_or_wait(self_ptr self, const gossip::topic_id& topic,
                                    const payload& app_content, bool neighbors_only,
                                    caf::timespan wait) {
  auto content = gossip::shared_bytes::of(app_content); // shares the application's block
  auto& st = self->state;
  ++st.count.broadcast_messages;
  if (st.waiting.empty() && !backlogged(self)) {
    auto err = do_broadcast(self, topic, std::move(content), neighbors_only);
    request_flush(self);
    // A broadcast sent without a request (anon_send, send) has no one to answer: no result
    // message is made (an allocation per message on the hot path).
    if (!self->current_message_id().is_request())
      return caf::delegated<bool>{};
    if (err)
      return err;
    return true;
  }
  if (wait.count() <= 0 || st.waiting.size() >= max_waiting_broadcasts) {
    ++st.count.busy_refusals;
    request_flush(self);
    return caf::make_error(errc::busy, busy_text);
  }
  auto rp = self->make_response_promise<bool>();
  st.waiting.push_back({topic, std::move(content), neighbors_only,
                        gossip::clock::now() + std::chrono::duration_cast<gossip::duration>(wait),
                        rp});
  flush(self); // also arms the re-check
  return rp;
}

void fire_due_timers(self_ptr self) {
  auto& st = self->state;
  serve_waiting(self);
  st.next_wake = gossip::time_point::max();
  auto now = gossip::clock::now();
  // Timers armed while firing are due no earlier than `now`; take a bounded batch per wake.
  for (size_t n = 0; n < 4096 && !st.timers.empty() && st.timers.begin()->first <= now; ++n) {
    auto id = st.timers.begin()->second;
    st.timers.erase(st.timers.begin());
    st.proto->timer_fired(id, now);
  }
  flush(self); // re-arms the wake-up for the earliest remaining timer
}

// Removes the subscribers `match` selects; the topic is quit when its last one goes.
template <class Match>
void drop_subscribers(self_ptr self, const gossip::topic_id& topic, Match match) {
  auto& st = self->state;
  auto it = st.subscribers.find(topic);
  if (it == st.subscribers.end())
    return;
  auto& subs = it->second;
  subs.erase(std::remove_if(subs.begin(), subs.end(), match), subs.end());
  if (subs.empty()) {
    st.subscribers.erase(it);
    st.recent.erase(topic);
    st.proto->quit(topic, gossip::clock::now());
    st.transport->remove_topic(topic);
  }
}

void drop_subscriber(self_ptr self, const gossip::topic_id& topic, const caf::actor_addr& who) {
  drop_subscribers(self, topic, [&](const subscriber_entry& s) {
    return s.actor && s.actor.address() == who;
  });
}

// Adds a subscriber (an actor is monitored, so that its death unsubscribes it) and joins the
// topic locally; replies with the current neighbours.
std::vector<gossip::endpoint_id> add_subscriber(self_ptr self, const gossip::topic_id& topic,
                                                const bytes32& membership_key,
                                                subscriber_entry entry) {
  auto& st = self->state;
  st.transport->add_topic(topic, membership_key);
  auto& subs = st.subscribers[topic];
  bool valid = entry.actor || entry.sink;
  auto same = [&](const subscriber_entry& s) {
    return (entry.actor && s.actor == entry.actor) || (entry.sink && s.sink == entry.sink);
  };
  if (valid && std::none_of(subs.begin(), subs.end(), same)) {
    if (entry.actor && st.monitored.insert(entry.actor.address()).second)
      self->monitor(entry.actor);
    subs.push_back(std::move(entry));
  }
  if (!st.proto->has_topic(topic))
    st.proto->join(topic, {}, gossip::clock::now());
  if (subs.empty()) { // a null subscriber: nobody to keep the topic joined
    st.subscribers.erase(topic);
    st.proto->quit(topic, gossip::clock::now());
    st.transport->remove_topic(topic);
  }
  flush(self);
  return st.proto->neighbors(topic);
}

// Counters by name for metrics (see gossip_actor in messages/gossip.hpp).
std::map<std::string, uint64_t> gossip_counters(self_ptr self) {
  auto& st = self->state;
  auto t = st.transport->stats();
  std::map<std::string, uint64_t> out{
    {"links", t.links},
    {"peers", t.peers},
    {"messages_in", t.messages_in},
    {"messages_out", t.messages_out},
    {"slow_peers_dropped", t.slow_peers_dropped},
    {"duplicates_retired", t.duplicates_retired},
    {"links_renewed", t.links_renewed},
    {"proofs_accepted", t.proofs_accepted},
    {"proofs_refused", t.proofs_refused},
    {"proofs_unknown_topic", t.proofs_unknown_topic},
    {"early_messages", t.early_messages},
    {"links_without_topic", t.links_without_topic},
    {"proofs_unanswered", t.proofs_unanswered},
    {"messages_not_member", t.messages_not_member},
    {"refused_ip_handshakes", t.refused_ip_handshakes},
    {"refused_ip_links", t.refused_ip_links},
    {"refused_total_limits", t.refused_total_limits},
    {"refused_held", t.refused_held},
    {"pending_handshakes", t.pending_handshakes},
    {"bytes_in", t.bytes_in},
    {"bytes_out", t.bytes_out},
    {"reversal_requests_sent", t.reversal_requests_sent},
    {"reversal_requests_relayed", t.reversal_requests_relayed},
    {"reversed_dials", t.reversed_dials},
    {"dials", t.dials},
    {"dials_held_back", t.dials_held_back},
    {"links_reversed", t.links_reversed},
    {"reversal_waits_expired", t.reversal_waits_expired},
    {"punch_hints_sent", t.punch_hints_sent},
    {"punch_primers", t.punch_primers},
    {"links_punched", t.links_punched},
    {"relay_requests_sent", t.relay_requests_sent},
    {"links_relayed", t.links_relayed},
    {"relay_requests_carried", t.relay_requests_carried},
    {"relay_requests_refused", t.relay_requests_refused},
    {"relay_over_budget", t.relay_over_budget},
    {"relay_bytes", t.relay_bytes},
    {"relayed_carried", t.relayed_carried},
    {"frames_undecodable", st.frames_undecodable},
    {"broadcasts_waiting", st.waiting.size()},
  };
  auto pool = gossip::buffer_pool_counters(); // process-wide: frames of every node in it
  out["buffer_pool_fresh"] = pool.fresh;
  out["buffer_pool_reused"] = pool.reused;
  out["buffer_pool_returned"] = pool.returned;
  for (size_t i = 0; i < net::handshake_failure_kinds; ++i)
    out[std::string("handshake_failures/")
        + net::handshake_failure_name(static_cast<net::handshake_failure>(i))] =
      t.handshake_failures[i];
  for (size_t i = 0; i < net::reversal_refusal_kinds; ++i) {
    auto why = std::string(net::reversal_refusal_name(static_cast<net::reversal_refusal>(i)));
    if (t.reversal_requests_refused[i])
      out["reversal_requests_refused/" + why] = t.reversal_requests_refused[i];
    if (t.reversal_notices_refused[i])
      out["reversal_notices_refused/" + why] = t.reversal_notices_refused[i];
  }
  for (auto& [kind, n] : st.flood_refused)
    out["flood_refused/" + kind] = n;
  for (auto it = st.neighbor_since.begin(); it != st.neighbor_since.end();)
    it = st.proto->has_topic(it->first.first) ? std::next(it) : st.neighbor_since.erase(it);
  for (auto& [topic, subs] : st.subscribers) {
    auto prefix = "topic/" + to_hex(byte_view(topic.data(), topic.size())) + "/";
    if (auto* hv = st.proto->membership(topic)) {
      out[prefix + "active"] = hv->active_view().size();
      out[prefix + "passive"] = hv->passive_view().size();
      out[prefix + "membership_in"] = hv->stats().messages_received;
      size_t msgs = 0, bytes_queued = 0;
      for (auto& peer : hv->active_view()) {
        auto [m, b] = st.transport->backlog_of(peer);
        msgs += m;
        bytes_queued += b;
      }
      out[prefix + "backlog_messages"] = msgs;
      out[prefix + "backlog_bytes"] = bytes_queued;
      // Each neighbour for /status (ids and addresses are never metric labels): since when,
      // its link's bytes (the link carries every topic shared with it) and address, the
      // latter as a key "neighbor/<id>/address/<ip:port>" with the value 1.
      for (auto& peer : hv->active_view()) {
        auto np = prefix + "neighbor/" + to_hex(byte_view(peer.data(), peer.size())) + "/";
        if (auto s = st.neighbor_since.find({topic, peer}); s != st.neighbor_since.end())
          out[np + "since_unix_seconds"] = s->second;
        if (auto link = st.transport->link_of(peer)) {
          out[np + "bytes_in"] = link->bytes_in;
          out[np + "bytes_out"] = link->bytes_out;
          out[np + "address/" + to_string(link->remote)] = 1;
          out[np + "method/" + net::link_method_name(link->method)] = 1;
        }
      }
    }
    if (auto* c = st.proto->counters(topic)) {
      for (size_t k = 0; k < gossip::message_kinds; ++k) {
        auto kind = std::string(gossip::kind_name(k));
        out[prefix + "received/" + kind] = c->received[k];
        out[prefix + "sent/" + kind] = c->sent[k];
        out[prefix + "flood_refused/" + kind] = c->flood_refused[k];
      }
    }
    if (auto* tree = st.proto->broadcast_tree(topic)) {
      out[prefix + "payload_in"] = tree->stats().payload_messages_received;
      out[prefix + "control_in"] = tree->stats().control_messages_received;
      out[prefix + "repeated_grafts"] = tree->stats().repeated_grafts;
      out[prefix + "duplicates"] = tree->stats().duplicates;
    }
  }
  return out;
}

gossip_actor_impl::behavior_type gossip_actor_fun(self_ptr self,
                                                  std::shared_ptr<net::transport> transport,
                                                  std::shared_ptr<waker> wake,
                                                  gossip::config cfg, uint64_t seed,
                                                  net::log_sink log,
                                                  std::pair<size_t, size_t> busy_at) {
  auto& st = self->state;
  st.busy_messages = busy_at.first;
  st.busy_bytes = busy_at.second;
  st.transport = std::move(transport);
  st.wake = std::move(wake);
  st.log = std::move(log);
  st.proto = std::make_unique<gossip::protocol>(st.transport->id(),
                                                st.transport->local_addresses(), cfg, seed);
  self->set_down_handler([self](caf::down_msg& dm) {
    ++self->state.count.control_messages;
    self->state.monitored.erase(dm.source);
    std::vector<gossip::topic_id> topics;
    for (auto& [topic, subs] : self->state.subscribers)
      topics.push_back(topic);
    for (auto& topic : topics)
      drop_subscriber(self, topic, dm.source);
    flush(self);
  });
  return {
    [self](subscribe_atom, const gossip::topic_id& topic, const bytes32& membership_key,
           const gossip_subscriber& sub) {
      ++self->state.count.control_messages;
      return add_subscriber(self, topic, membership_key, {sub, {}, true});
    },
    [self](subscribe_atom, const gossip::topic_id& topic, const bytes32& membership_key,
           const std::shared_ptr<event_sink>& sink) {
      ++self->state.count.control_messages;
      return add_subscriber(self, topic, membership_key, {gossip_subscriber{}, sink, true});
    },
    [self](subscribe_neighbors_atom, const gossip::topic_id& topic,
           const bytes32& membership_key, const gossip_subscriber& sub) {
      ++self->state.count.control_messages;
      return add_subscriber(self, topic, membership_key, {sub, {}, false});
    },
    [self](unsubscribe_atom, const gossip::topic_id& topic, const gossip_subscriber& sub) {
      ++self->state.count.control_messages;
      drop_subscriber(self, topic, sub.address());
      flush(self);
    },
    [self](unsubscribe_atom, const gossip::topic_id& topic,
           const std::shared_ptr<event_sink>& sink) {
      ++self->state.count.control_messages;
      drop_subscribers(self, topic, [&](const subscriber_entry& s) { return s.sink == sink; });
      flush(self);
    },
    [self](snapshot_atom, const gossip::topic_id& topic) {
      ++self->state.count.control_messages;
      auto& st = self->state;
      auto it = st.recent.find(topic);
      request_flush(self);
      return caf::make_result(st.proto->neighbors(topic),
                              it == st.recent.end() ? std::vector<bytes32>{}
                                                    : it->second.hashes());
    },
    [self](join_peers_atom, const gossip::topic_id& topic,
           std::vector<gossip::endpoint_id> peers) -> bool {
      ++self->state.count.control_messages;
      auto& st = self->state;
      if (!st.proto->has_topic(topic))
        return false;
      peers.erase(std::remove(peers.begin(), peers.end(), st.proto->me()), peers.end());
      st.proto->join(topic, peers, gossip::clock::now());
      flush(self);
      return true;
    },
    [self](broadcast_atom, const gossip::topic_id& topic, const payload& content) {
      return broadcast_or_wait(self, topic, content, false, caf::timespan{0});
    },
    [self](broadcast_neighbors_atom, const gossip::topic_id& topic, const payload& content) {
      return broadcast_or_wait(self, topic, content, true, caf::timespan{0});
    },
    [self](broadcast_atom, const gossip::topic_id& topic, const payload& content,
           caf::timespan wait) {
      return broadcast_or_wait(self, topic, content, false, wait);
    },
    [self](broadcast_neighbors_atom, const gossip::topic_id& topic, const payload& content,
           caf::timespan wait) {
      return broadcast_or_wait(self, topic, content, true, wait);
    },
    [self](neighbors_atom, const gossip::topic_id& topic) {
      ++self->state.count.control_messages;
      request_flush(self);
      return self->state.proto->neighbors(topic);
    },
    [self](add_addresses_atom, const gossip::endpoint_id& id,
           std::vector<gossip::socket_address>& addrs) {
      ++self->state.count.control_messages;
      self->state.transport->add_addresses(id, std::move(addrs));
      request_flush(self); // earlier messages of the sweep may have left outputs
    },
    [self](local_addresses_atom) {
      ++self->state.count.control_messages;
      request_flush(self);
      return self->state.transport->local_addresses();
    },
    [self](net_message_atom, const gossip::endpoint_id& from, frame_batch& batch) {
      auto& frames = batch.frames;
      auto& st = self->state;
      auto now = gossip::clock::now();
      ++st.count.net_messages;
      st.count.frames_received += frames.size();
      // The seen-id lookups of the next frames are memory misses (a table of up to 2^20 ids):
      // started a few frames ahead, they overlap with the work on the current one (a batch of
      // one frame, the common case at low rates, costs nothing extra).
      for (size_t i = 0; i < frames.size(); ++i) {
        gossip::fetch_ahead(i, frames.size(), 4, [&](size_t j) { st.proto->prefetch(frames[j]); });
        auto& frame = frames[i];
        // The protocol takes the frame: a payload shares it (no copy; the message is ours
        // alone, so CAF hands it over without copying it either).
        auto r = st.proto->receive_frame(from, std::move(frame), now);
        if (!r) {
          // A frame that does not decode, or a flood the protocol refused (errc::refused): the
          // rest of the batch is dropped with the peer.
          bool refused = r.err().code == errc::refused;
          if (refused) {
            // The text starts with the kind ("ForwardJoin flood: ..."); at most a few kinds.
            auto kind = r.err().what.substr(0, r.err().what.find(' '));
            if (kind.size() > 24 || st.flood_refused.size() >= 32)
              kind = "other";
            ++st.flood_refused[kind];
          } else {
            ++st.frames_undecodable;
          }
          if (st.log)
            st.log(net::log_level::warn, std::string("gossip: ")
                                           + (refused ? "refused" : "undecodable")
                                           + " frame from " + short_id(from) + ": "
                                           + r.err().message() + "; disconnecting it");
          flush(self); // what the good frames before it caused goes out before the disconnect
          st.transport->disconnect(from, refused ? r.err().what : "undecodable gossip frame");
          return;
        }
        request_flush(self); // at once past flush_at_once outputs, else after the sweep
      }
    },
    [self](net_closed_atom, const gossip::endpoint_id& peer, const std::string&) {
      ++self->state.count.control_messages;
      self->state.proto->connection_closed(peer, gossip::clock::now());
      flush(self);
    },
    [self](net_renewed_atom, const gossip::endpoint_id& peer) {
      ++self->state.count.control_messages;
      self->state.proto->link_renewed(peer, gossip::clock::now());
      flush(self);
    },
    [self](wake_atom) {
      ++self->state.count.timer_messages;
      fire_due_timers(self);
    },
    [self](gossip_stats_atom) {
      auto& st = self->state;
      auto& c = st.count;
      std::map<std::string, uint64_t> out{
        {"actor_messages_broadcast", c.broadcast_messages},
        {"actor_messages_net", c.net_messages},
        {"actor_messages_timer", c.timer_messages},
        {"actor_messages_control", c.control_messages},
        {"frames_received", c.frames_received},
        {"broadcasts", c.broadcasts},
        {"busy_refusals", c.busy_refusals},
        {"events_to_actors", c.events_to_actors},
        {"events_to_sinks", c.events_to_sinks},
        {"topics", st.subscribers.size()},
      };
      auto more = gossip_counters(self); // transport, refusals, per topic (dttd's /metrics)
      out.insert(more.begin(), more.end());
      request_flush(self);
      return out;
    },
  };
}

} // namespace

caf::expected<gossip_actor> spawn_gossip_actor(caf::actor_system& sys, asio::io_context& io,
                                               const crypto::signing_key& node_key,
                                               gossip_options opts) {
  if (!opts.transport.log)
    opts.transport.log = net::stderr_log_sink();
  auto log = opts.transport.log;
  auto link = std::make_shared<io_bridge>();
  net::transport_callbacks cb;
  cb.messages = [link](const gossip::endpoint_id& from,
                       std::vector<gossip::shared_buffer>&& frames) {
    link->send(net_message_atom::value, from, frame_batch{std::move(frames)}); // moved
  };
  cb.closed = [link](const gossip::endpoint_id& peer, const std::string& reason) {
    link->send(net_closed_atom::value, peer, reason);
  };
  cb.renewed = [link](const gossip::endpoint_id& peer) {
    link->send(net_renewed_atom::value, peer);
  };
  auto cfg = opts.protocol;
  cfg.max_message_size = opts.transport.max_message_size;
  if (cfg.max_message_size < gossip::min_max_message_size)
    return caf::make_error(errc::invalid_argument, "max_message_size below 512");
  std::pair<size_t, size_t> busy_at{std::max<size_t>(1, opts.transport.max_queued_messages / 2),
                                    std::max<size_t>(1, opts.transport.max_queued_bytes / 2)};
  auto t = net::transport::create(io, node_key, std::move(opts.transport), std::move(cb));
  if (!t)
    return to_caf_error(t.err());
  std::shared_ptr<net::transport> transport = std::move(*t);
  uint64_t seed = opts.seed;
  if (seed == 0)
    crypto::os_random().fill(reinterpret_cast<uint8_t*>(&seed), sizeof seed);
  auto wake = std::make_shared<waker>(io, link);
  auto impl = sys.spawn(gossip_actor_fun, transport, wake, cfg, seed, log, busy_at);
  link->attach(impl.address());
  return gossip_actor{impl};
}

} // namespace dtt
