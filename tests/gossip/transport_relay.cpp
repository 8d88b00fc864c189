// Relayed links, the part without I/O (gossip/transport/relay.hpp): the wire, R's table with
// its bounds, byte budget and idle expiry, and the pacer the endpoints use (wired into the
// transport: tests/gossip/transport_reversal.cpp).
#include "gossip/transport/relay.hpp"

#include "effects_inspect.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <set>

using namespace dtt;
using namespace dtt::net;
using namespace std::chrono_literals;

namespace {

using gossip::test::id_of;
const auto id = id_of; // an endpoint id whose first byte is n

const relay_clock::time_point t0{std::chrono::seconds(1000)};

// The default bounds with a byte budget of `rate` bytes per second and bursts of `burst`.
relay_table::config budget(double rate, double burst) {
  relay_table::config cfg;
  cfg.bytes_per_second = rate;
  cfg.burst_bytes = burst;
  return cfg;
}

} // namespace

TEST_CASE("relay wire: every frame round-trips and hostile bodies are malformed") {
  auto o = encode(relay_open{7, id(2)});
  REQUIRE(o);
  CHECK(o->size() == 37);
  auto od = decode_relay_open(*o);
  REQUIRE(od);
  CHECK(od->channel == 7);
  CHECK(od->target == id(2));
  auto i = encode(relay_incoming{9, id(1)});
  REQUIRE(i);
  auto id_ = decode_relay_incoming(*i);
  REQUIRE(id_);
  CHECK(id_->requester == id(1));
  // An open is not an incoming, and neither takes a number with the reply bit.
  CHECK_FALSE(decode_relay_incoming(*o));
  CHECK_FALSE(decode_relay_open(*i));
  CHECK(encode(relay_open{relay_reply_bit | 1, id(2)}).err().code == errc::invalid_argument);
  bytes bad = *o;
  bad[1] |= 0x80;
  CHECK(decode_relay_open(bad).err().code == errc::malformed);
  for (size_t n : {size_t(0), size_t(5), size_t(36), size_t(38)}) {
    bytes b(n, 0);
    if (n > 0)
      b[0] = 1;
    CHECK(decode_relay_open(b).err().code == errc::malformed);
  }
  // Data: 1..max_relay_chunk bytes, any number (the reply bit is the sender's business).
  bytes chunk(max_relay_chunk, 0xab);
  auto d = encode_relay_data(relay_reply_bit | 3, chunk);
  REQUIRE(d);
  auto dd = decode_relay_data(*d);
  REQUIRE(dd);
  CHECK(dd->channel == (relay_reply_bit | 3));
  CHECK(dd->chunk.size() == max_relay_chunk);
  CHECK(dd->chunk[0] == 0xab);
  CHECK(encode_relay_data(3, {}).err().code == errc::invalid_argument);
  bytes over(max_relay_chunk + 1, 0);
  CHECK(encode_relay_data(3, over).err().code == errc::invalid_argument);
  bytes long_body = *d;
  long_body.push_back(0);
  CHECK(decode_relay_data(long_body).err().code == errc::malformed);
  CHECK(decode_relay_data(bytes{3, 0, 0, 0, 3}).err().code == errc::malformed); // no data
  // Close: a known reason only.
  auto c = encode(relay_close{relay_reply_bit | 4, relay_close_reason::over_budget});
  CHECK(c.size() == 6);
  auto cd = decode_relay_close(c);
  REQUIRE(cd);
  CHECK(cd->reason == relay_close_reason::over_budget);
  CHECK(cd->channel == (relay_reply_bit | 4));
  c[5] = 8;
  CHECK(decode_relay_close(c).err().code == errc::malformed);
  CHECK(std::string(to_string(static_cast<relay_close_reason>(200))) == "unknown");
}

