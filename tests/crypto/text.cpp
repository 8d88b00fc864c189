// Bytes as JSON text (crypto/text.hpp): the strict UTF-8 check dttd uses to choose between
// `content` and `content_b64`, and base64 both ways.
#include "crypto/text.hpp"

#include <doctest/doctest.h>

#include <initializer_list>

using namespace dtt;

namespace {

bool utf8(std::initializer_list<int> v) {
  bytes b;
  for (int x : v)
    b.push_back(static_cast<uint8_t>(x));
  return is_utf8(byte_view(b));
}

} // namespace

TEST_CASE("well-formed UTF-8 passes the check") {
  CHECK(is_utf8(byte_view::of("")));
  CHECK(is_utf8(byte_view::of("plain ascii \x01\x7f")));
  CHECK(utf8({0xc3, 0xa9}));                   // é
  CHECK(utf8({0xe2, 0x82, 0xac}));             // €
  CHECK(utf8({0xed, 0x9f, 0xbf}));             // U+D7FF, just below the surrogates
  CHECK(utf8({0xef, 0xbf, 0xbf}));             // U+FFFF
  CHECK(utf8({0xf0, 0x9f, 0x98, 0x80}));       // U+1F600
  CHECK(utf8({0xf4, 0x8f, 0xbf, 0xbf}));       // U+10FFFF
}

TEST_CASE("overlong, surrogate, truncated, out-of-range and stray bytes fail the check") {
  CHECK_FALSE(utf8({0xc0, 0x80}));             // overlong NUL
  CHECK_FALSE(utf8({0xc1, 0xbf}));             // overlong
  CHECK_FALSE(utf8({0xe0, 0x80, 0xaf}));       // overlong '/'
  CHECK_FALSE(utf8({0xf0, 0x80, 0x80, 0xaf})); // overlong '/'
  CHECK_FALSE(utf8({0xed, 0xa0, 0x80}));       // U+D800
  CHECK_FALSE(utf8({0xed, 0xbf, 0xbf}));       // U+DFFF
  CHECK_FALSE(utf8({0xf4, 0x90, 0x80, 0x80})); // U+110000
  CHECK_FALSE(utf8({0xf5, 0x80, 0x80, 0x80}));
  CHECK_FALSE(utf8({0xff}));
  CHECK_FALSE(utf8({0xfe}));
  CHECK_FALSE(utf8({0x80}));                   // lone continuation
  CHECK_FALSE(utf8({0xe2, 0x82}));             // truncated €
  CHECK_FALSE(utf8({0x41, 0xf0, 0x9f, 0x98})); // truncated at the end
  CHECK_FALSE(utf8({0xc3, 0x41}));             // lead without continuation
}

TEST_CASE("base64 is the standard alphabet with padding and round-trips every byte") {
  CHECK(to_base64(byte_view::of("")) == "");
  CHECK(to_base64(byte_view::of("f")) == "Zg==");
  CHECK(to_base64(byte_view::of("fo")) == "Zm8=");
  CHECK(to_base64(byte_view::of("foo")) == "Zm9v");
  bytes all;
  for (int i = 0; i < 256; ++i)
    all.push_back(static_cast<uint8_t>(i));
  auto text = to_base64(byte_view(all));
  CHECK(text.find('+') != std::string::npos);
  CHECK(text.find('/') != std::string::npos);
  auto back = from_base64(text);
  REQUIRE(back);
  CHECK(*back == all);
  CHECK_FALSE(from_base64("Zm9v!"));
  CHECK_FALSE(from_base64("Zg"));
}
