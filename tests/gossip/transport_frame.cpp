// Frame codec of the peer transport: BE32(length) || message, control frames, hard limits.
#include "gossip/transport/frame.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace dtt;
using namespace dtt::net;

namespace {
std::vector<frame> decode_all(frame_decoder& d, const bytes& in, size_t step, status* st) {
  std::vector<frame> out;
  for (size_t pos = 0; pos < in.size(); pos += step) {
    *st = d.feed(byte_view{in}.sub(pos, step), [&](frame&& f) {
      out.push_back(std::move(f));
      return true;
    });
    if (!st->ok())
      break;
  }
  return out;
}
} // namespace

TEST_CASE("transport frame: encoding is BE32 length then the message") {
  bytes out;
  append_frame(out, byte_view::of("abc"));
  CHECK(out == bytes{0, 0, 0, 3, 'a', 'b', 'c'});
  append_control(out, control::goodbye);
  CHECK(out == bytes{0, 0, 0, 3, 'a', 'b', 'c', 0x80, 0, 0, 2});
}

TEST_CASE("transport frame: decoding survives any split of the stream") {
  bytes stream;
  std::vector<bytes> msgs = {{}, {1}, bytes(300, 7), bytes(4096, 9)};
  for (auto& m : msgs)
    append_frame(stream, m);
  append_control(stream, control::keepalive);
  append_frame(stream, byte_view::of("end"));
  for (size_t step : {size_t{1}, size_t{3}, size_t{4}, size_t{5}, size_t{1000}, stream.size()}) {
    CAPTURE(step);
    frame_decoder d(4096);
    status st = ok_status();
    auto frames = decode_all(d, stream, step, &st);
    REQUIRE(st.ok());
    REQUIRE(frames.size() == 6);
    for (size_t i = 0; i < msgs.size(); ++i) {
      CHECK_FALSE(frames[i].is_control);
      CHECK(frames[i].message == msgs[i]);
    }
    CHECK(frames[4].is_control);
    CHECK(frames[4].code == control::keepalive);
    CHECK(frames[5].message == bytes{'e', 'n', 'd'});
    CHECK(d.buffered() == 0);
  }
}

TEST_CASE("transport frame: a length over the limit is refused from its header alone") {
  frame_decoder d(4096);
  bytes header;
  put_be32(header, 4097);
  int seen = 0;
  auto st = d.feed(header, [&](frame&&) {
    ++seen;
    return true;
  });
  REQUIRE_FALSE(st.ok());
  CHECK(st.err().code == errc::too_large);
  CHECK(st.err().what == "frame of 4097 bytes over the limit of 4096");
  CHECK(seen == 0);

  frame_decoder exact(4096);
  bytes ok;
  append_frame(ok, bytes(4096, 1));
  CHECK(exact.feed(ok, [&](frame&&) { return true; }).ok());
}

TEST_CASE("transport frame: unknown control codes and huge lengths are errors") {
  for (bytes bad : {bytes{0x80, 0, 0, 0x7f}, bytes{0x80, 0, 1, 1} /* a keep-alive with length bits */}) {
    frame_decoder d(4096);
    auto st = d.feed(bad, [](frame&&) { return true; });
    REQUIRE_FALSE(st.ok());
    CHECK(st.err().code == errc::malformed);
  }

  frame_decoder d2(4096);
  bytes huge{0x7f, 0xff, 0xff, 0xff};
  auto st2 = d2.feed(huge, [](frame&&) { return true; });
  REQUIRE_FALSE(st2.ok());
  CHECK(st2.err().code == errc::too_large);
}

TEST_CASE("transport frame: the callback can stop decoding") {
  frame_decoder d(4096);
  bytes stream;
  append_frame(stream, byte_view::of("a"));
  append_frame(stream, byte_view::of("b"));
  int seen = 0;
  CHECK(d.feed(stream, [&](frame&&) { return ++seen < 1; }).ok());
  CHECK(seen == 1);
}

TEST_CASE("transport frame: reversal control frames carry bodies of their fixed sizes") {
  bytes stream;
  append_control(stream, control::reversal_request, bytes(reversal_request_body_size, 1));
  append_control(stream, control::reversal_notice, bytes(reversal_notice_body_size, 2));
  append_control(stream, control::reversal_notice6, bytes(reversal_notice6_body_size, 3));
  append_control(stream, control::keepalive);
  frame_decoder d(4096);
  std::vector<frame> got;
  REQUIRE(d.feed(stream, [&](frame&& f) {
    got.push_back(std::move(f));
    return true;
  }).ok());
  REQUIRE(got.size() == 4);
  CHECK(got[0].code == control::reversal_request);
  CHECK(got[0].message == bytes(reversal_request_body_size, 1));
  CHECK(got[1].code == control::reversal_notice);
  CHECK(got[1].message == bytes(reversal_notice_body_size, 2));
  CHECK(got[2].code == control::reversal_notice6);
  CHECK(got[2].message == bytes(reversal_notice6_body_size, 3));
  CHECK(got[3].code == control::keepalive);
  CHECK(d.buffered() == 0);
}

TEST_CASE("transport frame: relay frames carry their body length in the header, within bounds") {
  bytes stream;
  append_control(stream, control::relay, bytes(relay_body_min, 4));
  append_control(stream, control::relay, bytes(relay_body_max, 5));
  append_control(stream, control::keepalive);
  // The header: the flag, the length in bits 8..30, the code in the low byte.
  CHECK(stream[0] == 0x80);
  CHECK(stream[1] == 0x00);
  CHECK(stream[2] == relay_body_min);
  CHECK(stream[3] == 9);
  for (size_t step : {size_t{1}, size_t{7}, size_t{4096}, stream.size()}) {
    frame_decoder d(512); // the message limit does not bound relay frames
    status st = ok_status();
    auto got = decode_all(d, stream, step, &st);
    REQUIRE(st.ok());
    REQUIRE(got.size() == 3);
    CHECK(got[0].is_control);
    CHECK(got[0].code == control::relay);
    CHECK(got[0].message == bytes(relay_body_min, 4));
    CHECK(got[1].code == control::relay);
    CHECK(got[1].message == bytes(relay_body_max, 5));
    CHECK(got[2].code == control::keepalive);
    CHECK(d.buffered() == 0);
  }
  CHECK(control_body_fits(control::relay, relay_body_min));
  CHECK_FALSE(control_body_fits(control::relay, relay_body_min - 1));
  CHECK_FALSE(control_body_fits(control::relay, relay_body_max + 1));
  CHECK_FALSE(control_body_fits(control::admit, relay_body_min));
  // Lengths outside the bounds are refused from the header alone, before any body is buffered.
  for (uint32_t len : {uint32_t{0}, uint32_t{relay_body_min - 1}, uint32_t{relay_body_max + 1},
                       uint32_t{0x7fffff}}) {
    bytes bad;
    put_be32(bad, control_flag | len << 8 | static_cast<uint32_t>(control::relay));
    frame_decoder d(4096);
    auto st = d.feed(bad, [](frame&&) { return true; });
    REQUIRE_FALSE(st.ok());
    CHECK(st.err().code == errc::malformed);
    CHECK(d.buffered() == 0);
  }
}
