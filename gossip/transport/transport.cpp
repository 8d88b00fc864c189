#include "gossip/transport/transport.hpp"

#include "crypto/log_limit.hpp"
#include "gossip/transport/address_book.hpp"
#include "gossip/transport/connection.hpp"
#include "gossip/transport/tls.hpp"
#include "gossip/transport/redial.hpp"
#include "gossip/transport/relay.hpp"
#include "gossip/transport/relay_pipe.hpp"
#include "gossip/transport/reversal.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <ifaddrs.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <net/if.h>

#include <algorithm>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>

namespace dtt::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

using gossip::short_id;

static_assert(relay_body_max == 5 + max_relay_chunk,
              "frame.hpp's relay body bound is gossip/transport/relay.hpp's largest data frame");
static_assert(reversal_request_body_size == 35 && reversal_notice_body_size == 39
                && reversal_notice6_body_size == 51,
              "frame.hpp's reversal body sizes are gossip/transport/reversal.hpp's encodings");

gossip::socket_address to_socket_address(const tcp::endpoint& ep) {
  return {ep.address().to_string(), ep.port()};
}

// `a` with an IPv4-mapped IPv6 address given as the IPv4 address it maps.
asio::ip::address unmapped(const asio::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  return a;
}

// The unit per-IP budgets count: an IPv4 address, an IPv6 /64 (one host rarely has less, so
// per-address budgets would not bind one with a /64; dht::address_unit does the same).
asio::ip::address address_unit(const asio::ip::address& a) {
  if (!a.is_v6() || a.to_v6().is_v4_mapped())
    return a;
  auto b = a.to_v6().to_bytes();
  std::fill(b.begin() + 8, b.end(), uint8_t{0});
  return asio::ip::address_v6(b);
}

// Every address of an up, non-link-local interface, for a listener on the unspecified address:
// IPv4 ones if v4, IPv6 ones if v6.
std::vector<gossip::socket_address> interface_addresses(bool v4, bool v6, uint16_t port) {
  std::vector<gossip::socket_address> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0)
    return out;
  for (auto* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || !(a->ifa_flags & IFF_UP))
      continue;
    if (v4 && a->ifa_addr->sa_family == AF_INET) {
      auto* sin = reinterpret_cast<sockaddr_in*>(a->ifa_addr);
      asio::ip::address_v4 addr(ntohl(sin->sin_addr.s_addr));
      out.push_back({addr.to_string(), port});
    } else if (v6 && a->ifa_addr->sa_family == AF_INET6) {
      auto* sin6 = reinterpret_cast<sockaddr_in6*>(a->ifa_addr);
      asio::ip::address_v6::bytes_type b;
      std::copy(sin6->sin6_addr.s6_addr, sin6->sin6_addr.s6_addr + 16, b.begin());
      asio::ip::address_v6 addr(b);
      if (!addr.is_link_local())
        out.push_back({addr.to_string(), port});
    }
  }
  freeifaddrs(list);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

} // namespace

struct peer_state {
  std::vector<std::shared_ptr<connection>> links; // dialing, handshaking (outbound) or up
  std::shared_ptr<connection> writer;
  std::shared_ptr<send_queue> queue = std::make_shared<send_queue>();
  bool up = false;                            // connected() reported, closed() not yet
  bool closing = false;                       // close_when_flushed(): close silently
  std::shared_ptr<asio::steady_timer> grace; // last link retired cleanly: await replacement
  bool grace_for_duplicate = false;          // ... retired before any proof: a duplicate
  std::shared_ptr<asio::steady_timer> reversal; // our dial failed: await the peer's (reversal)
  std::shared_ptr<asio::steady_timer> redial;   // redialled too often: the next dial waits
  std::shared_ptr<asio::steady_timer> slow_dial; // our dial is slow: ask for a reversal too
  // Hole punching (reversal.hpp): when the peer last asked us to dial it (a notice), and when
  // a relay last told us where it is (a hint taken). Both within punch_window: each side
  // asked for the other, and each has a notice and a hint.
  std::chrono::steady_clock::time_point notice_at{}, hint_at{};
  // Relayed links (relay.hpp): the peers asked to relay our link to this peer so far, and the
  // peers that hinted where it is (they hold a link to it: asked first; at most 4).
  std::vector<gossip::endpoint_id> relays_tried, relays_hinted;
  std::string relay_why; // why we asked for a relay (for the closed() reason if none links)
  // close_when_flushed() was asked while relayed links ran over our link to this peer: it
  // closes once the last of them ended (a relay's neighbour swap must not cut them), or at
  // transport_options::relay_close_limit, when they are ended.
  bool close_after_relay = false;
  std::shared_ptr<asio::steady_timer> relay_close;
};

// True if one of the peer's links got past the TCP connect (established, or handshaking): a
// dial that did not is likely black-holed by a NAT or firewall.
bool has_connected_link(const peer_state& ps) {
  return std::any_of(ps.links.begin(), ps.links.end(),
                     [](const auto& l) { return l->established() || l->tcp_connected(); });
}

// Both sides asking for each other at once (see peer_state::notice_at).
constexpr std::chrono::seconds punch_window{5};
// How long the server side of a connect from our listening port waits for the client's hello
// before it concludes that it reached a listener and takes the client side (a peer's socket
// that is the client sends its hello as soon as it connects; listeners wait 5 s by default).
// The smaller id's wait (the larger waits twice as long: net::punch_server_wait).
constexpr std::chrono::milliseconds punch_server_base_wait{500};

