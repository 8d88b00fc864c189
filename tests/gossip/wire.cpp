// The gossip wire format: round trips, every truncation, hostile lengths (gossip/wire.hpp).
#include "gossip/plumtree.hpp"
#include "gossip/wire.hpp"

#include <doctest/doctest.h>

using namespace dtt;
using namespace dtt::gossip;

namespace {

endpoint_id id_of(uint8_t b) {
  endpoint_id id{};
  id.fill(b);
  return id;
}

peer_data addrs() {
  return {{"127.0.0.1", 4000}, {"::1", 4001}, {"2001:db8::7", 65535}};
}

std::vector<message> samples() {
  topic_id t = id_of(0xaa);
  bytes content = {1, 2, 3, 4, 5};
  msg::gossip g{message_id_of(content), content, {delivery_scope::kind::swarm, 7}};
  msg::gossip gn{message_id_of(content), content, {delivery_scope::kind::neighbors, 0}};
  msg::ihave ih;
  ih.entries = {{id_of(1), 0}, {id_of(2), 65535}};
  return {
    {t, msg::join{}},
    {t, msg::join{addrs()}},
    {t, msg::join{peer_data{}}},
    {t, msg::forward_join{{id_of(3), addrs()}, 6}},
    {t, msg::forward_join{{id_of(3), std::nullopt}, 0}},
    {t, msg::shuffle{id_of(4), {{id_of(5), addrs()}, {id_of(6), std::nullopt}}, 6}},
    {t, msg::shuffle{id_of(4), {}, 1}},
    {t, msg::shuffle_reply{{{id_of(7), std::nullopt}, {id_of(8), addrs()}}}},
    {t, msg::shuffle_reply{}},
    {t, msg::neighbor{priority::high, addrs()}},
    {t, msg::neighbor{priority::low, std::nullopt}},
    {t, msg::disconnect{true}},
    {t, msg::disconnect{false}},
    {t, g},
    {t, gn},
    {t, msg::gossip{message_id_of({}), {}, {}}},
    {t, msg::prune{}},
    {t, msg::graft{std::nullopt, 3}},
    {t, msg::graft{id_of(9), 65535}},
    {t, ih},
  };
}

// The offset of the first body byte (after topic, family, variant).
constexpr size_t body_at = 34;

} // namespace

TEST_CASE("gossip wire: every message kind round-trips and encoded_size is exact") {
  for (const auto& m : samples()) {
    auto b = encode(m);
    CHECK(b.size() == encoded_size(m));
    auto d = decode(b);
    REQUIRE(d.ok());
    CHECK(*d == m);
    CHECK(encode(*d) == b);
  }
}

TEST_CASE("gossip wire: every truncation of every message fails") {
  for (const auto& m : samples()) {
    auto b = encode(m);
    for (size_t n = 0; n < b.size(); ++n) {
      auto d = decode(byte_view(b.data(), n));
      CHECK_FALSE(d.ok());
    }
  }
}

TEST_CASE("gossip wire: a trailing byte is refused") {
  for (const auto& m : samples()) {
    auto b = encode(m);
    b.push_back(0);
    auto d = decode(b);
    REQUIRE_FALSE(d.ok());
    CHECK(d.err().code == errc::malformed);
  }
}

TEST_CASE("gossip wire: frames over the max message size are refused before parsing") {
  bytes content(5000, 7);
  message m{id_of(1), msg::gossip{message_id_of(content), content, {}}};
  auto b = encode(m);
  auto d = decode(b);
  REQUIRE_FALSE(d.ok());
  CHECK(d.err().code == errc::too_large);
  CHECK(decode(b, 8192).ok());
  // A content of exactly the advertised maximum fits.
  bytes fits(default_max_message_size - gossip_overhead, 1);
  message big{id_of(1), msg::gossip{message_id_of(fits), fits, {delivery_scope::kind::swarm, 9}}};
  CHECK(encoded_size(big) <= default_max_message_size);
  CHECK(decode(encode(big)).ok());
}

