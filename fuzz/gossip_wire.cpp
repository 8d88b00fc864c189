// Fuzz target: the peer-link frame decoder (gossip/transport/frame.hpp), the gossip message
// decoder (gossip/wire.hpp), and the protocol (gossip/proto.hpp) fed with what decodes.
//
// Input: one control byte, then a byte stream. The control byte picks the max message size
// (512 or 4096, PROTOCOL.md §8.2) and how the stream is cut into reads. The stream is decoded
// twice: as one bare message, and as a sequence of frames whose messages are decoded and handed
// to a fresh protocol that has joined the seeds' topic (32 x 0xa1).
//
// Checked besides "no crash, no sanitizer report":
// - a decoded message re-encodes to exactly its input, and encoded_size() agrees;
// - peek_gossip (the prefetch hint) points at a decoded Gossip message's topic and id, and
//   finds nothing in a message of another kind;
// - the frame decoder returns no frame over the limit, re-framing what it returned gives back
//   the consumed input, and it never buffers a whole frame's worth it should have returned;
// - a control frame's body has the size its code fixes, and a reversal request or notice
//   (gossip/transport/reversal.hpp) that decodes re-encodes to exactly its body;
// - a relay frame body (gossip/transport/relay.hpp, not wired yet: the stream is tried as one)
//   that decodes re-encodes to exactly its input;
// - every message the protocol sends in answer encodes within the max message size (its
//   encoded_size(); encode() agrees with it on a sample of 1 in 8 inputs).
#include "check.hpp"
#include "crypto/membership.hpp"
#include "gossip/proto.hpp"
#include "gossip/transport/frame.hpp"
#include "gossip/wire.hpp"
#include "gossip/transport/relay.hpp"
#include "gossip/transport/reversal.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>

using namespace dtt;

namespace {

[[noreturn]] void fail(const char* what, size_t detail = 0) {
  std::fprintf(stderr, "gossip_wire fuzz: %s (%zu)\n", what, detail);
  std::abort();
}

void check_message(byte_view in, size_t max) {
  auto peek = gossip::peek_gossip(in); // reads only within the input (ASan checks it)
  auto m = gossip::decode(in, max);
  if (!m)
    return;
  // What decodes as a Gossip message is what the peek points at (topic and id), and only that.
  if (const auto* g = std::get_if<gossip::msg::gossip>(&m->body)) {
    if (!peek.id || !std::equal(g->id.begin(), g->id.end(), peek.id)
        || !std::equal(m->topic.begin(), m->topic.end(), peek.topic))
      fail("peek_gossip disagrees with decode", in.size());
  } else if (peek.id) {
    fail("peek_gossip found a Gossip message where decode found another kind", in.size());
  }
  auto again = gossip::encode(*m);
  if (again.size() != gossip::encoded_size(*m))
    fail("encoded_size disagrees with encode", again.size());
  if (again.size() != in.size() || !std::equal(again.begin(), again.end(), in.begin()))
    fail("a decoded message does not re-encode to its input", in.size());
}

gossip::endpoint_id id_of(uint8_t b) {
  gossip::endpoint_id id{};
  id.fill(b);
  return id;
}

void check_outputs(gossip::protocol& p, size_t max,
                   std::multimap<gossip::time_point, gossip::timer_id>& timers, bool full) {
  for (auto& o : p.take_outputs()) {
    if (auto* s = std::get_if<gossip::output::send>(&o)) {
      auto size = gossip::encoded_size(s->msg);
      if (size > max)
        fail("the protocol sent a message over the max message size", size);
      // encode() agrees with encoded_size() (checked on every decoded message above); the full
      // encoding of what the protocol sends is checked on a sample of inputs (it is most of a
      // run's cost otherwise, mostly for timer-driven shuffles that do not depend on the input).
      if (full && gossip::encode(s->msg).size() != size)
        fail("encoded_size disagrees with encode for a sent message", size);
    } else if (auto* t = std::get_if<gossip::output::arm_timer>(&o)) {
      timers.emplace(t->at, t->id);
    }
  }
}

// A reversal frame's body (gossip/transport/reversal.hpp): what decodes re-encodes to exactly the body.
void check_reversal(net::control code, const bytes& body) {
  if (code == net::control::reversal_request) {
    if (auto r = net::decode_reversal_request(body); r && net::encode(*r) != body)
      fail("reversal request does not round-trip", body.size());
  } else if (code == net::control::reversal_notice || code == net::control::reversal_notice6) {
    if (auto n = net::decode_reversal_notice(body)) {
      auto again = net::encode(*n);
      if (!again || *again != body)
        fail("reversal notice does not round-trip", body.size());
    }
  }
}

// The stream as one relay frame body: what decodes re-encodes to exactly it.
void check_relay(byte_view in) {
  bytes body(in.begin(), in.end());
  if (auto o = net::decode_relay_open(in)) {
    auto e = net::encode(*o);
    if (!e || *e != body)
      fail("relay open does not round-trip", body.size());
  }
  if (auto i = net::decode_relay_incoming(in)) {
    auto e = net::encode(*i);
    if (!e || *e != body)
      fail("relay incoming does not round-trip", body.size());
  }
  if (auto d = net::decode_relay_data(in)) {
    auto e = net::encode_relay_data(d->channel, d->chunk);
    if (!e || *e != body)
      fail("relay data does not round-trip", body.size());
  }
  if (auto c = net::decode_relay_close(in); c && net::encode(*c) != body)
    fail("relay close does not round-trip", body.size());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0)
    return 0;
  const uint8_t ctl = data[0];
  const uint32_t max = (ctl & 0x80) ? gossip::min_max_message_size
                                    : gossip::default_max_message_size;
  const size_t chunk = 1 + (ctl & 0x7f) * 37; // 1 .. 4700 bytes per read
  byte_view stream{data + 1, size - 1};
  const bool full = dtt::fuzz::sampled(data, size, 8);