class transport::impl final : public connection_owner,
                              public std::enable_shared_from_this<transport::impl> {
public:
  impl(asio::io_context& io, std::shared_ptr<tls_identity> tls,
       std::shared_ptr<const transport_options> opts, transport_callbacks cb)
    : io_(io), tls_(std::move(tls)), opts_(std::move(opts)), cb_(std::move(cb)), acceptor_(io),
      acceptor6_(io) {}

  status listen() {
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(opts_->bind.ip, ec);
    if (ec)
      return error{errc::invalid_argument, "bad bind address '" + opts_->bind.ip + "'"};
    std::optional<asio::ip::address> addr6;
    if (!opts_->bind6.ip.empty()) {
      auto a6 = asio::ip::make_address(opts_->bind6.ip, ec);
      if (ec || !a6.is_v6() || a6.to_v6().is_v4_mapped() || addr.is_v6())
        return error{errc::invalid_argument, "bad IPv6 bind address '" + opts_->bind6.ip
                                               + "' (an IPv6 address beside an IPv4 bind)"};
      addr6 = a6;
    }
    // An IPv6 acceptor beside an IPv4 one is IPv6-only; alone, it keeps the system's default.
    auto open = [&](tcp::acceptor& acc, const tcp::endpoint& ep, bool v6_only) {
      boost::system::error_code e;
      acc.open(ep.protocol(), e);
      if (!e && v6_only)
        acc.set_option(asio::ip::v6_only(true), e);
      if (!e)
        acc.set_option(tcp::acceptor::reuse_address(true), e);
      if (!e)
        acc.bind(ep, e);
      if (!e)
        acc.listen(asio::socket_base::max_listen_connections, e);
      // Reversed dials and primers dial from this port (open_bound), which a listener allows
      // only with SO_REUSEPORT. Set after bind, so that another listener on the port (a second
      // dttd with the same config) is still refused, as before.
      if (!e)
        acc.set_option(reuse_port(true), e);
      if (e) {
        boost::system::error_code ignored;
        acc.close(ignored);
      }
      return e;
    };
    if ((ec = open(acceptor_, {addr, opts_->bind.port}, false)))
      return error{errc::io_error, "listening on " + opts_->bind.ip + ":"
                                     + std::to_string(opts_->bind.port) + ": " + ec.message()};
    auto local = acceptor_.local_endpoint(ec);
    if (addr.is_unspecified())
      local_ = interface_addresses(true, addr.is_v6(), local.port());
    else
      local_ = {to_socket_address(local)};
    if (addr6) {
      ec = asio::error::address_in_use;
      if (opts_->bind6.port == 0) // one port for both families if it is free
        ec = open(acceptor6_, {*addr6, local.port()}, true);
      if (ec && (ec = open(acceptor6_, {*addr6, opts_->bind6.port}, true))) {
        boost::system::error_code ignored;
        acceptor_.close(ignored);
        return error{errc::io_error, "listening on [" + opts_->bind6.ip + "]:"
                                       + std::to_string(opts_->bind6.port) + ": " + ec.message()};
      }
      auto local6 = acceptor6_.local_endpoint(ec);
      if (addr6->is_unspecified()) {
        auto six = interface_addresses(false, true, local6.port());
        local_.insert(local_.end(), six.begin(), six.end());
      } else {
        local_.push_back(to_socket_address(local6));
      }
    }
    for (auto& l : local_) // parsed once, for is_own_listener
      own_listeners_.emplace_back(asio::ip::make_address(l.ip, ec), l.port);
    dial_loopback_ = opts_->dial_loopback.value_or(
      std::all_of(own_listeners_.begin(), own_listeners_.end(),
                  [](auto& l) { return unmapped(l.address()).is_loopback(); }));
    return ok_status();
  }

  void start() {
    asio::post(io_, [self = shared_from_this()] {
      self->accept(self->acceptor_);
      if (self->acceptor6_.is_open())
        self->accept(self->acceptor6_);
    });
  }

  // --- commands (io thread) ---

  void add_topic(const gossip::topic_id& topic, const bytes32& key) { topic_keys_[topic] = key; }

  void remove_topic(const gossip::topic_id& topic) { topic_keys_.erase(topic); }

  void add_addresses(const gossip::endpoint_id& id,
                     const std::vector<gossip::socket_address>& addrs) {
    // In the record's order: its mapped address before its LAN ones (added one by one, the
    // last would have been dialled first, and a black-holed LAN address used up the dial
    // timeout before the mapped one was tried: tests/e2e/nat.py).
    book_.add_all(id, addrs, address_source::hint);
  }


  void send(const gossip::endpoint_id& id, gossip::shared_buffer msg) {
    if (enqueue(id, std::move(msg)))
      kick(id);
  }

  // Queues without starting a write (a batch kicks each peer once, after all of it is queued,
  // so one write carries as much of it as fits). False if the peer was dropped instead.
  // `msg` was counted in the backlog by transport::send: the queue takes that over, or it is
  // given back here.
  bool enqueue(const gossip::endpoint_id& id, gossip::shared_buffer msg) {
    if (shut_) {
      backlog_->sub(id, 1, msg.size());
      return false;
    }
    auto& ps = peers_[id];
    auto& q = *ps.queue;
    if (q.messages.size() + 1 > opts_->max_queued_messages
        || q.total_bytes + msg.size() > opts_->max_queued_bytes) {
      backlog_->sub(id, 1, msg.size());
      ++slow_peers_dropped_;
      log(log_level::warn, "peer " + short_id(id) + " is too slow: send queue full ("
                             + std::to_string(q.messages.size()) + " messages, "
                             + std::to_string(q.total_bytes) + " bytes); disconnecting it");
      drop_peer(id, "send queue full");
      return false;
    }
    if (!q.counted) {
      q.counted = backlog_;
      q.peer = id;
    }
    q.push_back(std::move(msg));
    ++messages_out_;
    return true;
  }

  // Starts writing the peer's queue: on its writer, or by dialing it.
  void kick(const gossip::endpoint_id& id) {
    auto it = peers_.find(id);
    if (shut_ || it == peers_.end())
      return;
    auto& ps = it->second;
    stop_relay_close(ps);
    if (ps.closing) {
      ps.closing = false;
      for (auto& l : ps.links)
        l->unfinish();
    }
    if (ps.writer)
      ps.writer->kick();
    else if (ps.grace && ps.grace_for_duplicate) {
      // Awaiting the peer's link (on_closed): what is queued now waits at most queued_grace.
      if (ps.grace->expiry() > asio::steady_timer::clock_type::now() + queued_grace())
        arm_grace(id, ps, queued_grace(), true);
    } else if (ps.links.empty() && !ps.reversal && !ps.redial)
      dial(id, ps); // may drop the peer: ps is not used after this
  }

  std::chrono::milliseconds queued_grace() const {
    return std::min<std::chrono::milliseconds>(opts_->drain_timeout, std::chrono::seconds(1));
  }

  // Awaits the peer's link for `wait` after it retired ours (`duplicate`: before any proof, so
  // sends meanwhile wait too); then dials for what is queued, or reports the peer closed.
  // on_established cancels it.
  void arm_grace(const gossip::endpoint_id& id, peer_state& ps, std::chrono::milliseconds wait,
                 bool duplicate) {
    ps.grace_for_duplicate = duplicate;
    arm_peer_timer(id, ps, &peer_state::grace, wait, [this, id](peer_state& ps) {
      if (!ps.links.empty())
        return; // a link is under way; it reports
      if (ps.queue->messages.empty()) {
        drop_peer(id, "no link replaced the retired duplicate");
        return;
      }
      ps.closing = false;
      dial(id, ps);
    });
  }

  // Arms one of a peer's timers (`slot`, replacing one armed before); when it fires while it is
  // still that peer's, clears the slot and calls `fire` with the peer's state. A dropped peer's
  // timers are cancelled with it (cancel_timers).
  template <class When, class Fire>
  void arm_peer_timer(const gossip::endpoint_id& id, peer_state& ps,
                      std::shared_ptr<asio::steady_timer> peer_state::*slot, When when,
                      Fire fire) {
    auto& t = ps.*slot;
    if (t)
      t->cancel();
    t = std::make_shared<asio::steady_timer>(io_, when);
    t->async_wait([self = shared_from_this(), id, slot, g = t, fire](auto ec) {
      if (ec || self->shut_)
        return;
      auto it = self->peers_.find(id);
      if (it == self->peers_.end() || it->second.*slot != g)
        return;
      (it->second.*slot).reset();
      fire(it->second); // `self` keeps this impl alive meanwhile
    });
  }

  void send_batch(std::vector<outgoing>& batch) {
    std::vector<gossip::endpoint_id> queued; // peers to kick, each once, in first-use order
    for (auto& o : batch)
      if (enqueue(o.to, std::move(o.message))
          && std::find(queued.begin(), queued.end(), o.to) == queued.end())
        queued.push_back(o.to);
    for (auto& id : queued)
      kick(id);
  }

  void close_when_flushed(const gossip::endpoint_id& id) {
    auto it = peers_.find(id);
    if (shut_ || it == peers_.end())
      return;
    auto& ps = it->second;
    if (relaying_over(id)) {
      if (!ps.close_after_relay)
        arm_peer_timer(id, ps, &peer_state::relay_close, opts_->relay_close_limit,
                       [this, id](peer_state& ps) {
                         if (!ps.close_after_relay)
                           return;
                         log(log_level::info, "closing the link to " + short_id(id)
                                                + ": its relayed links waited long enough");
                         relay_link_changed(id); // ends them; relay_settled closes the link
                       });
      ps.close_after_relay = true;
      log(log_level::debug, "closing the link to " + short_id(id)
                              + " waits: relayed links run over it");
      return;
    }
    if (ps.queue->messages.empty()
        && std::none_of(ps.links.begin(), ps.links.end(),
                        [](auto& l) { return l->established(); })) {
      auto links = std::move(ps.links); // nothing to flush: close at once, silently
      cancel_timers(ps);
      peers_.erase(it);
      for (auto& l : links)
        l->close("closed on request");
      update_peer_count();
      return;
    }
    // A link still dialing says goodbye once it is up and has written the queue.
    ps.closing = true;
    for (auto& l : ps.links)
      l->finish();
  }

  void disconnect(const gossip::endpoint_id& id, const std::string& reason) {
    if (!shut_)
      drop_peer(id, reason);
  }

  void shutdown() {
    if (shut_)
      return;
    shut_ = true;
    boost::system::error_code ec;
    acceptor_.close(ec);
    acceptor6_.close(ec);
    for (auto& retry : accept_retry_)
      if (retry)
        retry->cancel();
    auto peers = std::move(peers_);
    peers_.clear();
    for (auto& [id, ps] : peers) {
      cancel_timers(ps);
      for (auto& l : ps.links)
        l->close("transport shut down");
    }
    for (auto& [target, p] : punches_) {
      boost::system::error_code ignored;
      p->timer.cancel();
      p->sock.close(ignored);
    }
    punches_.clear();
    for (auto& [key, e] : ends_)
      e.pipe->close();
    ends_.clear();
    relays_ = net::relay_table{};
    relayed_carried_ = 0;
    auto pending = std::move(pending_inbound_);
    pending_inbound_.clear();
    for (auto& c : pending)
      c->close("transport shut down");
    held_.clear();
    if (held_timer_)
      held_timer_->cancel();
    {
      std::lock_guard<std::mutex> guard(live_mu_);
      live_.clear(); // connections hold this impl: no cycle left behind
    }
    refused_held_ = 0;
    cb_ = {};
    links_up_ = 0;
    peer_count_ = 0;
  }

  // --- connection_owner ---

  void on_established(const std::shared_ptr<connection>& c) override {
    if (shut_) {
      c->close("transport shut down");
      return;
    }
    const auto id = *c->peer();
    if (!c->outbound()) {
      pending_inbound_.erase(c);
      pending_count_ = pending_inbound_.size();
      if (id == tls_->id()) {
        ++handshake_failures_[static_cast<size_t>(handshake_failure::own_key)];
        c->close("connection from our own key", false, log_level::warn);
        return;
      }
      if (c->method() == link_method::relayed) {
        // The relay named the requester: the link must come from it.
        auto* e = end_of(*c);
        if (!e || e->peer != id) {
          c->close("relayed link from " + short_id(id) + ", announced as "
                     + (e ? short_id(e->peer) : std::string("nobody")),
                   false, log_level::warn);
          return;
        }
      } else {
        book_.add(id, to_socket_address(c->remote()), address_source::observed);
      }
      peers_[id].links.push_back(c);
    } else if (c->method() != link_method::relayed) {
      book_.add(id, to_socket_address(c->remote()), address_source::confirmed);
    }
    ++links_up_;
    {
      std::lock_guard<std::mutex> guard(live_mu_);
      live_[id].push_back(c);
    }
    auto& ps = peers_[id];
    if (ps.grace) {
      ps.grace->cancel();
      ps.grace.reset();
    }
    if (ps.redial) {
      ps.redial->cancel(); // the peer dialled us meanwhile
      ps.redial.reset();
    }
    if (ps.slow_dial) {
      ps.slow_dial->cancel();
      ps.slow_dial.reset();
    }
    if (ps.reversal) {
      // We asked for this peer's dial: its link is the reversed one.
      ps.reversal->cancel();
      ps.reversal.reset();
      if (!c->outbound() && c->method() == link_method::direct)
        c->set_method(link_method::reversed);
    }
    if (c->method() == link_method::reversed)
      ++links_reversed_;
    else if (c->method() == link_method::punched)
      ++links_punched_;
    else if (c->method() == link_method::relayed)
      ++links_relayed_;
    ps.relays_tried.clear();
    log(log_level::debug, c->describe() + ": link up ("
                            + link_method_name(c->method()) + ")");
    if (!ps.writer) {
      ps.writer = c;
      c->attach_queue(ps.queue);
    } else {
      settle_duplicate(id, ps, c);
    }
    update_peer_count();
    if (!ps.up) {
      ps.up = true;
      if (cb_.connected)
        cb_.connected(id);
    }
  }

  void on_messages(connection& c, std::vector<gossip::shared_buffer>&& msgs) override {
    messages_in_ += msgs.size();
    if (!shut_ && cb_.messages)
      cb_.messages(*c.peer(), std::move(msgs));
  }

  void on_goodbye(connection& c) override {
    c.say_goodbye();
    auto it = peers_.find(*c.peer());
    if (it == peers_.end())
      return;
    auto& ps = it->second;
    if (ps.writer.get() == &c)
      replace_writer(it->first, ps);
  }

  void on_closed(connection& c, const std::string& reason, bool clean,
                 log_level level) override {
    if (c.established() && c.peer()) {
      std::lock_guard<std::mutex> guard(live_mu_);
      if (auto it = live_.find(*c.peer()); it != live_.end()) {
        auto& v = it->second;
        v.erase(std::remove_if(v.begin(), v.end(), [&](auto& l) { return l.get() == &c; }),
                v.end());
        if (v.empty())
          live_.erase(it);
      }
    }
    if (shut_)
      return;
    // Closes a peer can cause at will (misbehaviour, floods) are rate-limited per kind.
    if (clean)
      log(log_level::debug, c.describe() + " closed: " + reason);
    else
      log_limited(level == log_level::warn ? "net.close_misbehaving" : "net.close", level,
                  c.describe() + " closed: " + reason);
    if (!c.outbound() && !c.established()) {
      auto it = std::find_if(pending_inbound_.begin(), pending_inbound_.end(),
                             [&](auto& p) { return p.get() == &c; });
      if (it != pending_inbound_.end())
        pending_inbound_.erase(it);
      pending_count_ = pending_inbound_.size();
      note_closed_link();
      return;
    }
    if (!c.peer())
      return;
    const auto id = *c.peer();
    auto it = peers_.find(id);
    if (it == peers_.end())
      return;
    auto& ps = it->second;
    auto li =
      std::find_if(ps.links.begin(), ps.links.end(), [&](auto& l) { return l.get() == &c; });
    if (li == ps.links.end())
      return;
    auto keep_alive = *li; // c stays valid while we look at it
    ps.links.erase(li);
    note_closed_link();
    if (c.established())
      redial_.link_ended(id, std::chrono::steady_clock::now() - c.established_at());
    if (c.established() && links_up_ > 0)
      --links_up_;
    if (ps.writer.get() == &c)
      replace_writer(id, ps);
    if (!ps.links.empty()) {
      // Another link carries on, or a dial is under way and will report. An established link
      // that ends without the goodbye exchange (an error, a timeout, a goodbye unanswered
      // within the drain timeout) may have lost frames in flight, either way: say so.
      if (c.established() && !c.goodbye_exchanged() && ps.up) {
        ++links_renewed_;
        if (cb_.renewed)
          cb_.renewed(id);
      }
      return;
    }
    if (ps.reversal)
      return; // we await the peer's reversed dial (asked when our dial was slow): that wait
              // reports
    if (ps.closing && clean && ps.queue->messages.empty()) {
      peers_.erase(it); // closed as asked: not reported
      update_peer_count();
      return;
    }
    // The peer retired this link before proving a topic on it (its duplicate settlement):
    // it holds another link to us that is not up on our side yet, or is about to close.
    const bool retired_unproven = clean && ps.up && !ps.closing && !c.admitted();
    if (clean && !ps.queue->messages.empty() && !retired_unproven) {
      // Messages were queued after the goodbye: carry them on a new link.
      ps.closing = false;
      dial(id, ps);
      return;
    }
    if (clean && ps.up) {
      // Give the peer's link time to arrive (on_established cancels the wait): the drain
      // timeout, or at most 1 s when messages wait. Then dial for what waits, or report the
      // peer closed. For a duplicate, what is queued meanwhile waits too: dialing at once
      // looped (issue 17: the peer retired each new link while it held a stale one).
      arm_grace(id, ps, ps.queue->messages.empty() ? opts_->drain_timeout : queued_grace(),
                retired_unproven);
      return;
    }
    if (c.method() == link_method::reversed && !ps.up && ps.queue->messages.empty()) {
      peers_.erase(it); // a reversal dial nobody here asked for: nothing to report
      update_peer_count();
      return;
    }
    // Our dial found nothing listening (or nothing answered): the peer may be behind a NAT;
    // ask common peers to have it dial us, keeping its queue meanwhile. Not for a dial that
    // was itself a reversal (that would bounce requests between two unreachable nodes).
    if (c.outbound() && c.method() == link_method::direct && c.failure()
        && (*c.failure() == handshake_failure::dial || *c.failure() == handshake_failure::timeout)
        && await_reversal(id, ps, reason))
      return;
    // A relayed link that did not come up (the relay refused, or lost the target): the next
    // common peer, if any is left to ask.
    if (c.outbound() && c.method() == link_method::relayed && !c.established()) {
      if (try_relay(id, ps, ps.relay_why))
        return;
      return drop_peer(id, ps.relay_why + "; relayed link failed: " + reason);
    }
    drop_peer(id, reason);
  }

  void log(log_level level, const std::string& line) override {
    if (opts_->log)
      opts_->log(level, line);
  }

  // A line of `kind` within its budget (crypto/log_limit.hpp: 5 per 10 s, then one
  // "suppressed N similar lines" line when the window rolls, at the level of that kind: an
  // info kind's summary written at the level of the warn line that rolled it showed up as an
  // unexplained warning in the soak).
  void log_limited(std::string_view kind, log_level level, const std::string& line) {
    auto now = std::chrono::steady_clock::now();
    for (auto& s : limiter_.expire(now)) {
      auto l = limited_levels_.find(s.kind);
      log(l == limited_levels_.end() ? log_level::info : l->second,
          "suppressed " + std::to_string(s.count) + " similar lines (" + s.kind + ")");
    }
    auto d = limiter_.admit(kind, now);
    if (limited_levels_.size() < 64) // the few kinds of this file; "other" past the table
      limited_levels_[std::string(d.kind)] = level;
    if (d.rolled_suppressed)
      log(level, "suppressed " + std::to_string(d.rolled_suppressed) + " similar lines ("
                   + std::string(d.kind) + ")");
    if (d.write)
      log(level, line);
  }

  const bytes32* membership_key(const gossip::topic_id& topic) override {
    auto it = topic_keys_.find(topic);
    return it == topic_keys_.end() ? nullptr : &it->second;
  }

  void on_handshake_failed(connection&, handshake_failure why) override {
    ++handshake_failures_[static_cast<size_t>(why)];
  }

  void on_traffic(connection&, size_t in, size_t out) override {
    bytes_in_ += in;
    bytes_out_ += out;
  }

  // --- connection reversal (issue 15, gossip/transport/reversal.hpp) ---

  // A link to `id` we may send reversal frames on: writable, speaking them, and (under
  // admission) one on which the peer proved a topic, so an outsider who only completed TLS
  // can neither use us as a relay nor make us dial.
  connection* reversal_link(const gossip::endpoint_id& id) {
    auto it = peers_.find(id);
    if (it == peers_.end() || !it->second.writer)
      return nullptr;
    auto* w = it->second.writer.get();
    // Not a relayed link: the address we observe there is the relay's, and relays do not nest.
    bool ok = w->writable() && w->speaks_current() && w->method() != link_method::relayed
              && (!opts_->require_admission || w->admitted());
    return ok ? w : nullptr;
  }

  // Our dial to `id` failed (`why`): asks up to reversal_fanout common peers to have it dial
  // us, and keeps its queue for reversal_wait. False if nobody was asked (the caller drops it).
  bool await_reversal(const gossip::endpoint_id& id, peer_state& ps, const std::string& why) {
    if (opts_->reversal_fanout == 0 || ps.reversal)
      return false;
    std::vector<gossip::endpoint_id> connected;
    for (auto& [peer, other] : peers_)
      if (peer != id && reversal_link(peer))
        connected.push_back(peer);
    auto ask = requester_.on_dial_failed(id, connected, std::chrono::steady_clock::now());
    auto body = net::encode(net::reversal_request{id, reversal_port()});
    size_t sent = 0;
    for (auto& via : ask)
      if (reversal_link(via)->send_control(control::reversal_request, body))
        ++sent;
    if (sent == 0)
      return false;
    reversal_requests_sent_ += sent;
    log(log_level::info, "dial to " + short_id(id) + ": " + why + "; asked "
                           + std::to_string(sent) + " peers to have it dial us");
    arm_peer_timer(id, ps, &peer_state::reversal, opts_->reversal_wait,
                   [this, id, why](peer_state& ps) {
                     if (!ps.links.empty())
                       return; // a link is under way; it reports
                     ++reversal_waits_expired_;
                     auto reason = why + "; no reversed link within "
                                   + std::to_string(opts_->reversal_wait.count()) + " ms";
                     if (!try_relay(id, ps, reason))
                       drop_peer(id, reason);
                   });
    return true;
  }

  static reversal_refusal refusal_of(net::relay_refusal r) {
    switch (r) {
      case net::relay_refusal::self_target: return reversal_refusal::self_target;
      case net::relay_refusal::not_connected: return reversal_refusal::not_connected;
      case net::relay_refusal::requester_budget: return reversal_refusal::requester_budget;
      case net::relay_refusal::target_budget: return reversal_refusal::target_budget;
      case net::relay_refusal::bad_address:
      case net::relay_refusal::none: break;
    }
    return reversal_refusal::bad_address;
  }

  uint16_t reversal_port() const {
    return opts_->reversal_port != 0 ? opts_->reversal_port : listening_port(true);
  }

  void refuse_reversal(connection& c, bool request, reversal_refusal why,
                       const std::string& detail) {
    auto& counters = request ? reversal_requests_refused_ : reversal_notices_refused_;
    ++counters[static_cast<size_t>(why)];
    auto line = c.describe() + ": reversal " + (request ? "request" : "notice") + " refused ("
                + reversal_refusal_name(why) + "): " + detail;
    if (why == reversal_refusal::malformed)
      c.close(line, false, log_level::warn); // on_closed logs it
    else
      log_limited("net.reversal_refused", log_level::info, line);
  }

  void on_reversal(connection& c, control code, byte_view body) override {
    if (shut_ || !c.peer())
      return;
    const bool request = code == control::reversal_request;
    const auto from = *c.peer();
    if (opts_->require_admission && !c.admitted()) {
      refuse_reversal(c, request, reversal_refusal::not_admitted, "peer proved no topic");
      return;
    }
    if (c.method() == link_method::relayed) // the address we see there is the relay's
      return refuse_reversal(c, request, reversal_refusal::declined, "over a relayed link");
    auto now = std::chrono::steady_clock::now();
    if (request) {
      auto r = net::decode_reversal_request(body);
      if (!r)
        return refuse_reversal(c, true, reversal_refusal::malformed, r.err().what);
      if (r->target == tls_->id())
        return refuse_reversal(c, true, reversal_refusal::self_target, "it names us");
      // The address the notice carries is the one we observe the requester at, never one it
      // chose: a request cannot point the target at a third party.
      auto a = unmapped(c.remote().address()).to_string();
      auto* to = reversal_link(r->target);
      auto target_ip = to ? unmapped(to->remote().address()).to_string() : std::string();
      auto [notice, why] = relay_.on_request(from, a, *r, to != nullptr, now, target_ip);
      if (!notice)
        return refuse_reversal(c, true, refusal_of(why), "target " + short_id(r->target));
      auto wire = net::encode(*notice);
      auto code = wire && wire->size() == reversal_notice6_body_size ? control::reversal_notice6
                                                                     : control::reversal_notice;
      if (!wire)
        return;
      // First, where the target's link reaches us, for a requester that punches: its primer
      // should leave before the target's dial arrives (reversal.hpp, "Hole punching"). Not a
      // LAN address of the target to a requester outside that LAN.
      auto hint = net::encode(net::punch_hint{r->target, target_ip});
      auto hcode = hint && hint->size() == punch_hint6_body_size ? control::punch_hint6
                                                                : control::punch_hint;
      if (hint && net::useful_to(target_ip, a) && c.send_control(hcode, *hint))
        ++punch_hints_sent_;
      if (to->send_control(code, *wire))
        ++reversal_requests_relayed_;
      return;
    }
    if (code == control::punch_hint || code == control::punch_hint6)
      return on_punch_hint(c, from, body, now);
    auto n = net::decode_reversal_notice(body);
    if (!n)
      return refuse_reversal(c, false, reversal_refusal::malformed, n.err().what);
    if (n->requester == tls_->id())
      return refuse_reversal(c, false, reversal_refusal::self_target, "it names us");
    auto it = peers_.find(n->requester);
    // A dial of ours that has not connected does not count: the requester's firewall may be
    // dropping it, and our reversed dial from the listening port is what opens ours to its
    // primer (both dialling each other slowly at once, seen in the dual-stack NAT test).
    bool linked = it != peers_.end() && has_connected_link(it->second);
    // The requester asked for us, whether or not we dial it now: if we asked for it too and
    // prime, our primers may meet, and punch_client needs to know that both asked. (Only for
    // a peer we hold already: a notice creates no entry before the dialer's budget allows.)
    if (it != peers_.end())
      it->second.notice_at = now;
    if (!dialer_.should_dial(*n, linked, now))
      return refuse_reversal(c, false, reversal_refusal::declined,
                             "requester " + short_id(n->requester));
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(n->dial.ip, ec);
    if (ec || link_count() >= opts_->max_connections)
      return refuse_reversal(c, false, reversal_refusal::declined, "cannot dial now");
    // The relay chose the address: never one of our own host's (loopback, our listener).
    if (!may_dial(tcp::endpoint(addr, n->dial.port)))
      return refuse_reversal(c, false, reversal_refusal::declined,
                             "it names our own host (" + to_string(n->dial) + ")");
    auto& ps = peers_[n->requester];
    ps.notice_at = now;
    tcp::endpoint to(addr, n->dial.port);
    if (punching_to(n->requester, to)) {
      log(log_level::info, "peer " + short_id(from) + " relays a reversal: " + short_id(n->requester)
                             + " meets the socket we have under way to " + to_string(n->dial));
      return;
    }
    ++reversed_dials_;
    log(log_level::info, "peer " + short_id(from) + " relays a reversal: dialing "
                           + short_id(n->requester) + " at " + to_string(n->dial));
    open_punch(n->requester, to, false);
  }

  // Our listening port for an address family (0 if we do not listen on it): the IPv6
  // acceptor for IPv6 if there is one, else the main one if it takes that family (an IPv6 one
  // alone is dual-stack).
  uint16_t listening_port(bool v4) const {
    boost::system::error_code ec;
    if (!v4 && acceptor6_.is_open()) {
      auto ep = acceptor6_.local_endpoint(ec);
      return ec ? 0 : ep.port();
    }
    if (!acceptor_.is_open())
      return 0;
    auto ep = acceptor_.local_endpoint(ec);
    return ec || (!v4 && ep.address().is_v4()) ? 0 : ep.port();
  }

  // A hint from a peer we asked for a reversal: where the target's link reaches it. We prime
  // our NAT with one connect from our listening port to there, at the target's listening port
  // (gossip/transport/reversal.hpp, "Hole punching").
  void on_punch_hint(connection& c, const gossip::endpoint_id& from, byte_view body,
                     std::chrono::steady_clock::time_point now) {
    auto h = net::decode_punch_hint(body);
    if (!h)
      return refuse_reversal(c, false, reversal_refusal::malformed, h.err().what);
    // The hint's sender, one we asked about that target, holds a link to it: the first to ask
    // for a relay, if it comes to that.
    if (auto it = peers_.find(h->target);
        it != peers_.end() && requester_.asked(from, h->target, now)) {
      auto& hinted = it->second.relays_hinted;
      if (hinted.size() < 4 && std::find(hinted.begin(), hinted.end(), from) == hinted.end())
        hinted.push_back(from);
    }
    if (!opts_->hole_punching)
      return; // a reachable node does not punch; the reversed dial comes anyway
    boost::system::error_code ec;
    auto ip = asio::ip::make_address(h->ip, ec);
    uint16_t port = 0;
    auto why = [&]() -> const char* {
      if (!requester_.on_hint(from, *h, now))
        return "not a peer we asked about that target, or primed that address already";
      auto it = peers_.find(h->target);
      if (it == peers_.end() || !it->second.reversal)
        return "no reversal awaited";
      auto& ps = it->second;
      ps.hint_at = now;
      for (auto& l : ps.links)
        if (l->established())
          return "a link to it is up";
      for (auto& a : book_.candidates(h->target))
        if (a.port != 0) {
          port = a.port; // its listening port, which its NAT keeps for its reversed dial
          break;
        }
      if (ec || port == 0)
        return "no port to prime";
      if (!may_dial(tcp::endpoint(ip, port)))
        return "it names our own host";
      if (punching_to(h->target, tcp::endpoint(ip, port)))
        return "a socket to it from our listening port is under way";
      if (punches_.size() >= max_punches)
        return "too many primers in progress";
      return nullptr;
    }();
    if (why)
      return refuse_reversal(c, false, reversal_refusal::declined,
                             "punch hint for " + short_id(h->target) + ": " + why);
    open_punch(h->target, tcp::endpoint(ip, port), true);
    prime_published_v6(h->target, ip);
  }

  // IPv6 has no NAT: a target's published global IPv6 address is where its firewall lets our
  // packets in once its own connect went out to us. A hint can name the other family (the
  // relay sees the target over IPv4 and us over IPv6: priming there leaves our firewall closed
  // to the target's reversed dial over IPv6), so the target's published global IPv6 addresses
  // are primed too: at most two more primers, to addresses we would dial anyway.
  void prime_published_v6(const gossip::endpoint_id& target, const asio::ip::address& hinted) {
    if (listening_port(false) == 0)
      return;
    size_t extra = 0;
    for (auto& a : book_.candidates(target)) {
      if (extra >= 2 || punches_.size() >= max_punches)
        break;
      boost::system::error_code ec;
      auto addr = asio::ip::make_address(a.ip, ec);
      if (ec || !addr.is_v6() || addr.to_v6().is_v4_mapped() || a.port == 0
          || net::is_local_ip(a.ip) || addr == hinted)
        continue;
      tcp::endpoint to(addr, a.port);
      if (punching_to(target, to))
        continue;
      open_punch(target, to, true);
      ++extra;
    }
  }

  // A connect from our listening port: a primer (held for punch_timeout, so that our NAT lets
  // packets from `to` in) or a reversed dial (a notice asked for it; from the listening port so
  // that a primer on the other side lets it in). Either may meet the other side's socket as
  // one connection (a simultaneous open), so which side runs TLS as the client is decided when
  // it connects: the reversed dial's side, except when both asked for each other (each holds a
  // notice and a hint), where the smaller id is the client.
  struct punch {
    gossip::endpoint_id target{};
    tcp::endpoint to;
    bool primer = false;
    bool both_asked = false; // set when it connects: each side asked for the other
    tcp::socket sock;
    asio::steady_timer timer;
    explicit punch(asio::io_context& io) : sock(io), timer(io) {}
  };

  bool punching_to(const gossip::endpoint_id& target, const tcp::endpoint& to) const {
    auto [from, until] = punches_.equal_range(target);
    for (auto it = from; it != until; ++it)
      if (it->second->to == to)
        return true;
    return false;
  }

  void open_punch(const gossip::endpoint_id& target, const tcp::endpoint& to, bool primer) {
    auto p = std::make_shared<punch>(io_);
    p->target = target;
    p->to = to;
    p->primer = primer;
    const uint16_t local = listening_port(to.address().is_v4());
    auto any = to.address().is_v4() ? asio::ip::address(asio::ip::address_v4::any())
                                    : asio::ip::address(asio::ip::address_v6::any());
    namespace errc = boost::system::errc;
    auto ec = local == 0 ? errc::make_error_code(errc::address_not_available)
                         : open_bound(p->sock, {any, local});
    if (ec) {
      log(log_level::info, std::string(primer ? "cannot prime our NAT for " : "cannot dial ")
                             + short_id(target) + " from our listening port: " + ec.message());
      if (!primer) // an ephemeral dial still reaches a requester that is reachable
        start_dial(target, peers_[target], {to}, link_method::reversed);
      return;
    }
    if (primer) {
      ++punch_primers_;
      log(log_level::info, "priming our NAT for " + short_id(target) + ": connecting from port "
                             + std::to_string(local) + " to " + to_string(to_socket_address(to)));
    } else {
      ++dials_;
    }
    punches_.emplace(target, p);
    p->timer.expires_after(primer ? opts_->punch_timeout : opts_->dial_timeout);
    p->timer.async_wait([p](const boost::system::error_code& ec) {
      boost::system::error_code ignored;
      if (!ec)
        p->sock.close(ignored); // the connect ends with operation_aborted
    });
    p->sock.async_connect(to, [self = shared_from_this(), p](const boost::system::error_code& ec) {
      self->on_punch_connected(p, ec);
    });
  }

  void on_punch_connected(const std::shared_ptr<punch>& p, boost::system::error_code ec) {
    p->timer.cancel();
    auto [from, until] = punches_.equal_range(p->target);
    for (auto it = from; it != until; ++it)
      if (it->second == p) {
        punches_.erase(it);
        break;
      }
    boost::system::error_code ignored;
    if (shut_) {
      p->sock.close(ignored);
      return;
    }
    const auto& id = p->target;
    if (ec) {
      p->sock.close(ignored);
      auto why = ec == asio::error::operation_aborted ? std::string("nothing answered in time")
                                                      : ec.message();
      if (p->primer) {
        log(log_level::debug, "primer for " + short_id(id) + " ended: " + why);
        return;
      }
      if (ec == boost::system::errc::address_not_available
          || ec == boost::system::errc::address_in_use) {
        // That pair of ports is taken (a primer of the requester's reached our listener: it
        // is reachable after all): dial again from an ephemeral port.
        start_dial(id, peers_[id], {p->to}, link_method::reversed);
        return;
      }
      ++handshake_failures_[static_cast<size_t>(handshake_failure::dial)];
      log_limited("net.close", log_level::info,
                  "reversed dial to " + short_id(id) + " at " + to_string(to_socket_address(p->to))
                    + " failed: " + why);
      auto it = peers_.find(id);
      if (it != peers_.end() && it->second.links.empty() && !it->second.up
          && !it->second.reversal && it->second.queue->messages.empty()) {
        peers_.erase(it); // a reversal dial nobody here asked for: nothing to report
        update_peer_count();
      }
      return;
    }
    auto& ps = peers_[id];
    const auto now = std::chrono::steady_clock::now();
    const bool both_asked = now - ps.notice_at < punch_window && now - ps.hint_at < punch_window;
    const bool client = net::punch_client(p->primer, both_asked, tls_->id() < id);
    p->both_asked = both_asked;
    log(log_level::info, std::string(p->primer ? "primer" : "reversed dial") + " to "
                           + short_id(id) + " at " + to_string(to_socket_address(p->to))
                           + " connected; we are the TLS " + (client ? "client" : "server")
                           + (both_asked ? " (we asked for each other: the smaller id is)" : ""));
    if (client)
      return start_punched_link(p, true);
    // The server side waits for the client's hello. If none comes soon, our socket reached
    // the peer's listener rather than its socket (it was reachable, or its socket had given
    // up), where a server waits too: we take the client side instead.
    p->timer.expires_after(net::punch_server_wait(tls_->id() < id, punch_server_base_wait));
    p->timer.async_wait([p](const boost::system::error_code& ec) {
      boost::system::error_code ignored; // the socket may be moved out by now (closed)
      if (!ec)
        p->sock.cancel(ignored); // the wait below ends with operation_aborted
    });
    p->sock.async_wait(tcp::socket::wait_read, [self = shared_from_this(),
                                                p](const boost::system::error_code& ec) {
      p->timer.cancel();
      if (self->shut_)
        return;
      if (ec == asio::error::operation_aborted)
        self->log(log_level::info, "no hello from " + short_id(p->target)
                                     + " on our socket: it reached its listener; we are the "
                                       "TLS client");
      self->start_punched_link(p, ec == asio::error::operation_aborted);
    });
  }

  void start_punched_link(const std::shared_ptr<punch>& p, bool client) {
    const auto& id = p->target;
    auto c = std::make_shared<connection>(io_, tls_, opts_, shared_from_this(), client,
                                          next_serial_++);
    // Punched: our primer met the peer's socket, or both sides asked for each other (neither
    // could dial the other, so whichever of our sockets connected went through both).
    c->set_method(p->primer || p->both_asked ? link_method::punched : link_method::reversed);
    c->socket() = std::move(p->sock);
    if (client) {
      peers_[id].links.push_back(c);
      update_peer_count();
      c->start_connected(id);
    } else {
      pending_inbound_.insert(c);
      pending_count_ = pending_inbound_.size();
      c->start_inbound();
    }
  }

  // --- relayed links (issue 15, gossip/transport/relay.hpp) ---

  // One end of a relayed link of ours (we are its requester or its target).
  struct relay_end {
    gossip::endpoint_id via{};         // the relay
    gossip::endpoint_id peer{};        // the other end
    uint32_t number = 0;               // as the frames we send for it carry it
    std::weak_ptr<connection> link;    // our link to the relay: the only one it runs over
    std::shared_ptr<relay_pipe> pipe;  // the local socket pair's other end
    std::weak_ptr<connection> conn;    // the TLS link over the pipe
  };
  using relay_key = std::pair<gossip::endpoint_id, uint32_t>; // (via, number as via sends it)

  relay_end* end_of(const connection& c) {
    for (auto& [key, e] : ends_)
      if (e.conn.lock().get() == &c)
        return &e;
    return nullptr;
  }

  // Each end paces its own direction at 40% of the relay's budget, which counts both ways
  // (the rest absorbs frames that bunch up in transit: a well-paced link is never cut).
  static double relay_rate() { return net::relay_table::config{}.bytes_per_second * 0.4; }
  static double relay_burst() { return net::relay_table::config{}.burst_bytes * 0.4; }

  // Our reversal wait for `id` ended without a link (`why`): asks the next common peer to
  // relay a link to it (peers that hinted where it is first), and dials it through that relay
  // at once (the open goes first on the link, so the relay knows the channel before our TLS
  // hello). False if nobody is left to ask, or relaying is off.
  bool try_relay(const gossip::endpoint_id& id, peer_state& ps, const std::string& why) {
    if (!opts_->relay || shut_ || ends_.size() >= opts_->max_relayed_links)
      return false;
    auto untried = [&](const gossip::endpoint_id& p) {
      return p != id && reversal_link(p)
             && std::find(ps.relays_tried.begin(), ps.relays_tried.end(), p)
                  == ps.relays_tried.end();
    };
    while (ps.relays_tried.size() < opts_->relay_tries) {
      std::optional<gossip::endpoint_id> via;
      for (auto& p : ps.relays_hinted)
        if (untried(p)) {
          via = p;
          break;
        }
      for (auto it = peers_.begin(); !via && it != peers_.end(); ++it)
        if (untried(it->first))
          via = it->first;
      if (!via)
        return false;
      ps.relays_tried.push_back(*via);
      ps.relay_why = why;
      if (open_relayed(id, ps, *via, why))
        return true;
    }
    return false;
  }

  // Sends the open to `via` and starts our end and its TLS dial; false if the open could not
  // go (the link to `via` is full) or no socket pair could be made.
  bool open_relayed(const gossip::endpoint_id& id, peer_state& ps, const gossip::endpoint_id& via,
                    const std::string& why) {
    auto link = peers_[via].writer;
    const uint32_t number = own_relay_number(via);
    auto open = net::encode(net::relay_open{number, id});
    auto c = std::make_shared<connection>(io_, tls_, opts_, shared_from_this(), true,
                                          next_serial_++);
    auto pipe = relay_pipe::create(io_, c->socket(), relay_rate(), relay_burst());
    if (!pipe) {
      log(log_level::warn, "cannot relay a link to " + short_id(id) + ": " + pipe.err().what);
      return false;
    }
    if (!link || !open || !link->send_relay(*open))
      return false;
    const relay_key key{via, number | relay_reply_bit};
    ends_[key] = relay_end{via, id, number, link, *pipe, c};
    start_pipe(key, *pipe);
    ++relay_requests_sent_;
    log(log_level::info, "dial to " + short_id(id) + ": " + why + "; asking " + short_id(via)
                           + " to relay a link");
    c->set_method(link_method::relayed);
    ps.links.push_back(c);
    update_peer_count();
    c->start_connected(id);
    c->set_remote(link->remote());
    return true;
  }

  // A number for an open of ours on the link to `via` that no end of ours uses there.
  uint32_t own_relay_number(const gossip::endpoint_id& via) {
    for (;;) {
      uint32_t n = relay_own_bit | (next_own_number_++ & (relay_own_bit - 1));
      if (!ends_.count({via, n | relay_reply_bit}))
        return n;
    }
  }

  void start_pipe(const relay_key& key, const std::shared_ptr<relay_pipe>& pipe) {
    std::weak_ptr<impl> weak = shared_from_this();
    relay_pipe::hooks h;
    h.send = [weak, key](byte_view chunk) {
      auto self = weak.lock();
      return self && self->relay_send_data(key, chunk);
    };
    h.ended = [weak, key](const std::string& why) {
      if (auto self = weak.lock())
        self->end_relay(key, relay_close_reason::done, why, true);
    };
    pipe->start(std::move(h));
  }

  // Bytes of our end `key` go to the relay, over the link the end began on.
  bool relay_send_data(const relay_key& key, byte_view chunk) {
    auto it = ends_.find(key);
    if (it == ends_.end())
      return false;
    auto link = it->second.link.lock();
    auto body = net::encode_relay_data(it->second.number, chunk);
    return link && body && link->send_relay(*body);
  }

  // True if a relayed link runs over our link to `peer` (ours, or one we carry).
  bool relaying_over(const gossip::endpoint_id& peer) const {
    for (auto& [key, e] : ends_)
      if (e.via == peer)
        return true;
    return relays_.carries(peer);
  }

  // No close waits for relayed links any more (it proceeds, or a send cancelled it).
  static void stop_relay_close(peer_state& ps) {
    ps.close_after_relay = false;
    if (ps.relay_close) {
      ps.relay_close->cancel();
      ps.relay_close.reset();
    }
  }

  // A relayed link over our link to `peer` ended: a close the gossip layer asked for while it
  // ran happens now if none is left. Posted: the callers may be in the middle of changing
  // that peer's entry (replace_writer, drop_peer).
  void relay_settled(const gossip::endpoint_id& peer) {
    asio::post(io_, [weak = std::weak_ptr<impl>(shared_from_this()), peer] {
      auto self = weak.lock();
      if (!self || self->shut_)
        return;
      auto it = self->peers_.find(peer);
      if (it == self->peers_.end() || !it->second.close_after_relay || self->relaying_over(peer))
        return;
      stop_relay_close(it->second);
      self->close_when_flushed(peer);
    });
  }

  // Ends our end `key` (its connection reads EOF and closes); `tell`: the relay is told.
  void end_relay(const relay_key& key, relay_close_reason reason, const std::string& why,
                 bool tell) {
    auto it = ends_.find(key);
    if (it == ends_.end())
      return;
    auto e = std::move(it->second);
    ends_.erase(it);
    if (tell)
      if (auto link = e.link.lock())
        link->send_relay(net::encode(net::relay_close{e.number, reason}));
    e.pipe->close();
    // Rate-limited: a relay (or an end) can make and end relayed links at will.
    log_limited("net.relay", log_level::info, "relayed link with " + short_id(e.peer)
                                                + " through " + short_id(e.via) + " ended: " + why);
    relay_settled(e.via);
  }

  // Our link to `peer` stops carrying relay frames (it closed, retired, or another took its
  // place): every relayed link over it ends, ours and those we carry.
  void relay_link_changed(const gossip::endpoint_id& peer) {
    std::vector<relay_key> gone;
    for (auto& [key, e] : ends_)
      if (e.via == peer)
        gone.push_back(key);
    for (auto& key : gone)
      end_relay(key, relay_close_reason::link_lost, "the link to the relay changed", true);
    for (auto& hop : relays_.on_link_closed(peer)) {
      send_relay_close(hop, relay_close_reason::link_lost);
      relay_settled(hop.peer);
    }
    relayed_carried_ = relays_.size();
    relay_settled(peer);
  }

  void send_relay_close(const net::relay_table::hop& to, relay_close_reason why) {
    if (auto* l = reversal_link(to.peer))
      l->send_relay(net::encode(net::relay_close{to.number, why}));
  }

  // A relay frame on link `c` (its size checked by the frame decoder).
  void on_relay(connection& c, byte_view body) override {
    if (shut_ || !c.peer() || body.size() < relay_body_min)
      return;
    const auto from = *c.peer();
    const uint8_t kind = body[0];
    if ((opts_->require_admission && !c.admitted()) || c.method() == link_method::relayed) {
      // An outsider cannot use us as a relay, nor make us take a link; relays do not nest.
      if (kind == 1 || kind == 2) // the body is relay_body_min bytes at least (frame.hpp)
        refuse_relay(c, get_be32(body.data() + 1), relay_close_reason::refused,
                     c.method() == link_method::relayed ? "over a relayed link"
                                                        : "peer proved no topic");
      return;
    }
    const auto now = std::chrono::steady_clock::now();
    switch (kind) {
      case 1: return on_relay_open(c, from, body, now);
      case 2: return on_relay_incoming(c, from, body);
      case 3: return on_relay_data(c, from, body, now);
      case 4: return on_relay_close(c, from, body);
      default: break;
    }
    c.close("relay frame of unknown kind " + std::to_string(kind), false, log_level::warn);
  }

  // Answers an open or incoming on `c` with a close (the reply flips the number's top bit).
  void refuse_relay(connection& c, uint32_t number, relay_close_reason why,
                    const std::string& detail) {
    ++relay_requests_refused_;
    c.send_relay(net::encode(net::relay_close{number ^ relay_reply_bit, why}));
    log_limited("net.relay_refused", log_level::info,
                c.describe() + ": relay request refused (" + net::to_string(why) + "): " + detail);
  }

  void malformed_relay(connection& c, const error& e) {
    c.close("malformed relay frame: " + e.what, false, log_level::warn);
  }

  // `from` asks us to relay a link to a target.
  void on_relay_open(connection& c, const gossip::endpoint_id& from, byte_view body,
                     std::chrono::steady_clock::time_point now) {
    auto m = net::decode_relay_open(body);
    if (!m)
      return malformed_relay(c, m.err());
    if (!opts_->relay_for_others)
      return refuse_relay(c, m->channel, relay_close_reason::refused, "we relay for nobody");
    if (ends_.count({from, m->channel})) // the peer's number of an incoming to us
      return refuse_relay(c, m->channel, relay_close_reason::busy, "channel number in use");
    for (auto& hop : relays_.expire(now)) { // idle relayed links leave their slots first
      send_relay_close(hop, relay_close_reason::done);
      relay_settled(hop.peer);
    }
    relayed_carried_ = relays_.size();
    auto* to = reversal_link(m->target);
    auto [incoming, why] = relays_.on_open(from, *m, to != nullptr, tls_->id(), now);
    if (!incoming)
      return refuse_relay(c, m->channel, why, "target " + short_id(m->target));
    auto wire = net::encode(*incoming);
    if (!wire || !to->send_relay(*wire)) {
      relays_.on_close(from, m->channel);
      return refuse_relay(c, m->channel, relay_close_reason::link_lost,
                          "the link to " + short_id(m->target) + " cannot take it");
    }
    ++relay_requests_carried_;
    relayed_carried_ = relays_.size();
    log_limited("net.relay", log_level::info,
                "relaying a link from " + short_id(from) + " to " + short_id(m->target));
  }

  // A relay `from` brings us a link from a requester: we take it as an inbound connection
  // over a local socket pair.
  void on_relay_incoming(connection& c, const gossip::endpoint_id& from, byte_view body) {
    auto m = net::decode_relay_incoming(body);
    if (!m)
      return malformed_relay(c, m.err());
    const relay_key key{from, m->channel};
    if (m->requester == tls_->id() || m->requester == from)
      return refuse_relay(c, m->channel, relay_close_reason::self_target, "it names us or the relay");
    if (!opts_->relay || ends_.count(key) || ends_.size() >= opts_->max_relayed_links
        || link_count() >= opts_->max_connections)
      return refuse_relay(c, m->channel, relay_close_reason::busy, "no room for a relayed link");
    auto it = peers_.find(m->requester);
    if (it != peers_.end()
        && std::any_of(it->second.links.begin(), it->second.links.end(),
                       [](auto& l) { return l->established(); }))
      return refuse_relay(c, m->channel, relay_close_reason::refused,
                          "linked to " + short_id(m->requester) + " already");
    auto link = peers_[from].writer;
    if (!link || link.get() != &c)
      return refuse_relay(c, m->channel, relay_close_reason::link_lost, "not the relay's link");
    auto conn = std::make_shared<connection>(io_, tls_, opts_, shared_from_this(), false,
                                             next_serial_++);
    auto pipe = relay_pipe::create(io_, conn->socket(), relay_rate(), relay_burst());
    if (!pipe)
      return refuse_relay(c, m->channel, relay_close_reason::refused, pipe.err().what);
    ends_[key] = relay_end{from, m->requester, m->channel | relay_reply_bit, link, *pipe, conn};
    start_pipe(key, *pipe);
    log_limited("net.relay", log_level::info,
                "peer " + short_id(from) + " relays a link from " + short_id(m->requester));
    conn->set_method(link_method::relayed);
    pending_inbound_.insert(conn);
    pending_count_ = pending_inbound_.size();
    conn->start_inbound();
    conn->set_remote(c.remote());
  }

  // Relayed bytes: for an end of ours, or to forward.
  void on_relay_data(connection& c, const gossip::endpoint_id& from, byte_view body,
                     std::chrono::steady_clock::time_point now) {
    auto d = net::decode_relay_data(body);
    if (!d)
      return malformed_relay(c, d.err());
    const relay_key key{from, d->channel};
    if (auto it = ends_.find(key); it != ends_.end()) {
      if (!it->second.pipe->deliver(d->chunk))
        end_relay(key, relay_close_reason::over_budget, "more relayed bytes than we buffer",
                  true);
      return;
    }
    auto v = relays_.on_data(from, d->channel, d->chunk.size(), now);
    if (v.forward) {
      auto* to = reversal_link(v.forward->peer);
      auto wire = net::encode_relay_data(v.forward->number, d->chunk);
      if (to && wire && to->send_relay(*wire)) {
        relay_bytes_ += d->chunk.size();
        return;
      }
      // The other end's link is gone or full: the relayed link ends at both ends.
      relays_.on_close(from, d->channel);
      relayed_carried_ = relays_.size();
      send_relay_close(*v.forward, relay_close_reason::link_lost);
      c.send_relay(net::encode(net::relay_close{d->channel ^ relay_reply_bit,
                                                relay_close_reason::link_lost}));
      relay_settled(from);
      relay_settled(v.forward->peer);
      return;
    }
    c.send_relay(net::encode(net::relay_close{d->channel ^ relay_reply_bit, v.close}));
    if (v.close == relay_close_reason::over_budget) {
      ++relay_over_budget_;
      relayed_carried_ = relays_.size();
      if (v.other)
        send_relay_close(*v.other, relay_close_reason::over_budget);
      log_limited("net.relay_refused", log_level::info,
                  c.describe() + ": relayed link closed: over its byte budget");
      relay_settled(from);
      if (v.other)
        relay_settled(v.other->peer);
    }
  }

  void on_relay_close(connection& c, const gossip::endpoint_id& from, byte_view body) {
    auto m = net::decode_relay_close(body);
    if (!m)
      return malformed_relay(c, m.err());
    const relay_key key{from, m->channel};
    if (ends_.count(key))
      return end_relay(key, m->reason,
                       std::string("the relay closed it (") + net::to_string(m->reason) + ")",
                       false);
    if (auto other = relays_.on_close(from, m->channel)) {
      relayed_carried_ = relays_.size();
      send_relay_close(*other, m->reason);
      relay_settled(from);
      relay_settled(other->peer);
    }
  }

  std::optional<link_info> link_of(const gossip::endpoint_id& id) const {
    std::lock_guard<std::mutex> guard(live_mu_);
    auto it = live_.find(id);
    if (it == live_.end() || it->second.empty())
      return std::nullopt;
    auto& first = *it->second.front(); // its address and time were set before it was listed
    link_info out{to_socket_address(first.remote()), first.up_since(), 0, 0, first.method()};
    for (auto& c : it->second) {
      out.bytes_in += c->bytes_in();
      out.bytes_out += c->bytes_out();
    }
    return out;
  }

  void on_admission(connection& c, admission_event ev, const gossip::topic_id& topic) override {
    switch (ev) {
      case admission_event::accepted:
        ++proofs_accepted_;
        log(log_level::debug, c.describe() + ": proved topic " + short_id(topic));
        break;
      case admission_event::bad_proof: ++proofs_refused_; break;
      case admission_event::unknown_topic: ++proofs_unknown_topic_; break;
      case admission_event::early_message: ++early_messages_; break;
      case admission_event::no_topic: ++links_without_topic_; break;
      case admission_event::unanswered: ++proofs_unanswered_; break;
      case admission_event::not_member: ++messages_not_member_; break;
    }
  }

  // --- internals ---

  // After a flood of links has gone, give the freed TLS and buffer memory back to the system
  // (glibc keeps freed heap otherwise): at most once per 5 s, after 64 closed links.
  void note_closed_link() {
#ifdef __GLIBC__
    if (++closed_since_trim_ < 64)
      return;
    auto now = std::chrono::steady_clock::now();
    if (now - last_trim_ < std::chrono::seconds(5))
      return;
    closed_since_trim_ = 0;
    last_trim_ = now;
    malloc_trim(0);
#endif
  }

  void accept(tcp::acceptor& acceptor) {
    if (shut_)
      return;
    // Accept into a plain socket: a refused connection costs no TLS session (SSL_new).
    auto sock = std::make_shared<tcp::socket>(io_);
    acceptor.async_accept(*sock, [self = shared_from_this(), sock, &acceptor](auto ec) {
      if (self->shut_)
        return;
      if (ec) {
        if (ec == asio::error::operation_aborted)
          return;
        // Out of descriptors or similar: retry shortly instead of spinning.
        self->log(log_level::warn, "accept failed: " + ec.message());
        auto& retry = self->accept_retry_[&acceptor == &self->acceptor6_];
        retry = std::make_shared<asio::steady_timer>(self->io_, std::chrono::milliseconds{100});
        retry->async_wait([self, &acceptor](auto ec2) {
          if (!ec2)
            self->accept(acceptor);
        });
        return;
      }
      if (auto why = self->refusal(*sock)) {
        self->hold_refused(std::move(*sock), why);
      } else {
        auto c = std::make_shared<connection>(self->io_, self->tls_, self->opts_, self,
                                              false, self->next_serial_++);
        c->socket() = std::move(*sock);
        self->pending_inbound_.insert(c);
        self->pending_count_ = self->pending_inbound_.size();
        c->start_inbound();
      }
      self->accept(acceptor);
    });
  }

  // Why a new inbound connection is refused, or nullptr. Counts what is refused.
  const char* refusal(tcp::socket& s) {
    if (pending_inbound_.size() >= opts_->max_pending_handshakes
        || link_count() >= opts_->max_connections) {
      ++refused_total_limits_;
      return "too many connections or handshakes in progress";
    }
    boost::system::error_code ec;
    auto addr = address_unit(s.remote_endpoint(ec).address());
    if (ec)
      return "no remote address";
    size_t pending = 0;
    for (auto& c : pending_inbound_)
      if (address_unit(c->remote().address()) == addr)
        ++pending;
    if (pending >= opts_->max_pending_handshakes_per_ip) {
      ++refused_ip_handshakes_;
      return "too many handshakes in progress from its address";
    }
    if (!take_handshake_token(addr)) {
      ++refused_ip_handshakes_;
      return "too many handshakes per second from its address";
    }
    size_t links = pending;
    for (auto& [id, ps] : peers_)
      for (auto& l : ps.links)
        if (!l->outbound() && address_unit(l->remote().address()) == addr)
          ++links;
    if (links >= opts_->max_connections_per_ip) {
      ++refused_ip_links_;
      return "too many connections from its address";
    }
    return nullptr;
  }

  // A TLS handshake costs us a signature and a key exchange: each remote IP may start
  // handshake_rate_per_ip per second (bursts of handshake_burst_per_ip), so one that closes and
  // reopens at full speed is held instead. The table is bounded: full buckets are forgotten.
  bool take_handshake_token(const asio::ip::address& addr) {
    if (opts_->handshake_rate_per_ip <= 0)
      return true;
    auto now = std::chrono::steady_clock::now();
    const double burst = static_cast<double>(opts_->handshake_burst_per_ip);
    if (handshake_buckets_.size() >= 4096) {
      for (auto it = handshake_buckets_.begin(); it != handshake_buckets_.end();) {
        double secs = std::chrono::duration<double>(now - it->second.second).count();
        if (it->second.first + secs * opts_->handshake_rate_per_ip >= burst)
          it = handshake_buckets_.erase(it);
        else
          ++it;
      }
      if (handshake_buckets_.size() >= 4096)
        return false;
    }
    auto [it, fresh] = handshake_buckets_.try_emplace(addr, burst, now);
    auto& [tokens, last] = it->second;
    if (!fresh) {
      double secs = std::chrono::duration<double>(now - last).count();
      tokens = std::min(burst, tokens + secs * opts_->handshake_rate_per_ip);
      last = now;
    }
    if (tokens < 1.0)
      return false;
    tokens -= 1.0;
    return true;
  }

  // Keeps a refused connection open and unread for refused_hold, so that a flooder that
  // reopens what we close does not make us accept in a tight loop; bounded in number.
  void hold_refused(tcp::socket s, const char* why) {
    boost::system::error_code ec;
    auto remote = s.remote_endpoint(ec);
    log_limited("net.refused", log_level::warn,
                "refused inbound connection from "
                  + (ec ? std::string("?") : remote.address().to_string()) + ": " + why);
    if (held_.size() >= opts_->max_refused_held) {
      s.close(ec);
      return;
    }
    held_.push_back({std::chrono::steady_clock::now() + opts_->refused_hold, std::move(s)});
    refused_held_ = held_.size();
    if (held_.size() == 1)
      arm_held_timer();
  }

  void arm_held_timer() {
    if (held_.empty())
      return;
    if (!held_timer_)
      held_timer_ = std::make_shared<asio::steady_timer>(io_);
    held_timer_->expires_at(held_.front().until);
    held_timer_->async_wait([self = shared_from_this()](auto ec) {
      if (ec || self->shut_)
        return;
      auto now = std::chrono::steady_clock::now();
      while (!self->held_.empty() && self->held_.front().until <= now) {
        boost::system::error_code ignored;
        self->held_.front().socket.close(ignored);
        self->held_.pop_front();
      }
      self->refused_held_ = self->held_.size();
      self->arm_held_timer();
    });
  }

  // True if dialing `ep` would reach our own listener: a loopback or unspecified address, or
  // one of our interface addresses, on our port. A peer's record or gossip can carry such an
  // address (its own loopback address, on a port that is ours here): the 1-hour soak dialled
  // itself that way, and took its own certificate for a forged one.
  bool is_own_listener(const tcp::endpoint& ep) const {
    auto a = unmapped(ep.address());
    for (auto& mine : own_listeners_)
      if (mine.port() == ep.port()
          && (a.is_loopback() || a.is_unspecified() || mine.address() == a))
        return true;
    return false;
  }

  // Not our own listener, and not a loopback address unless we listen on loopback alone
  // (transport_options::dial_loopback): a record, notice or hint naming 127.0.0.1:22 must not
  // make us connect to our own host's services.
  bool may_dial(const tcp::endpoint& ep) const {
    return !is_own_listener(ep) && (dial_loopback_ || !unmapped(ep.address()).is_loopback());
  }

  void dial(const gossip::endpoint_id& id, peer_state& ps) {
    std::vector<tcp::endpoint> eps;
    for (auto& a : book_.candidates(id)) {
      boost::system::error_code ec;
      auto addr = asio::ip::make_address(a.ip, ec);
      if (ec)
        continue;
      tcp::endpoint ep(addr, a.port);
      if (!may_dial(ep)) {
        log(log_level::debug, "not dialing " + short_id(id) + " at " + to_string(a)
                                + ": that is our own listener, or a loopback address");
        continue;
      }
      eps.push_back(ep);
    }
    if (eps.empty()) {
      if (!await_reversal(id, ps, "no known address"))
        drop_peer(id, "no known address");
      return;
    }
    if (link_count() >= opts_->max_connections) {
      drop_peer(id, "connection limit reached");
      return;
    }
    // A peer whose links keep closing soon after we dial is redialled less and less often
    // (gossip/transport/redial.hpp); its queue waits meanwhile, within its bounds.
    const auto now = std::chrono::steady_clock::now();
    const auto at = redial_.allowed_at(id, now);
    if (at > now) {
      hold_dial(id, ps, at);
      return;
    }
    redial_.dialed(id, now);
    std::string where;
    for (auto& ep : eps)
      where += (where.empty() ? "" : ", ") + to_string(to_socket_address(ep));
    log(log_level::debug, "dialing " + short_id(id) + " at " + where);
    start_dial(id, ps, std::move(eps), link_method::direct);
    // A dial that has not connected soon is likely black-holed (a LAN address of another site,
    // a NAT that drops): ask for a reversal already, rather than after the dial timeout.
    if (opts_->reversal_after.count() > 0 && opts_->reversal_after < opts_->dial_timeout)
      arm_slow_dial(id, ps);
  }

  // Every reversal_after while our dial to `id` has not connected: ask for a reversal, until
  // someone was asked (a node that just started may have no admitted peer to ask yet).
  void arm_slow_dial(const gossip::endpoint_id& id, peer_state& ps) {
    arm_peer_timer(id, ps, &peer_state::slow_dial, opts_->reversal_after,
                   [this, id](peer_state& ps) {
                     if (has_connected_link(ps)) // a slow handshake (a busy peer) is no NAT
                       return;
                     if (ps.links.empty() || ps.reversal)
                       return; // the dial ended (it reports), or we asked already
                     if (!await_reversal(id, ps, "no link after "
                                                   + std::to_string(
                                                     opts_->reversal_after.count())
                                                   + " ms"))
                       arm_slow_dial(id, ps);
                   });
  }

  void hold_dial(const gossip::endpoint_id& id, peer_state& ps,
                 std::chrono::steady_clock::time_point at) {
    ++dials_held_back_;
    log_limited("net.redial_held", log_level::info,
                "redialling " + short_id(id) + " too often: the next dial waits "
                  + std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     at - std::chrono::steady_clock::now())
                                     .count())
                  + " ms");
    arm_peer_timer(id, ps, &peer_state::redial, at, [this, id](peer_state& ps) {
      if (ps.links.empty() && !ps.reversal)
        dial(id, ps);
    });
  }

  static void cancel_timers(peer_state& ps) {
    for (auto* t : {&ps.grace, &ps.reversal, &ps.redial, &ps.slow_dial, &ps.relay_close})
      if (*t)
        (*t)->cancel();
  }

  void start_dial(const gossip::endpoint_id& id, peer_state& ps, std::vector<tcp::endpoint> eps,
                  link_method how) {
    auto c = std::make_shared<connection>(io_, tls_, opts_, shared_from_this(), true,
                                          next_serial_++);
    c->set_method(how);
    ++dials_;
    ps.links.push_back(c);
    update_peer_count();
    c->start_outbound(id, std::move(eps));
  }

  // Which of two links to one peer stays: the one dialed by the smaller endpoint id, which both
  // sides compute alike; of two dialed by the same side, the newer (the older is likely stale).
  void settle_duplicate(const gossip::endpoint_id& id, peer_state& ps,
                        const std::shared_ptr<connection>& c) {
    auto& old = ps.writer;
    auto view = [](const connection& l) {
      return net::link_view{l.outbound(), l.serial(), l.writable()};
    };
    bool keep_new = net::keep_new_link(tls_->id() < id, view(*c), view(*old));
    auto keep = keep_new ? c : old;
    auto drop = keep_new ? old : c;
    ++duplicates_retired_;
    log(log_level::debug, "duplicate links to " + short_id(id) + ": keeping " + keep->describe()
                            + ", retiring " + drop->describe());
    if (keep_new) {
      relay_link_changed(id); // relayed bytes never change links
      ps.writer = c;
      c->attach_queue(ps.queue);
    }
    drop->say_goodbye();
  }

  void replace_writer(const gossip::endpoint_id& id, peer_state& ps) {
    relay_link_changed(id); // relayed bytes never change links
    ps.writer.reset();
    for (auto& l : ps.links) {
      if (l->writable()) {
        ps.writer = l;
        l->attach_queue(ps.queue);
        return;
      }
    }
  }

  void drop_peer(const gossip::endpoint_id& id, const std::string& reason) {
    auto it = peers_.find(id);
    if (it == peers_.end())
      return;
    relay_link_changed(id);
    auto ps = std::move(it->second);
    peers_.erase(it);
    cancel_timers(ps);
    for (auto& l : ps.links) {
      if (l->established() && links_up_ > 0)
        --links_up_;
      l->close(reason);
    }
    update_peer_count();
    if (cb_.closed)
      cb_.closed(id, reason);
  }

  size_t link_count() const {
    size_t n = pending_inbound_.size();
    for (auto& [id, ps] : peers_)
      n += ps.links.size();
    return n;
  }

  void update_peer_count() {
    peer_count_ = peers_.size();
    pending_count_ = pending_inbound_.size();
  }

  asio::io_context& io_;
  std::shared_ptr<tls_identity> tls_;
  std::shared_ptr<const transport_options> opts_;
  transport_callbacks cb_;
  tcp::acceptor acceptor_;
  tcp::acceptor acceptor6_;  // transport_options::bind6 (closed if none)
  std::shared_ptr<asio::steady_timer> accept_retry_[2];  // per acceptor
  std::vector<gossip::socket_address> local_;
  std::vector<tcp::endpoint> own_listeners_; // local_, parsed
  bool dial_loopback_ = true;                 // transport_options::dial_loopback, resolved
  std::map<gossip::endpoint_id, peer_state> peers_;
  std::set<std::shared_ptr<connection>> pending_inbound_;
  struct held_socket {
    std::chrono::steady_clock::time_point until;
    tcp::socket socket;
  };
  std::deque<held_socket> held_; // refused connections, oldest first
  std::shared_ptr<asio::steady_timer> held_timer_;
  std::map<gossip::topic_id, bytes32> topic_keys_; // membership keys of our topics
  // Per remote IP: handshake tokens left and when they were last refilled.
  std::map<asio::ip::address, std::pair<double, std::chrono::steady_clock::time_point>>
    handshake_buckets_;
  log::rate_limiter limiter_;                        // lines a peer can cause at will
  std::map<std::string, log_level, std::less<>> limited_levels_; // each kind's level
  size_t closed_since_trim_ = 0;
  std::chrono::steady_clock::time_point last_trim_{};
  address_book book_;
  net::reversal_requester requester_{opts_->reversal_fanout};
  net::reversal_relay relay_;
  net::reversal_dialer dialer_;
  net::redial_backoff redial_;
  std::map<relay_key, relay_end> ends_; // our relayed links' ends
  net::relay_table relays_;             // the relayed links we carry for others
  uint32_t next_own_number_ = 0;
  uint64_t next_serial_ = 1;
  bool shut_ = false;

