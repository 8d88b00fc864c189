#include "gossip/transport/connection.hpp"

#include "crypto/membership.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>

namespace dtt::net {

namespace asio = boost::asio;

namespace {
// Largest batch of frames handed to one TLS write (a few TLS records).
constexpr size_t write_batch_bytes = 64 * 1024;

using gossip::short_id;

// At most this many proofs for topics we are not a member of, per link, before it is closed.
constexpr size_t max_unknown_admits = 16;

gossip::topic_id topic_of(byte_view message) {
  gossip::topic_id t{};
  std::copy(message.begin(), message.begin() + t.size(), t.begin());
  return t;
}

std::string endpoint_text(const asio::ip::tcp::endpoint& ep) {
  auto a = ep.address();
  return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":"
         + std::to_string(ep.port());
}
} // namespace

connection::connection(asio::io_context& io, std::shared_ptr<tls_identity> tls,
                       std::shared_ptr<const transport_options> opts,
                       std::shared_ptr<connection_owner> owner, bool outbound, uint64_t serial)
  : tls_(std::move(tls)),
    opts_(std::move(opts)),
    owner_(std::move(owner)),
    stream_(io, tls_->context()),
    timer_(io),
    outbound_(outbound),
    serial_(serial),
    decoder_(opts_->max_message_size) {
  tls_identity::attach_verification(stream_.native_handle(), &verification_);
}

std::string connection::describe() const {
  std::string out = outbound_ ? "outbound #" : "inbound #";
  out += std::to_string(serial_);
  if (remote_.port() != 0)
    out += " " + endpoint_text(remote_);
  if (peer_)
    out += " peer " + short_id(*peer_);
  return out;
}

const char* handshake_failure_name(handshake_failure f) noexcept {
  switch (f) {
    case handshake_failure::dial: return "dial";
    case handshake_failure::timeout: return "timeout";
    case handshake_failure::tls: return "tls";
    case handshake_failure::certificate: return "certificate";
    case handshake_failure::alpn: return "alpn";
    case handshake_failure::own_key: return "own_key";
  }
  return "unknown";
}

const char* link_method_name(link_method m) noexcept {
  switch (m) {
    case link_method::reversed: return "reversed";
    case link_method::punched: return "punched";
    case link_method::relayed: return "relayed";
    case link_method::direct: break;
  }
  return "direct";
}

void connection::fail(handshake_failure why, const std::string& reason, log_level level) {
  if (closed_)
    return;
  failure_ = why;
  if (owner_)
    owner_->on_handshake_failed(*this, why);
  close(reason, false, level);
}

void connection::arm_deadline(std::chrono::milliseconds d, const char* what) {
  timer_.expires_after(d);
  timer_.async_wait([self = shared_from_this(), what](const boost::system::error_code& ec) {
    if (ec || self->closed_ || self->established_)
      return;
    self->fail(handshake_failure::timeout, std::string(what) + " timeout");
  });
}

boost::system::error_code open_bound(asio::ip::tcp::socket& s,
                                     const asio::ip::tcp::endpoint& local) {
  using tcp = asio::ip::tcp;
  boost::system::error_code ec, ignored;
  s.open(local.protocol(), ec);
  if (!ec)
    s.set_option(tcp::socket::reuse_address(true), ec);
  if (!ec)
    s.set_option(reuse_port(true), ec);
  if (!ec)
    s.bind(local, ec);
  if (ec)
    s.close(ignored);
  return ec;
}

void connection::start_outbound(const gossip::endpoint_id& expected,
                                std::vector<tcp::endpoint> addrs) {
  peer_ = expected;
  verification_.expected = expected;
  if (addrs.empty()) {
    fail(handshake_failure::dial, "no address to dial");
    return;
  }
  arm_deadline(opts_->dial_timeout, "dial");
  auto self = shared_from_this();
  asio::async_connect(socket(), addrs,
                      [self](const boost::system::error_code& ec, const tcp::endpoint& ep) {
                        if (self->closed_)
                          return;
                        if (ec) {
                          self->fail(handshake_failure::dial, "dial failed: " + ec.message());
                          return;
                        }
                        self->remote_ = ep;
                        self->on_connected();
                      });
}

void connection::start_connected(const gossip::endpoint_id& expected) {
  peer_ = expected;
  verification_.expected = expected;
  boost::system::error_code ec;
  remote_ = socket().remote_endpoint(ec);
  on_connected();
}

void connection::on_connected() {
  boost::system::error_code ec;
  socket().set_option(tcp::no_delay(true), ec);
  arm_deadline(opts_->handshake_timeout, "TLS handshake");
  tls_->prepare_client(stream_.native_handle());
  stream_.async_handshake(asio::ssl::stream_base::client,
                          [self = shared_from_this()](const boost::system::error_code& ec) {
                            self->on_handshake(ec);
                          });
}

void connection::start_inbound() {
  boost::system::error_code ec;
  remote_ = socket().remote_endpoint(ec);
  socket().set_option(tcp::no_delay(true), ec);
  arm_deadline(opts_->handshake_timeout, "TLS handshake");
  stream_.async_handshake(asio::ssl::stream_base::server,
                          [self = shared_from_this()](const boost::system::error_code& ec) {
                            self->on_handshake(ec);
                          });
}

void connection::on_handshake(const boost::system::error_code& ec) {
  if (closed_)
    return;
  if (ec) {
    if (!verification_.failure.empty())
      fail(handshake_failure::certificate, "certificate refused: " + verification_.failure,
           log_level::warn);
    else
      fail(handshake_failure::tls, "TLS handshake failed: " + ec.message());
    return;
  }
  if (!verification_.presented) {
    fail(handshake_failure::certificate,
         "TLS handshake completed without a checked peer certificate");
    return;
  }
  auto alpn = tls_->alpn_agreed(stream_.native_handle());
  if (!alpn) {
    fail(handshake_failure::alpn, "peer did not agree on ALPN " + tls_->alpn(),
         log_level::warn);
    return;
  }
  speaks_current_ = *alpn == 0;
  peer_ = *verification_.presented;
  if (SSL_export_keying_material(stream_.native_handle(), exporter_.data(), exporter_.size(),
                                 crypto::admission_exporter_label.data(),
                                 crypto::admission_exporter_label.size(), nullptr, 0, 0)
      != 1) {
    fail(handshake_failure::tls, "TLS exporter failed");
    return;
  }
  established_ = true;
  last_read_ = last_write_ = established_at_ = clock::now();
  up_since_ = std::chrono::system_clock::now();
  timer_.cancel();
  arm_tick();
  read();
  if (owner_)
    owner_->on_established(shared_from_this());
}

void connection::arm_tick() {
  auto period = std::min(opts_->keepalive_interval, opts_->idle_timeout / 2);
  period = std::min(period, opts_->drain_timeout);
  if (opts_->require_admission)
    period = std::min(period, opts_->admission_timeout / 2);
  period = std::max(period, std::chrono::milliseconds{10});
  timer_.expires_after(period);
  timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || self->closed_)
      return;
    self->on_tick();
  });
}

