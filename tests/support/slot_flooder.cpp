#include "support/slot_flooder.hpp"

#include "crypto/encrypted_record.hpp"
#include "crypto/keys.hpp"
#include "crypto/record.hpp"

#include <boost/asio/post.hpp>

#include <future>

namespace dtt::test {

slot_flooder::slot_flooder(std::vector<std::string> bootstrap, std::string topic_name,
                           std::chrono::milliseconds period, const crypto::wall_clock& clock)
  : bootstrap_(std::move(bootstrap)), topic_(std::move(topic_name)), period_(period),
    clock_(&clock) {}

slot_flooder::~slot_flooder() { stop(); }

status slot_flooder::start() {
  dht::udp_node_options o;
  o.bind_address = "127.0.0.1";
  o.node.read_only = true;
  o.bootstrap = bootstrap_;
  auto n = dht::udp_node::create(io_, o);
  if (!n)
    return n.err();
  node_ = *n;
  timer_ = std::make_unique<boost::asio::steady_timer>(io_);
  started_ = true;
  boost::asio::post(io_, [this] {
    node_->start();
    tick();
  });
  thread_ = std::thread([this] { io_.run(); });
  return ok_status();
}

void slot_flooder::stop() {
  if (!started_)
    return;
  started_ = false;
  std::promise<void> done;
  boost::asio::post(io_, [&] {
    timer_->cancel();
    node_->stop();
    done.set_value();
  });
  done.get_future().wait();
  io_.stop();
  thread_.join();
}

void slot_flooder::tick() {
  auto topic = crypto::topic_id::from_name(topic_);
  auto now = crypto::unix_minute(*clock_).value_or(1);
  // Junk: a record of this topic by a throw-away key, sealed to a throw-away encryption key.
  auto junk_key = crypto::signing_key::generate();
  auto junk_enc = crypto::signing_key::generate();
  for (uint64_t m : {now, now - 1}) {
    if (in_flight_ >= 8) // do not pile up puts on a slow machine
      break;
    auto rec = crypto::record::sign(topic.hash(), m, bytes(320, 0x6a), junk_key);
    auto sealed = crypto::encrypted_record::seal(rec, junk_enc.public_key_bytes(),
                                                 crypto::os_random());
    if (!sealed)
      continue;
    auto value = sealed->to_bytes();
    if (!value)
      continue;
    auto s = crypto::salt(topic, m);
    auto item = dht::mutable_item::sign(crypto::signing_keypair(topic, m),
                                        bytes(s.begin(), s.end()), INT64_MAX, std::move(*value));
    ++sent_;
    ++in_flight_;
    node_->put_mutable(item, std::nullopt, [this](const dht::completion& c) {
      stored_ += c.put.stored;
      --in_flight_;
    });
  }
  timer_->expires_after(period_);
  timer_->async_wait([this](const boost::system::error_code& ec) {
    if (!ec && started_)
      tick();
  });
}

} // namespace dtt::test