public:
  std::atomic<size_t> links_up_{0};
  std::atomic<size_t> peer_count_{0};
  std::atomic<uint64_t> messages_in_{0};
  std::atomic<uint64_t> messages_out_{0};
  std::atomic<uint64_t> slow_peers_dropped_{0};
  std::atomic<uint64_t> duplicates_retired_{0};
  std::atomic<uint64_t> links_renewed_{0};
  std::atomic<uint64_t> proofs_accepted_{0};
  std::atomic<uint64_t> proofs_refused_{0};
  std::atomic<uint64_t> proofs_unknown_topic_{0};
  std::atomic<uint64_t> early_messages_{0};
  std::atomic<uint64_t> links_without_topic_{0};
  std::atomic<uint64_t> proofs_unanswered_{0};
  std::atomic<uint64_t> messages_not_member_{0};
  std::atomic<uint64_t> refused_ip_handshakes_{0};
  std::atomic<uint64_t> refused_ip_links_{0};
  std::atomic<uint64_t> refused_total_limits_{0};
  std::atomic<size_t> refused_held_{0};
  std::atomic<size_t> pending_count_{0};
  std::array<std::atomic<uint64_t>, handshake_failure_kinds> handshake_failures_{};
  std::atomic<uint64_t> bytes_in_{0};
  std::atomic<uint64_t> bytes_out_{0};
  std::atomic<uint64_t> reversal_requests_sent_{0};
  std::atomic<uint64_t> reversal_requests_relayed_{0};
  std::array<std::atomic<uint64_t>, reversal_refusal_kinds> reversal_requests_refused_{};
  std::array<std::atomic<uint64_t>, reversal_refusal_kinds> reversal_notices_refused_{};
  std::atomic<uint64_t> reversed_dials_{0};
  std::atomic<uint64_t> dials_held_back_{0};
  std::atomic<uint64_t> dials_{0};
  std::atomic<uint64_t> links_reversed_{0};
  std::atomic<uint64_t> reversal_waits_expired_{0};
  std::atomic<uint64_t> punch_hints_sent_{0};
  std::atomic<uint64_t> punch_primers_{0};
  std::atomic<uint64_t> links_punched_{0};
  std::atomic<uint64_t> relay_requests_sent_{0};
  std::atomic<uint64_t> links_relayed_{0};
  std::atomic<uint64_t> relay_requests_carried_{0};
  std::atomic<uint64_t> relay_requests_refused_{0};
  std::atomic<uint64_t> relay_over_budget_{0};
  std::atomic<uint64_t> relay_bytes_{0};
  std::atomic<size_t> relayed_carried_{0};
  // Connects from our listening port under way (primers, reversed dials), by target; primers
  // are bounded here, reversed dials by the reversal dialer's budget.
  static constexpr size_t max_punches = 16;
  std::multimap<gossip::endpoint_id, std::shared_ptr<punch>> punches_;
  // Established links by peer, for link_of() from other threads (io thread writes).
  mutable std::mutex live_mu_;
  std::map<gossip::endpoint_id, std::vector<std::shared_ptr<connection>>> live_;
  std::shared_ptr<backlog> backlog_ = std::make_shared<backlog>();

  const std::vector<gossip::socket_address>& local() const { return local_; }
  const gossip::endpoint_id& id() const { return tls_->id(); }
  uint32_t max_message_size() const { return opts_->max_message_size; }
  bool admission() const { return opts_->require_admission; }
  asio::io_context& io() { return io_; }
};