void connection::on_tick() {
  auto now = clock::now();
  if (now - last_read_ >= opts_->idle_timeout) {
    close("idle timeout (nothing read for "
          + std::to_string(opts_->idle_timeout.count()) + " ms)");
    return;
  }
  if (goodbye_pending_ && now - goodbye_at_ >= opts_->drain_timeout) {
    close("peer did not answer goodbye within the drain timeout", true);
    return;
  }
  if (opts_->require_admission && writable()) {
    auto ms = std::to_string(opts_->admission_timeout.count());
    if (peer_proven_.empty() && now - established_at_ >= opts_->admission_timeout) {
      if (owner_)
        owner_->on_admission(*this, admission_event::no_topic, {});
      close("no topic proven within " + ms + " ms");
      return;
    }
    if (blocked_on_ && now - blocked_since_ >= opts_->admission_timeout) {
      auto t = *blocked_on_;
      if (owner_)
        owner_->on_admission(*this, admission_event::unanswered, t);
      close("peer did not prove membership of topic " + short_id(t) + " within " + ms + " ms");
      return;
    }
  }
  if (!goodbye_pending_ && !writing_ && now - last_write_ >= opts_->keepalive_interval) {
    ping_pending_ = true;
    pump();
  }
  arm_tick();
}

void connection::read() {
  stream_.async_read_some(
    asio::buffer(rbuf_),
    [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
      if (self->closed_)
        return;
      if (ec) {
        if (self->goodbye_received_)
          self->close("closed after goodbye", true);
        else
          self->close(ec == asio::error::eof ? std::string("peer closed the connection")
                                             : "read failed: " + ec.message());
        return;
      }
      self->last_read_ = clock::now();
      self->bytes_in_ += n;
      if (self->owner_)
        self->owner_->on_traffic(*self, n, 0);
      // The messages of one read go up as one batch (one hand-off per read, not per frame);
      // a control frame first hands up the messages before it, to keep the order.
      std::vector<gossip::shared_buffer> batch;
      batch.reserve(std::min<size_t>(n / 512 + 1, 64)); // a guess (grows past it if wrong)
      auto hand_up = [&] {
        if (!batch.empty() && self->owner_ && !self->closed_)
          self->owner_->on_messages(*self, std::move(batch));
        batch.clear();
      };
      auto st = self->decoder_.feed(byte_view{self->rbuf_.data(), n}, [&](frame&& f) {
        if (f.is_control) {
          hand_up();
          if (self->closed_)
            return false;
          if (f.code == control::admit)
            return self->on_admit(f.message);
          if (f.code == control::reversal_request || f.code == control::reversal_notice
              || f.code == control::reversal_notice6 || f.code == control::punch_hint
              || f.code == control::punch_hint6) {
            // Only a peer that negotiated our preferred ALPN may send these (frame.hpp).
            if (!self->speaks_current_) {
              self->close("reversal frame on a link of an older protocol", false,
                          log_level::warn);
              return false;
            }
            if (self->owner_)
              self->owner_->on_reversal(*self, f.code, f.message);
            return !self->closed_;
          }
          if (f.code == control::relay) {
            if (!self->speaks_current_) {
              self->close("relay frame on a link of an older protocol", false, log_level::warn);
              return false;
            }
            if (self->owner_)
              self->owner_->on_relay(*self, f.message);
            return !self->closed_;
          }
          if (f.code == control::goodbye && !self->goodbye_received_) {
            self->goodbye_received_ = true;
            self->peer_said_goodbye_first_ = !self->goodbye_pending_;
            if (self->owner_)
              self->owner_->on_goodbye(*self);
            if (!self->closed_ && self->goodbye_written_)
              self->close(self->goodbye_close_reason(), true);
          }
        } else if (self->goodbye_received_) {
          self->close("message after goodbye", false, log_level::warn);
        } else if (self->opts_->require_admission
                   && (f.message.size() < gossip::topic_id{}.size()
                       || !self->proven_by_peer(topic_of(f.message)))) {
          hand_up();
          if (self->closed_)
            return false;
          if (f.message.size() < gossip::topic_id{}.size()) {
            self->close("message shorter than a topic id", false, log_level::warn);
          } else {
            auto t = topic_of(f.message);
            if (self->owner_)
              self->owner_->on_admission(*self, admission_event::early_message, t);
            self->close("message for topic " + short_id(t) + " before its proof of membership",
                        false, log_level::warn);
          }
        } else {
          batch.push_back(std::move(f.message));
        }
        return !self->closed_;
      });
      hand_up();
      if (self->closed_)
        return;
      if (!st) {
        self->close(st.err().what, false, log_level::warn);
        return;
      }
      self->read();
    });
}

