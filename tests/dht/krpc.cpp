#include "dht/krpc.hpp"

#include <doctest/doctest.h>

using namespace dtt;
using namespace dtt::dht;

namespace {
node_id id_of(uint8_t b) {
  node_id id;
  id.fill(b);
  return id;
}
krpc::message round_trip(const krpc::message& m) {
  auto r = krpc::decode(krpc::encode(m));
  REQUIRE(r);
  return *r;
}
result<krpc::message> parse(const std::string& s) { return krpc::decode(byte_view::of(s)); }
} // namespace

TEST_CASE("KRPC ping query matches BEP 5's example encoding") {
  krpc::query q;
  q.m = krpc::method::ping;
  q.id = to_array<20>(byte_view::of("abcdefghij0123456789"));
  auto b = krpc::encode(krpc::make_query("aa", q));
  CHECK(std::string(b.begin(), b.end()) == "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe");
  auto m = parse("d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re");
  REQUIRE(m);
  CHECK(m->y == krpc::message::type::response);
  CHECK(m->tid == "aa");
  CHECK(m->r.id == to_array<20>(byte_view::of("mnopqrstuvwxyz123456")));
}

TEST_CASE("BEP 43 read-only flag: ro sits in the top-level dict, and ro inside a is accepted") {
  krpc::query q;
  q.m = krpc::method::ping;
  q.id = id_of(1);
  q.read_only = true;
  auto wire = krpc::encode(krpc::make_query("aa", q));
  std::string s(wire.begin(), wire.end());
  // libtorrent 2.0 reads (and writes) "ro" at the top level only.
  CHECK(s == "d1:ad2:id20:" + std::string(20, '\x01') + "e1:q4:ping2:roi1e1:t2:aa1:y1:qe");
  auto top = krpc::decode(wire);
  REQUIRE(top);
  CHECK(top->q.read_only);
  std::string inner = "d1:ad2:id20:" + std::string(20, '\x01') + "2:roi1ee1:q4:ping1:t2:aa1:y1:qe";
  auto old = krpc::decode(bytes(inner.begin(), inner.end()));
  REQUIRE(old);
  CHECK(old->q.read_only);
  q.read_only = false;
  auto plain = krpc::decode(krpc::encode(krpc::make_query("aa", q)));
  REQUIRE(plain);
  CHECK_FALSE(plain->q.read_only);
}

TEST_CASE("KRPC queries of every method round-trip") {
  for (auto meth : {krpc::method::ping, krpc::method::find_node, krpc::method::get_peers,
                    krpc::method::announce_peer, krpc::method::get, krpc::method::put}) {
    CAPTURE(krpc::method_name(meth));
    krpc::query q;
    q.m = meth;
    q.id = id_of(1);
    q.target = id_of(2);
    q.token = {1, 2, 3};
    q.port = 6881;
    q.read_only = true;
    if (meth == krpc::method::put) {
      q.v = bencode::value::string("hello");
      q.k = bytes32{};
      q.sig = bytes64{};
      q.seq = 7;
      q.cas = 6;
      q.salt = {9, 9};
    }
    if (meth == krpc::method::get)
      q.seq = 3;
    auto m = round_trip(krpc::make_query("xy", q));
    CHECK(m.reject_code == 0);
    CHECK(m.q.m == meth);
    CHECK(m.q.id == q.id);
    CHECK(m.q.read_only);
    if (meth != krpc::method::ping && meth != krpc::method::put)
      CHECK(m.q.target == q.target);
    if (meth == krpc::method::announce_peer) {
      CHECK(m.q.port == 6881);
      CHECK(m.q.token == q.token);
    }
    if (meth == krpc::method::put) {
      CHECK(m.q.v->as_string() == "hello");
      CHECK(m.q.seq == 7);
      CHECK(m.q.cas == 6);
      CHECK(m.q.salt == q.salt);
    }
    if (meth == krpc::method::get)
      CHECK(m.q.seq == 3);
  }
}