// --- transport ---

const char* reversal_refusal_name(reversal_refusal r) noexcept {
  switch (r) {
    case reversal_refusal::malformed: return "malformed";
    case reversal_refusal::not_admitted: return "not_admitted";
    case reversal_refusal::self_target: return "self_target";
    case reversal_refusal::not_connected: return "not_connected";
    case reversal_refusal::requester_budget: return "requester_budget";
    case reversal_refusal::target_budget: return "target_budget";
    case reversal_refusal::bad_address: return "bad_address";
    case reversal_refusal::declined: return "declined";
  }
  return "unknown";
}

result<std::unique_ptr<transport>> transport::create(asio::io_context& io,
                                                     const crypto::signing_key& key,
                                                     transport_options opts,
                                                     transport_callbacks callbacks) {
  if (opts.max_message_size < gossip::min_max_message_size
      || opts.max_message_size >= control_flag)
    return error{errc::invalid_argument, "max_message_size must be at least "
                                           + std::to_string(gossip::min_max_message_size)};
  if (opts.max_queued_messages == 0 || opts.max_queued_bytes < opts.max_message_size)
    return error{errc::invalid_argument, "send queue bounds must hold one message"};
  if (!opts.log)
    opts.log = stderr_log_sink();
  std::vector<std::string> alpns{opts.alpn};
  alpns.insert(alpns.end(), opts.alpn_compat.begin(), opts.alpn_compat.end());
  auto tls = tls_identity::create(key, std::move(alpns));
  if (!tls)
    return tls.err();
  auto p = std::make_shared<impl>(io, std::move(*tls),
                                  std::make_shared<const transport_options>(std::move(opts)),
                                  std::move(callbacks));
  auto st = p->listen();
  if (!st)
    return st.err();
  p->start();
  return std::unique_ptr<transport>(new transport(std::move(p)));
}

