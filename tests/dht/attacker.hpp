#pragma once
// A UDP socket on one address that claims many node ids (tests and benches only): it sends one
// well-formed find_node query per id to every victim, and optionally answers every query the
// victims send it, under the id it last claimed to that victim.

#include "dht/krpc.hpp"
#include "sim.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <thread>
#include <vector>

namespace dtt::dht::test {

/// An IPv4 endpoint as Boost.Asio spells it.
inline boost::asio::ip::udp::endpoint udp_of(const endpoint& ep) {
  boost::asio::ip::address_v4::bytes_type b;
  std::copy(ep.ip.begin(), ep.ip.begin() + 4, b.begin());
  return {boost::asio::ip::address_v4(b), ep.port};
}

/// An IPv4 Boost.Asio endpoint as dht::endpoint.
inline endpoint endpoint_of(const boost::asio::ip::udp::endpoint& ep) {
  auto b = ep.address().to_v4().to_bytes();
  return endpoint::v4(b[0], b[1], b[2], b[3], ep.port());
}

/// The attacker (its own thread, stopped and joined
/// by its destructor).
class attacker {
public:
  attacker(const std::string& address, std::vector<endpoint> victims, size_t ids, bool answer)
      : sock_(io_, boost::asio::ip::udp::endpoint(boost::asio::ip::make_address(address), 0)),
        victims_(std::move(victims)), ids_(ids), answer_(answer) {
    sock_.non_blocking(true);
    thread_ = std::thread([this] { run(); });
  }
  ~attacker() {
    stop_ = true;
    thread_.join();
  }
  /// The attacker's address.
  endpoint address() const { return endpoint_of(sock_.local_endpoint()); }
  /// True once every id was sent to every victim.
  bool flooded() const { return flooded_; }
  /// Waits (at most `limit`) until flooded().
  bool wait_flooded(std::chrono::milliseconds limit) const {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!flooded_ && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return flooded_;
  }
  /// Queries sent and answers given so far.
  size_t sent() const { return sent_; }
  size_t answered() const { return answered_; }

private:
  void send(const endpoint& to, const krpc::message& m) {
    auto out = krpc::encode(m);
    boost::system::error_code ec;
    sock_.send_to(boost::asio::buffer(out), udp_of(to), 0, ec);
  }
  void drain() {
    std::array<uint8_t, 4096> buf{};
    for (int i = 0; i < 1000; ++i) {
      boost::asio::ip::udp::endpoint from;
      boost::system::error_code ec;
      auto n = sock_.receive_from(boost::asio::buffer(buf), from, 0, ec);
      if (ec)
        return;
      auto m = krpc::decode(byte_view(buf.data(), n));
      if (!answer_ || !m || m->y != krpc::message::type::query)
        continue;
      auto src = endpoint_of(from);
      auto it = claimed_.find(src);
      krpc::response r;
      r.id = it != claimed_.end() ? it->second : random_id(rng_);
      send(src, krpc::make_response(m->tid, r));
      ++answered_;
    }
  }
  void run() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (size_t i = 0; i < ids_ && !stop_ && std::chrono::steady_clock::now() < deadline; ++i) {
      auto id = random_id(rng_);
      krpc::query q; // one packet per id, sent to every victim (cheap under sanitizers too)
      q.m = krpc::method::find_node;
      q.id = id;
      q.target = random_id(rng_);
      auto packet = krpc::encode(krpc::make_query("aa", q));
      for (auto& v : victims_) {
        claimed_[v] = id;
        boost::system::error_code ec;
        sock_.send_to(boost::asio::buffer(packet), udp_of(v), 0, ec);
        ++sent_;
      }
      if (i % 50 == 49) {
        drain();
        // Paced so that the victims' socket buffers keep up.
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
    flooded_ = true;
    while (!stop_ && std::chrono::steady_clock::now() < deadline) {
      drain();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  boost::asio::io_context io_;
  boost::asio::ip::udp::socket sock_;
  std::vector<endpoint> victims_;
  size_t ids_;
  bool answer_;
  seeded_random rng_{0xa77ac};
  std::map<endpoint, node_id> claimed_;
  std::atomic<bool> stop_{false}, flooded_{false};
  std::atomic<size_t> sent_{0}, answered_{0};
  std::thread thread_;
};

} // namespace dtt::dht::test