  check_message(stream, max);
  check_relay(stream);

  gossip::config cfg;
  cfg.max_message_size = max;
  // The cache eviction tick every 10 s instead of 1 s: the timer loop below then reaches the
  // cache and id retention ends (30 s, 90 s) and a shuffle (60 s) in 16 fires, where 1 s ticks
  // took 32 fires to reach the cache's end alone and were a third of a run's cost.
  cfg.broadcast.cache_evict_interval = std::chrono::seconds(10);
  gossip::protocol proto(id_of(0xee), {{"127.0.0.1", 4000}}, cfg, 7);
  gossip::topic_id topic{};
  topic.fill(0xa1);
  auto now = gossip::time_point{} + std::chrono::hours(1);
  std::multimap<gossip::time_point, gossip::timer_id> timers;
  proto.join(topic, {id_of(1)}, now);
  check_outputs(proto, max, timers, full);

  net::frame_decoder dec(max);
  bytes reframed;
  size_t fed = 0, frames = 0;
  bool failed = false;
  for (size_t at = 0; at < stream.size() && !failed; at += chunk) {
    auto part = stream.sub(at, chunk);
    fed += part.size();
    auto st = dec.feed(part, [&](net::frame&& f) {
      ++frames;
      if (f.is_control) {
        if (f.code == net::control::admit) {
          if (f.message.size() != net::admit_body_size)
            fail("admit frame body of the wrong size", f.message.size());
          net::append_admit(reframed, f.message);
          auto a = crypto::decode_admission(f.message);
          if (!a || crypto::encode_admission(*a) != f.message)
            fail("admission does not round-trip", f.message.size());
        } else {
          if (!net::control_body_fits(f.code, f.message.size()))
            fail("control frame body of the wrong size", f.message.size());
          net::append_control(reframed, f.code, f.message);
          check_reversal(f.code, f.message.to_bytes());
          if (f.code == net::control::relay)
            check_relay(f.message);
        }
        return true;
      }
      if (f.message.size() > max)
        fail("frame over the limit", f.message.size());
      net::append_frame(reframed, f.message);
      check_message(f.message, max);
      now += std::chrono::milliseconds(7);
      proto.prefetch(f.message); // a hint only: must not read past the frame
      (void)proto.receive_bytes(id_of(static_cast<uint8_t>(1 + frames % 3)), f.message, now);
      check_outputs(proto, max, timers, full);
      return true;
    });
    if (!st)
      failed = true;
    else if (dec.buffered() >= 4 + size_t{max})
      fail("decoder buffers a complete frame", dec.buffered());
  }
  if (!failed) {
    if (reframed.size() + dec.buffered() != fed)
      fail("frames plus buffered bytes do not add up to the input", fed);
    if (!std::equal(reframed.begin(), reframed.end(), stream.begin()))
      fail("re-framing does not give back the input", reframed.size());
  }
  // Let the protocol's timers run (graft, lazy push, neighbour requests, cache eviction,
  // shuffle), a bounded number: 16 (64, then 32 before; the input-independent periodic timers
  // were most of a run's cost).
  for (int n = 0; n < 16 && !timers.empty(); ++n) {
    auto [at, id] = *timers.begin();
    timers.erase(timers.begin());
    now = std::max(now, at);
    proto.timer_fired(id, now);
    check_outputs(proto, max, timers, full);
  }
  return 0;
}