transport::transport(std::shared_ptr<impl> p) : impl_(std::move(p)) {}

transport::~transport() { shutdown(); }

const gossip::endpoint_id& transport::id() const noexcept { return impl_->id(); }

const std::vector<gossip::socket_address>& transport::local_addresses() const noexcept {
  return impl_->local();
}

uint32_t transport::max_message_size() const noexcept { return impl_->max_message_size(); }

void transport::add_topic(const gossip::topic_id& topic, const bytes32& membership_key) {
  asio::post(impl_->io(), [p = impl_, topic, membership_key] { p->add_topic(topic, membership_key); });
}

void transport::remove_topic(const gossip::topic_id& topic) {
  asio::post(impl_->io(), [p = impl_, topic] { p->remove_topic(topic); });
}

void transport::add_addresses(const gossip::endpoint_id& id,
                              std::vector<gossip::socket_address> addrs) {
  asio::post(impl_->io(), [p = impl_, id, a = std::move(addrs)] { p->add_addresses(id, a); });
}

namespace {

status check_outgoing(const gossip::endpoint_id& id, const gossip::shared_buffer& message,
                      const gossip::endpoint_id& me, uint32_t max_message_size,
                      bool admission) {
  if (!message)
    return error{errc::invalid_argument, "no message"};
  if (admission && message.size() < gossip::topic_id{}.size())
    return error{errc::invalid_argument, "a message under admission starts with its topic id"};
  if (message.size() > max_message_size)
    return error{errc::too_large, "message of " + std::to_string(message.size())
                                    + " bytes over the max message size of "
                                    + std::to_string(max_message_size)};
  if (id == me)
    return error{errc::invalid_argument, "cannot send to our own endpoint id"};
  return ok_status();
}

} // namespace