void connection::attach_queue(std::shared_ptr<send_queue> q) {
  queue_ = std::move(q);
  pump();
}

// Why a link closed after both goodbyes crossed, for the log: the peer asked first, we were
// asked to close it (finish), or we retired it as a duplicate.
const char* connection::goodbye_close_reason() const noexcept {
  if (peer_said_goodbye_first_)
    return "goodbye exchanged: the peer closed the link";
  return finish_ ? "goodbye exchanged: closed on request" : "goodbye exchanged: duplicate link retired";
}

void connection::say_goodbye() {
  if (goodbye_pending_ || closed_)
    return;
  goodbye_pending_ = true;
  goodbye_at_ = clock::now();
  queue_.reset();
  pump();
}

void connection::pump() {
  if (closed_ || !established_ || writing_)
    return;
  wbuf_.clear();
  if (ping_pending_) {
    append_control(wbuf_, control::keepalive);
    ping_pending_ = false;
  }
  if (!controls_out_.empty()) {
    append(wbuf_, controls_out_);
    controls_out_.clear();
  }
  if (!relay_out_.empty()) {
    append(wbuf_, relay_out_);
    relay_out_.clear();
  }
  if (queue_ && !goodbye_pending_) {
    auto& q = *queue_;
    while (!q.messages.empty() && wbuf_.size() < write_batch_bytes) {
      if (opts_->require_admission) {
        auto g = outbound_gate(q.messages.front());
        if (g == gate::wait)
          break;
        if (g == gate::drop) {
          q.pop_front();
          continue;
        }
      }
      append_frame(wbuf_, q.messages.front());
      q.pop_front();
    }
    q.settle();
  }
  if (finish_ && !goodbye_pending_ && (!queue_ || queue_->messages.empty())) {
    goodbye_pending_ = true;
    goodbye_at_ = clock::now();
    queue_.reset();
  }
  if (goodbye_pending_ && !goodbye_written_ && !goodbye_in_flight_) {
    append_control(wbuf_, control::goodbye);
    goodbye_in_flight_ = true;
  }
  if (wbuf_.empty())
    return;
  writing_ = true;
  asio::async_write(stream_, asio::buffer(wbuf_),
                    [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
                      self->writing_ = false;
                      self->bytes_out_ += n;
                      if (self->owner_ && n > 0)
                        self->owner_->on_traffic(*self, 0, n);
                      if (self->closed_)
                        return;
                      if (ec) {
                        self->close("write failed: " + ec.message());
                        return;
                      }
                      self->last_write_ = clock::now();
                      if (self->goodbye_in_flight_) {
                        self->goodbye_in_flight_ = false;
                        self->goodbye_written_ = true;
                        if (self->goodbye_received_) {
                          self->close(self->goodbye_close_reason(), true);
                          return;
                        }
                      }
                      self->pump();
                    });
}