TEST_CASE("relay table: a relayed link forwards both ways with the reply bit, and closes once") {
  relay_table r;
  const auto R = id(9), A = id(1), B = id(2);
  auto [inc, why] = r.on_open(A, relay_open{5, B}, true, R, t0);
  REQUIRE(inc);
  CHECK(why == relay_close_reason::done);
  CHECK(inc->requester == A);
  CHECK((inc->channel & relay_reply_bit) == 0);
  const uint32_t m = inc->channel;
  CHECK(r.size() == 1);
  // A -> B: A's frames carry 5; R sends them to B with its own number m.
  auto v = r.on_data(A, 5, 100, t0);
  REQUIRE(v.forward);
  CHECK(v.forward->peer == B);
  CHECK(v.forward->number == m);
  // B -> A: B's frames carry m | bit; R sends them to A with 5 | bit.
  v = r.on_data(B, m | relay_reply_bit, 200, t0);
  REQUIRE(v.forward);
  CHECK(v.forward->peer == A);
  CHECK(v.forward->number == (5 | relay_reply_bit));
  CHECK(r.bytes_relayed() == 300);
  // Numbers without their bit, or from a third peer, name nothing.
  CHECK(r.on_data(B, m, 10, t0).close == relay_close_reason::unknown_channel);
  CHECK(r.on_data(A, 5 | relay_reply_bit, 10, t0).close == relay_close_reason::unknown_channel);
  CHECK(r.on_data(id(3), 5, 10, t0).close == relay_close_reason::unknown_channel);
  // A close from B reaches A; the link is gone, a second close finds nothing.
  auto other = r.on_close(B, m | relay_reply_bit);
  REQUIRE(other);
  CHECK(other->peer == A);
  CHECK(other->number == (5 | relay_reply_bit));
  CHECK(r.size() == 0);
  CHECK_FALSE(r.on_close(A, 5));
  CHECK(r.on_data(A, 5, 10, t0).close == relay_close_reason::unknown_channel);
}

TEST_CASE("relay table: refusals, and the bounds on relayed links") {
  relay_table::config cfg;
  cfg.max_channels = 4;
  cfg.max_per_requester = 2;
  cfg.max_per_target = 3;
  relay_table r(cfg);
  const auto R = id(9);
  CHECK(r.on_open(id(1), {1, id(1)}, true, R, t0).second == relay_close_reason::self_target);
  CHECK(r.on_open(id(1), {1, R}, true, R, t0).second == relay_close_reason::self_target);
  CHECK(r.on_open(id(1), {1, id(2)}, false, R, t0).second == relay_close_reason::not_connected);
  CHECK(r.on_open(id(1), {1, id(2)}, true, R, t0).first);
  // The same number again on that link is refused (it would make two links one).
  CHECK(r.on_open(id(1), {1, id(3)}, true, R, t0).second == relay_close_reason::busy);
  CHECK(r.on_open(id(1), {2, id(3)}, true, R, t0).first);
  // A third from the same requester is over its bound.
  CHECK(r.on_open(id(1), {3, id(4)}, true, R, t0).second == relay_close_reason::busy);
  // Per target: id(2) takes two more (3 in all), then no more.
  CHECK(r.on_open(id(5), {1, id(2)}, true, R, t0).first);
  CHECK(r.on_open(id(6), {1, id(2)}, true, R, t0).first);
  CHECK(r.size() == 4);
  // The table is full (4), whoever asks.
  CHECK(r.on_open(id(7), {1, id(8)}, true, R, t0).second == relay_close_reason::busy);
  // R's numbers with one target never collide.
  relay_table::config big;
  big.max_channels = 64;
  big.max_per_target = 64;
  relay_table many(big);
  std::set<uint32_t> numbers;
  for (uint8_t a = 10; a < 40; ++a) {
    auto inc = many.on_open(id(a), {1, id(2)}, true, R, t0).first;
    REQUIRE(inc);
    CHECK(numbers.insert(inc->channel).second);
  }
  CHECK(many.size() == 30);
}

TEST_CASE("relay table: a link over its byte budget is closed at both ends") {
  relay_table r(budget(1000, 4000));
  const auto R = id(9), A = id(1), B = id(2);
  auto inc = r.on_open(A, {5, B}, true, R, t0).first;
  REQUIRE(inc);
  // The burst goes through, counted both ways together.
  CHECK(r.on_data(A, 5, 2000, t0).forward);
  CHECK(r.on_data(B, inc->channel | relay_reply_bit, 2000, t0).forward);
  // After 1 s, 1000 bytes more; 1001 is over.
  CHECK(r.on_data(A, 5, 1000, t0 + 1s).forward);
  auto v = r.on_data(A, 5, 1, t0 + 1s);
  CHECK_FALSE(v.forward);
  CHECK(v.close == relay_close_reason::over_budget);
  REQUIRE(v.other);
  CHECK(v.other->peer == B);
  CHECK(v.other->number == inc->channel);
  CHECK(r.size() == 0);
  CHECK(r.bytes_relayed() == 5000);
}