status transport::send(const gossip::endpoint_id& id, gossip::shared_buffer message) {
  auto ok = check_outgoing(id, message, impl_->id(), impl_->max_message_size(),
                           impl_->admission());
  if (!ok)
    return ok;
  impl_->backlog_->add(id, 1, message.size());
  asio::post(impl_->io(), [p = impl_, id, m = std::move(message)]() mutable {
    p->send(id, std::move(m));
  });
  return ok_status();
}

std::vector<std::pair<gossip::endpoint_id, error>> transport::send(std::vector<outgoing> batch) {
  std::vector<std::pair<gossip::endpoint_id, error>> refused;
  auto keep = std::remove_if(batch.begin(), batch.end(), [&](const outgoing& o) {
    auto ok = check_outgoing(o.to, o.message, impl_->id(), impl_->max_message_size(),
                             impl_->admission());
    if (!ok)
      refused.emplace_back(o.to, ok.err());
    return !ok;
  });
  batch.erase(keep, batch.end());
  impl_->backlog_->add(batch);
  if (!batch.empty())
    asio::post(impl_->io(), [p = impl_, b = std::move(batch)]() mutable { p->send_batch(b); });
  return refused;
}

void transport::close_when_flushed(const gossip::endpoint_id& id) {
  asio::post(impl_->io(), [p = impl_, id] { p->close_when_flushed(id); });
}

