#include "dht/bencode.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace dtt;
using namespace dtt::dht;

namespace {
result<bencode::value> dec(const std::string& s, bencode::limits lim = {}) {
  return bencode::decode(byte_view::of(s), lim);
}
std::string enc(const bencode::value& v) {
  auto b = bencode::encode(v);
  return std::string(b.begin(), b.end());
}
} // namespace

TEST_CASE("bencode round-trips canonical input byte for byte") {
  for (std::string s : std::initializer_list<std::string>{"i0e", "i-1e", "i42e", "i9223372036854775807e", "i-9223372036854775808e",
                        "0:", "4:spam", "le", "de", "l4:spami3ee", "d3:bar4:spam3:fooi42ee",
                        "d1:ad1:bl1:ci1eeee", std::string("3:\0\1\2", 5)}) {
    CAPTURE(s);
    auto v = dec(s);
    REQUIRE(v);
    CHECK(enc(*v) == s);
  }
}

TEST_CASE("bencode decodes values into the right kinds") {
  auto v = dec("d3:bar4:spam3:fooi42e1:ll1:xee");
  REQUIRE(v);
  REQUIRE(v->is_dict());
  CHECK(v->find("bar")->as_string() == "spam");
  CHECK(v->find("foo")->as_int() == 42);
  CHECK(v->find("l")->as_list().size() == 1);
  CHECK(v->find("missing") == nullptr);
}

TEST_CASE("bencode rejects non-canonical and malformed input") {
  for (std::string s : {"i-0e", "i01e", "i00e", "ie", "i-e", "i1", "01:a", "5:abc", "d1:bi1e1:ai2ee",
                        "d1:ai1e1:ai2ee", "di1ei2ee", "l", "d", "x", "", "i1ei2e", "4:spamX",
                        "i9223372036854775808e", "i-9223372036854775809e",
                        "i99999999999999999999999e", "-1:", "d1:a"}) {
    CAPTURE(s);
    CHECK_FALSE(dec(s));
  }
}

TEST_CASE("bencode enforces its hard limits") {
  bencode::limits lim;
  lim.max_depth = 3;
  CHECK(dec("llleee", lim));
  CHECK_FALSE(dec("lllleeee", lim));
  lim = {};
  lim.max_items = 2;
  CHECK(dec("li1ei2ee", lim));
  CHECK_FALSE(dec("li1ei2ei3ee", lim));
  CHECK_FALSE(dec("d1:ai1e1:bi1e1:ci1ee", lim));
  lim = {};
  lim.max_input = 4;
  CHECK(dec("i12e", lim));
  CHECK_FALSE(dec("i123e", lim));
  lim = {};
  lim.max_string = 3;
  CHECK(dec("3:abc", lim));
  CHECK_FALSE(dec("4:abcd", lim));
  CHECK_FALSE(dec("99999999999999999999:x"));
  // A deep nest does not overflow the stack: it is refused at the default depth.
  std::string deep(100000, 'l');
  deep += std::string(100000, 'e');
  bencode::limits big;
  big.max_input = deep.size();
  auto r = dec(deep, big);
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::too_large);
}

TEST_CASE("bencode set() keeps dict keys sorted so encodings are canonical") {
  auto d = bencode::value::dict();
  d.set("z", bencode::value::integer(1));
  d.set("a", bencode::value::string("x"));
  d.set("m", bencode::value::list());
  d.set("a", bencode::value::string("y"));
  CHECK(enc(d) == "d1:a1:y1:mle1:zi1ee");
  CHECK(dec(enc(d)));
}