TEST_CASE("KRPC responses carry nodes, nodes6, values and BEP 44 fields") {
  krpc::response r;
  r.id = id_of(3);
  r.token = {7, 7};
  r.nodes.push_back({id_of(4), endpoint::v4(127, 0, 0, 1, 1000)});
  auto v6 = endpoint::parse("[::1]:2000");
  REQUIRE(v6);
  r.nodes.push_back({id_of(5), *v6});
  r.values.push_back(endpoint::v4(1, 2, 3, 4, 5));
  r.v = bencode::value::string("v");
  r.k = bytes32{};
  r.sig = bytes64{};
  r.seq = -5;
  auto m = round_trip(krpc::make_response("t", r));
  REQUIRE(m.r.nodes.size() == 2);
  CHECK(m.r.nodes[0] == r.nodes[0]);
  CHECK(m.r.nodes[1] == r.nodes[1]);
  CHECK(m.r.values == r.values);
  CHECK(m.r.seq == -5);
  CHECK(m.r.token == r.token);
}

TEST_CASE("KRPC errors 201-207, 301 and 302 round-trip") {
  for (int code : {201, 202, 203, 204, 205, 206, 207, 301, 302}) {
    auto m = round_trip(krpc::make_error("e1", code, "why"));
    CHECK(m.y == krpc::message::type::error);
    CHECK(m.e.code == code);
    CHECK(m.e.message == "why");
  }
}

TEST_CASE("KRPC queries with bad arguments are flagged with 203 or 204") {
  auto m = parse("d1:ad2:id20:abcdefghij0123456789e1:q5:flurb1:t2:aa1:y1:qe");
  REQUIRE(m);
  CHECK(m->reject_code == 204);
  m = parse("d1:ad2:id3:abce1:q4:ping1:t2:aa1:y1:qe");
  REQUIRE(m);
  CHECK(m->reject_code == 203);
  m = parse("d1:ad2:id20:abcdefghij0123456789e1:q9:find_node1:t2:aa1:y1:qe");
  REQUIRE(m);
  CHECK(m->reject_code == 203);
  m = parse("d1:ad2:id20:abcdefghij01234567891:k3:abce1:q3:put1:t2:aa1:y1:qe");
  REQUIRE(m);
  CHECK(m->reject_code == 203);
}

TEST_CASE("KRPC drops what it cannot answer") {
  CHECK_FALSE(parse("le"));
  CHECK_FALSE(parse("d1:y1:qe"));                     // no t
  CHECK_FALSE(parse("d1:t2:aa1:y1:ze"));              // unknown y
  CHECK_FALSE(parse("d1:t2:aa1:y1:re"));              // response without r
  CHECK_FALSE(parse("d1:rd2:id20:mnopqrstuvwxyz1234565:nodes3:abce1:t2:aa1:y1:re"));
  std::string huge = "d1:t2:aa1:y1:q1:z" + std::to_string(3000) + ":" + std::string(3000, 'x')
                     + "e";
  CHECK_FALSE(parse(huge));
}

TEST_CASE("compact node info parses 26-byte IPv4 and 38-byte IPv6 records") {
  std::vector<node_entry> nodes{{id_of(1), endpoint::v4(10, 0, 0, 1, 6881)},
                                {id_of(2), endpoint::v4(10, 0, 0, 2, 6882)}};
  auto b = compact_nodes(nodes, 4);
  CHECK(b.size() == 52);
  auto back = parse_compact_nodes(b, 4);
  REQUIRE(back);
  CHECK(*back == nodes);
  b.push_back(0);
  CHECK_FALSE(parse_compact_nodes(b, 4));
  CHECK(endpoint::parse("127.0.0.1:80")->to_string() == "127.0.0.1:80");
  CHECK(endpoint::parse("[::1]:80")->to_string() == "[::1]:80");
  CHECK_FALSE(endpoint::parse("127.0.0.1"));
  CHECK_FALSE(endpoint::parse("127.0.0.1:70000"));
  CHECK_FALSE(endpoint::parse("host:80"));
}
