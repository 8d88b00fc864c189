#include "gossip/transport/connection.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>

namespace dtt::net {

namespace asio = boost::asio;

namespace {
// Largest batch of frames handed to one TLS write (a few TLS records).
constexpr size_t write_batch_bytes = 64 * 1024;

using gossip::short_id;

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

void connection::arm_deadline(std::chrono::milliseconds d, const char* what) {
  timer_.expires_after(d);
  timer_.async_wait([self = shared_from_this(), what](const boost::system::error_code& ec) {
    if (ec || self->closed_ || self->established_)
      return;
    self->close(std::string(what) + " timeout");
  });
}

void connection::start_outbound(const gossip::endpoint_id& expected,
                                std::vector<tcp::endpoint> addrs) {
  peer_ = expected;
  verification_.expected = expected;
  if (addrs.empty()) {
    close("no address to dial");
    return;
  }
  arm_deadline(opts_->dial_timeout, "dial");
  auto self = shared_from_this();
  asio::async_connect(socket(), addrs,
                      [self](const boost::system::error_code& ec, const tcp::endpoint& ep) {
                        if (self->closed_)
                          return;
                        if (ec) {
                          self->close("dial failed: " + ec.message());
                          return;
                        }
                        self->remote_ = ep;
                        self->on_connected();
                      });
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
      close("certificate refused: " + verification_.failure, false, log_level::warn);
    else
      close("TLS handshake failed: " + ec.message());
    return;
  }
  if (!verification_.presented) {
    close("TLS handshake completed without a checked peer certificate");
    return;
  }
  if (!tls_->alpn_agreed(stream_.native_handle())) {
    close("peer did not agree on ALPN " + tls_->alpn(), false, log_level::warn);
    return;
  }
  peer_ = *verification_.presented;
  established_ = true;
  last_read_ = last_write_ = clock::now();
  timer_.cancel();
  arm_tick();
  read();
  if (owner_)
    owner_->on_established(shared_from_this());
}

void connection::arm_tick() {
  auto period = std::min(opts_->keepalive_interval, opts_->idle_timeout / 2);
  period = std::min(period, opts_->drain_timeout);
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
      // The messages of one read go up as one batch (one hand-off per read, not per frame);
      // a control frame first hands up the messages before it, to keep the order.
      std::vector<bytes> batch;
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
          if (f.code == control::goodbye && !self->goodbye_received_) {
            self->goodbye_received_ = true;
            if (self->owner_)
              self->owner_->on_goodbye(*self);
            if (!self->closed_ && self->goodbye_written_)
              self->close("duplicate connection retired", true);
          }
        } else if (self->goodbye_received_) {
          self->close("message after goodbye", false, log_level::warn);
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
  if (queue_ && !goodbye_pending_) {
    auto& q = *queue_;
    while (!q.messages.empty() && wbuf_.size() < write_batch_bytes) {
      append_frame(wbuf_, *q.messages.front());
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
                    [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                      self->writing_ = false;
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
                          self->close("duplicate connection retired", true);
                          return;
                        }
                      }
                      self->pump();
                    });
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