TEST_CASE("gossip wire: hostile lengths and counts") {
  auto base = [](uint8_t family, uint8_t variant) {
    bytes b(32, 0xaa);
    b.push_back(family);
    b.push_back(variant);
    return b;
  };
  SUBCASE("content length past the end") {
    auto b = base(1, 0);
    b.insert(b.end(), 32, 0);        // id
    b.insert(b.end(), {0, 0, 0});    // swarm(0)
    b.insert(b.end(), {0xff, 0xff, 0xff, 0xff}); // 4 GiB content
    b.insert(b.end(), {1, 2, 3});
    auto d = decode(b);
    REQUIRE_FALSE(d.ok());
    CHECK(d.err().code == errc::length_mismatch);
  }
  SUBCASE("content length shorter than the rest") {
    auto b = base(1, 0);
    b.insert(b.end(), 32, 0);
    b.insert(b.end(), {0, 0, 0, 0, 0, 0, 1, 9, 9});
    CHECK_FALSE(decode(b).ok());
  }
  SUBCASE("node count over the limit") {
    auto b = base(0, 3);
    b.push_back(200);
    b.insert(b.end(), 200 * 33, 0);
    auto d = decode(b, 1 << 16);
    REQUIRE_FALSE(d.ok());
    CHECK(d.err().code == errc::too_large);
  }
  SUBCASE("node count the input cannot hold") {
    auto b = base(0, 3);
    b.push_back(60);
    b.insert(b.end(), 40, 0);
    auto d = decode(b);
    REQUIRE_FALSE(d.ok());
    CHECK(d.err().code == errc::length_mismatch);
  }
  SUBCASE("ihave count the input cannot hold") {
    auto b = base(1, 3);
    b.insert(b.end(), {0xff, 0xff});
    b.insert(b.end(), 34, 0);
    auto d = decode(b);
    REQUIRE_FALSE(d.ok());
    CHECK(d.err().code == errc::length_mismatch);
  }
  SUBCASE("empty ihave") {
    auto b = base(1, 3);
    b.insert(b.end(), {0, 0});
    CHECK_FALSE(decode(b).ok());
  }
  SUBCASE("address count over the limit") {
    auto b = base(0, 0);
    b.push_back(1);
    b.push_back(17);
    for (int i = 0; i < 17; ++i)
      b.insert(b.end(), {4, 127, 0, 0, 1, 0, 80});
    auto d = decode(b);
    REQUIRE_FALSE(d.ok());
    CHECK(d.err().code == errc::too_large);
  }
  SUBCASE("bad address family, port 0") {
    auto b = base(0, 0);
    b.insert(b.end(), {1, 1, 5, 127, 0, 0, 1, 0, 80});
    CHECK_FALSE(decode(b).ok());
    auto c = base(0, 0);
    c.insert(c.end(), {1, 1, 4, 127, 0, 0, 1, 0, 0});
    CHECK_FALSE(decode(c).ok());
  }
  SUBCASE("booleans and enums other than 0/1") {
    auto b = base(0, 5);
    b.push_back(2);
    CHECK_FALSE(decode(b).ok());
    auto j = base(0, 0);
    j.push_back(2);
    CHECK_FALSE(decode(j).ok());
    auto n = base(0, 4);
    n.insert(n.end(), {2, 0});
    CHECK_FALSE(decode(n).ok());
    auto g = base(1, 2);
    g.insert(g.end(), {2, 0, 0});
    CHECK_FALSE(decode(g).ok());
    auto s = base(1, 0);
    s.insert(s.end(), 32, 0);
    s.insert(s.end(), {2, 0, 0, 0, 0});
    CHECK_FALSE(decode(s).ok());
  }
  SUBCASE("unknown family and variant") {
    CHECK_FALSE(decode(base(2, 0)).ok());
    CHECK_FALSE(decode(base(0, 6)).ok());
    CHECK_FALSE(decode(base(1, 4)).ok());
    CHECK(decode(base(1, 1)).ok()); // Prune has no body
  }
}

TEST_CASE("gossip wire: encoding skips addresses it cannot carry and caps lists") {
  peer_data d = {{"not-an-ip", 1}, {"10.0.0.1", 0}, {"10.0.0.2", 9}, {"fe80::1%eth0", 5}};
  auto out = decode(encode({id_of(1), msg::join{d}}));
  REQUIRE(out.ok());
  auto& j = std::get<msg::join>(out->body);
  REQUIRE(j.data);
  REQUIRE(j.data->size() == 1);
  CHECK((*j.data)[0] == socket_address{"10.0.0.2", 9});
  CHECK(is_ip_literal("::ffff:1.2.3.4"));
  CHECK_FALSE(is_ip_literal("localhost"));

  msg::shuffle_reply many;
  for (int i = 0; i < 100; ++i)
    many.nodes.push_back({id_of(uint8_t(i)), std::nullopt});
  auto r = decode(encode({id_of(1), many}));
  REQUIRE(r.ok());
  CHECK(std::get<msg::shuffle_reply>(r->body).nodes.size() == max_shuffle_nodes);
}

TEST_CASE("gossip wire: the body starts after topic and tags") {
  auto b = encode({id_of(0xaa), msg::disconnect{true}});
  REQUIRE(b.size() == body_at + 1);
  CHECK(b[32] == 0);
  CHECK(b[33] == 5);
  CHECK(b[34] == 1);
}

TEST_CASE("gossip wire: peek_gossip finds topic and id of Gossip frames only") {
  // The peek is a prefetch hint (it reads fixed offsets, no validation): it must point at what
  // decode() reads for every Gossip frame, and at nothing for other kinds or short input.
  for (const auto& m : samples()) {
    auto b = encode(m);
    auto peek = peek_gossip(b);
    if (const auto* g = std::get_if<msg::gossip>(&m.body)) {
      REQUIRE(peek.id != nullptr);
      CHECK(std::equal(m.topic.begin(), m.topic.end(), peek.topic));
      CHECK(std::equal(g->id.begin(), g->id.end(), peek.id));
      // Every cut short of the id's end is too short to peek.
      for (size_t n = 0; n < body_at + 32; ++n)
        CHECK(peek_gossip(byte_view(b.data(), n)).id == nullptr);
    } else {
      CHECK(peek.id == nullptr);
      CHECK(peek.topic == nullptr);
    }
  }
}