void transport::disconnect(const gossip::endpoint_id& id, std::string reason) {
  asio::post(impl_->io(), [p = impl_, id, r = std::move(reason)] { p->disconnect(id, r); });
}

void transport::shutdown() {
  if (impl_)
    asio::post(impl_->io(), [p = impl_] { p->shutdown(); });
}

bool transport::backlogged(size_t messages, size_t bytes) const {
  return impl_->backlog_->any_at_least(messages, bytes);
}

std::pair<size_t, size_t> transport::backlog_of(const gossip::endpoint_id& id) const {
  return impl_->backlog_->of(id);
}

transport_stats transport::stats() const {
  transport_stats s;
  s.links = impl_->links_up_;
  s.peers = impl_->peer_count_;
  s.messages_in = impl_->messages_in_;
  s.messages_out = impl_->messages_out_;
  s.slow_peers_dropped = impl_->slow_peers_dropped_;
  s.duplicates_retired = impl_->duplicates_retired_;
  s.links_renewed = impl_->links_renewed_;
  s.proofs_accepted = impl_->proofs_accepted_;
  s.proofs_refused = impl_->proofs_refused_;
  s.proofs_unknown_topic = impl_->proofs_unknown_topic_;
  s.early_messages = impl_->early_messages_;
  s.links_without_topic = impl_->links_without_topic_;
  s.proofs_unanswered = impl_->proofs_unanswered_;
  s.messages_not_member = impl_->messages_not_member_;
  s.refused_ip_handshakes = impl_->refused_ip_handshakes_;
  s.refused_ip_links = impl_->refused_ip_links_;
  s.refused_total_limits = impl_->refused_total_limits_;
  s.refused_held = impl_->refused_held_;
  s.pending_handshakes = impl_->pending_count_;
  for (size_t i = 0; i < handshake_failure_kinds; ++i)
    s.handshake_failures[i] = impl_->handshake_failures_[i];
  s.bytes_in = impl_->bytes_in_;
  s.bytes_out = impl_->bytes_out_;
  s.reversal_requests_sent = impl_->reversal_requests_sent_;
  s.reversal_requests_relayed = impl_->reversal_requests_relayed_;
  for (size_t i = 0; i < reversal_refusal_kinds; ++i) {
    s.reversal_requests_refused[i] = impl_->reversal_requests_refused_[i];
    s.reversal_notices_refused[i] = impl_->reversal_notices_refused_[i];
  }
  s.reversed_dials = impl_->reversed_dials_;
  s.dials_held_back = impl_->dials_held_back_;
  s.dials = impl_->dials_;
  s.links_reversed = impl_->links_reversed_;
  s.punch_hints_sent = impl_->punch_hints_sent_;
  s.punch_primers = impl_->punch_primers_;
  s.links_punched = impl_->links_punched_;
  s.relay_requests_sent = impl_->relay_requests_sent_;
  s.links_relayed = impl_->links_relayed_;
  s.relay_requests_carried = impl_->relay_requests_carried_;
  s.relay_requests_refused = impl_->relay_requests_refused_;
  s.relay_over_budget = impl_->relay_over_budget_;
  s.relay_bytes = impl_->relay_bytes_;
  s.relayed_carried = impl_->relayed_carried_;
  s.reversal_waits_expired = impl_->reversal_waits_expired_;
  return s;
}

std::optional<link_info> transport::link_of(const gossip::endpoint_id& id) const {
  return impl_->link_of(id);
}

} // namespace dtt::net
