#include "gossip/transport/relay_pipe.hpp"

#include <boost/asio/write.hpp>

#include <cstring>

#include <sys/socket.h>
#include <unistd.h>

namespace dtt::net {

namespace asio = boost::asio;

namespace {
// The smallest read worth a wait for the pacer: a TLS record header and some of its body.
constexpr size_t min_read = 1024;
} // namespace

relay_pipe::relay_pipe(asio::io_context& io, double rate, double burst)
  : sock_(io), timer_(io), pacer_(rate, burst, relay_clock::now()) {}

result<std::shared_ptr<relay_pipe>> relay_pipe::create(asio::io_context& io, tcp::socket& inner,
                                                       double rate, double burst) {
  // A UNIX stream socket pair, held as TCP sockets: asio reads and writes them alike, and
  // nothing of TCP is asked of them but send and receive (no port, no loopback interface
  // needed, which a network namespace may lack). The connection's remote() is set by the
  // transport (connection::set_remote).
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    return error{errc::io_error, std::string("socketpair failed: ") + std::strerror(errno)};
  auto p = std::make_shared<relay_pipe>(io, rate, burst);
  boost::system::error_code ec;
  p->sock_.assign(tcp::v4(), fds[0], ec);
  if (ec) {
    ::close(fds[0]);
    ::close(fds[1]);
    return error{errc::io_error, "relay pipe: " + ec.message()};
  }
  inner.close(ec);
  inner.assign(tcp::v4(), fds[1], ec);
  if (ec) {
    ::close(fds[1]);
    return error{errc::io_error, "relay pipe: " + ec.message()};
  }
  return p;
}

void relay_pipe::start(hooks h) {
  hooks_ = std::move(h);
  read();
}

void relay_pipe::read() {
  if (closed_)
    return;
  auto now = relay_clock::now();
  size_t room = std::min(pacer_.available(now), rbuf_.size());
  if (room < min_read) {
    // Over the budget for now: read again when min_read bytes may go.
    timer_.expires_at(pacer_.when(min_read, now));
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec)
        self->read();
    });
    return;
  }
  sock_.async_read_some(asio::buffer(rbuf_.data(), room),
                        [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
                          if (self->closed_)
                            return;
                          if (ec) {
                            self->end(ec == asio::error::eof ? "the link closed"
                                                             : "read failed: " + ec.message());
                            return;
                          }
                          self->pacer_.take(n, relay_clock::now());
                          self->sent_ += n;
                          if (!self->hooks_.send || !self->hooks_.send({self->rbuf_.data(), n})) {
                            self->end("the link to the relay cannot take more");
                            return;
                          }
                          self->read();
                        });
}

bool relay_pipe::deliver(byte_view chunk) {
  if (closed_)
    return false;
  if (waiting_bytes_ + chunk.size() > max_waiting) {
    close();
    return false;
  }
  waiting_.emplace_back(chunk.begin(), chunk.end());
  waiting_bytes_ += chunk.size();
  write();
  return true;
}

void relay_pipe::write() {
  if (writing_ || closed_ || waiting_.empty())
    return;
  writing_ = true;
  asio::async_write(sock_, asio::buffer(waiting_.front()),
                    [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
                      self->writing_ = false;
                      if (self->closed_)
                        return;
                      if (ec) {
                        self->end("write failed: " + ec.message());
                        return;
                      }
                      self->delivered_ += n;
                      self->waiting_bytes_ -= self->waiting_.front().size();
                      self->waiting_.pop_front();
                      self->write();
                    });
}

void relay_pipe::end(const std::string& why) {
  if (closed_)
    return;
  close();
  if (auto f = std::move(hooks_.ended))
    f(why);
}

void relay_pipe::close() {
  if (closed_)
    return;
  closed_ = true;
  timer_.cancel();
  boost::system::error_code ec;
  sock_.close(ec);
  waiting_.clear();
  waiting_bytes_ = 0;
  hooks_.send = nullptr;
}

} // namespace dtt::net