bool connection::proven_by_peer(const gossip::topic_id& t) const {
  return std::find(peer_proven_.begin(), peer_proven_.end(), t) != peer_proven_.end();
}

void connection::send_proof(const gossip::topic_id& t, const bytes32& key) {
  we_proved_.push_back(t);
  crypto::admission a{t, crypto::admission_proof(key, exporter_, tls_->id(), *peer_, t)};
  append_admit(controls_out_, crypto::encode_admission(a));
}

// A message may go out once the peer proved its topic here. Until then our own proof goes out
// (once) and the queue waits for the peer's; a message of a topic we left is dropped.
connection::gate connection::outbound_gate(byte_view message) {
  auto t = topic_of(message); // transport::send refuses messages shorter than a topic id
  if (proven_by_peer(t))
    return gate::pass;
  if (std::find(we_proved_.begin(), we_proved_.end(), t) == we_proved_.end()) {
    auto* key = owner_ ? owner_->membership_key(t) : nullptr;
    if (!key) {
      if (owner_)
        owner_->on_admission(*this, admission_event::not_member, t);
      return gate::drop;
    }
    send_proof(t, *key);
    append(wbuf_, controls_out_);
    controls_out_.clear();
  }
  if (!blocked_on_ || *blocked_on_ != t) {
    blocked_on_ = t;
    blocked_since_ = clock::now();
  }
  return gate::wait;
}

// An admit frame from the peer: check its proof against our key for the topic. False if the
// link was closed.
bool connection::on_admit(byte_view body) {
  auto a = crypto::decode_admission(body);
  if (!a) { // the frame decoder fixes the body size, so this does not happen
    close("bad admit frame: " + a.err().what, false, log_level::warn);
    return false;
  }
  if (!opts_->require_admission || proven_by_peer(a->topic_id))
    return true;
  auto* key = owner_ ? owner_->membership_key(a->topic_id) : nullptr;
  if (!key) {
    if (owner_)
      owner_->on_admission(*this, admission_event::unknown_topic, a->topic_id);
    if (++unknown_admits_ > max_unknown_admits) {
      close("too many proofs for topics we are not a member of", false, log_level::warn);
      return false;
    }
    return true;
  }
  if (!crypto::check_admission_proof(*key, exporter_, *peer_, tls_->id(), a->topic_id,
                                     a->proof)) {
    if (owner_)
      owner_->on_admission(*this, admission_event::bad_proof, a->topic_id);
    close("bad proof of membership for topic " + short_id(a->topic_id), false, log_level::warn);
    return false;
  }
  peer_proven_.push_back(a->topic_id);
  if (owner_)
    owner_->on_admission(*this, admission_event::accepted, a->topic_id);
  if (!goodbye_pending_
      && std::find(we_proved_.begin(), we_proved_.end(), a->topic_id) == we_proved_.end())
    send_proof(a->topic_id, *key);
  if (blocked_on_ && *blocked_on_ == a->topic_id)
    blocked_on_.reset();
  pump();
  return !closed_;
}

bool connection::send_control(control c, byte_view body) {
  // A few control frames at most wait at once; more means the peer does not read.
  constexpr size_t max_controls_out = 1024;
  if (!established_ || closed_ || controls_out_.size() + 4 + body.size() > max_controls_out)
    return false;
  append_control(controls_out_, c, body);
  pump();
  return true;
}

bool connection::send_relay(byte_view body) {
  if (!writable() || relay_out_.size() + 4 + body.size() > max_relay_out
      || !control_body_fits(control::relay, body.size()))
    return false;
  append_control(relay_out_, control::relay, body);
  pump();
  return true;
}

void connection::close(const std::string& reason, bool clean, log_level level) {
  if (closed_)
    return;
  closed_ = true;
  timer_.cancel();
  boost::system::error_code ec;
  socket().close(ec);
  queue_.reset();
  auto owner = std::move(owner_);
  if (owner)
    owner->on_closed(*this, reason, clean, level);
}

} // namespace dtt::net