TEST_CASE("relay table: losing a link to one end ends every relayed link through it") {
  relay_table r;
  const auto R = id(9), A = id(1), B = id(2), C = id(3);
  auto ab = r.on_open(A, {1, B}, true, R, t0).first;
  auto cb = r.on_open(C, {1, B}, true, R, t0).first;
  auto ac = r.on_open(A, {2, C}, true, R, t0).first;
  REQUIRE((ab && cb && ac));
  auto told = r.on_link_closed(B);
  REQUIRE(told.size() == 2);
  CHECK(std::count(told.begin(), told.end(), relay_table::hop{A, 1 | relay_reply_bit}) == 1);
  CHECK(std::count(told.begin(), told.end(), relay_table::hop{C, 1 | relay_reply_bit}) == 1);
  CHECK(r.size() == 1);
  CHECK(r.on_data(A, 2, 10, t0).forward); // A's link to C is untouched
  told = r.on_link_closed(A);
  REQUIRE(told.size() == 1);
  CHECK(told[0] == relay_table::hop{C, ac->channel});
  CHECK(r.size() == 0);
}

TEST_CASE("relay table: a requester's opens are rate-limited, across links that ended") {
  relay_table r;
  const relay_table::config cfg;
  const auto R = id(9), A = id(1), B = id(2), C = id(3);
  // Open, then close, as fast as it likes: the burst of opens, then busy.
  uint32_t n = 1;
  for (int i = 0; i < int(cfg.open_burst); ++i, ++n) {
    REQUIRE(r.on_open(A, {n, B}, true, R, t0).first);
    REQUIRE(r.on_close(A, n));
  }
  auto refused = r.on_open(A, {n, B}, true, R, t0);
  CHECK_FALSE(refused.first);
  CHECK(refused.second == relay_close_reason::busy);
  // Another requester is not affected; A gets one more open per 60 / opens_per_minute s.
  CHECK(r.on_open(C, {1, B}, true, R, t0).first);
  const auto per_open = std::chrono::duration_cast<relay_clock::duration>(
    std::chrono::duration<double>(60.0 / cfg.opens_per_minute));
  CHECK_FALSE(r.on_open(A, {n, B}, true, R, t0 + per_open / 2).first);
  CHECK(r.on_open(A, {n, B}, true, R, t0 + per_open + 1ms).first);
}

TEST_CASE("relay table: a relayed link idle for the idle timeout is ended at both ends") {
  relay_table r;
  const auto R = id(9), A = id(1), B = id(2), C = id(3);
  auto ab = r.on_open(A, {1, B}, true, R, t0).first;
  auto cb = r.on_open(C, {1, B}, true, R, t0).first;
  REQUIRE((ab && cb));
  const auto idle = relay_table::config{}.idle_timeout;
  // A-B carries bytes half-way through; C-B never does.
  CHECK(r.on_data(A, 1, 100, t0 + idle / 2).forward);
  CHECK(r.expire(t0 + idle - 1s).empty());
  auto told = r.expire(t0 + idle);
  REQUIRE(told.size() == 2);
  CHECK(std::count(told.begin(), told.end(), relay_table::hop{C, 1 | relay_reply_bit}) == 1);
  CHECK(std::count(told.begin(), told.end(), relay_table::hop{B, cb->channel}) == 1);
  CHECK(r.size() == 1);
  CHECK(r.on_data(C, 1, 10, t0 + idle).close == relay_close_reason::unknown_channel);
  // The slot is free again: C may open a new one.
  CHECK(r.on_open(C, {2, B}, true, R, t0 + idle).first);
  told = r.expire(t0 + idle / 2 + idle);
  REQUIRE(told.size() == 2); // A-B, idle since its last bytes
  CHECK(std::count(told.begin(), told.end(), relay_table::hop{A, 1 | relay_reply_bit}) == 1);
  CHECK(r.size() == 1);
}

TEST_CASE("relay pacer: an endpoint that paces itself never trips the relay's budget") {
  auto cfg = budget(2000, 8000);
  relay_table r(cfg);
  const auto R = id(9), A = id(1), B = id(2);
  auto inc = r.on_open(A, {5, B}, true, R, t0).first;
  REQUIRE(inc);
  // A sends 1000-byte chunks as fast as its pacer (the same budget) allows, for 20 s of
  // virtual time; R forwards every one.
  relay_pacer p(cfg.bytes_per_second, cfg.burst_bytes, t0);
  auto now = t0;
  size_t sent = 0;
  while (now < t0 + 20s) {
    auto at = p.when(1000, now);
    REQUIRE(at != relay_clock::time_point::max());
    now = at;
    REQUIRE(p.take(1000, now));
    REQUIRE(r.on_data(A, 5, 1000, now).forward);
    sent += 1000;
  }
  // Burst plus 20 s at the rate, within a chunk.
  CHECK(sent >= 8000 + 2000 * 20 - 1000);
  CHECK(sent <= 8000 + 2000 * 20 + 1000);
  // A chunk larger than the burst never fits.
  CHECK(p.when(9000, now) == relay_clock::time_point::max());
  CHECK(p.available(now) <= 8000);
}
