// Randomized (bounded, seeded) robustness tests of the bencode / KRPC decoders and the node's
// packet handler: mutated valid packets must never crash, and whatever bencode accepts must
// re-encode to the same bytes (canonical-only decoding).
#include "dht/bencode.hpp"
#include "dht/krpc.hpp"
#include "dht/node.hpp"
#include "sim.hpp"

#include <doctest/doctest.h>

using namespace dtt;
using namespace dtt::dht;

namespace {

std::vector<bytes> corpus() {
  using namespace std::string_literals;
  std::vector<std::string> seeds = {
    "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe",
    "d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q9:find_node1:t2:aa1:y1:qe",
    "d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q3:get1:t2:aa1:y1:qe",
    "d1:rd2:id20:mnopqrstuvwxyz1234565:nodes26:abcdefghij0123456789\x7f\x00\x00\x01\x1a\xe1"
    "5:token2:xye1:t2:aa1:y1:re"s,
    "d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee",
    "d1:ad2:id20:abcdefghij01234567891:k32:kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk4:salt1:s3:seqi1e"
    "3:sig64:ssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssss5:token2:xy"
    "1:v5:helloe1:q3:put1:t2:aa1:y1:qe",
    "d1:rd2:id20:mnopqrstuvwxyz1234566:valuesl6:\x7f\x00\x00\x01\x1a\xe1" "ee1:t2:aa1:y1:re"s,
  };
  std::vector<bytes> out;
  for (auto& s : seeds)
    out.emplace_back(s.begin(), s.end());
  return out;
}

bytes mutate(const bytes& in, crypto::random_source& rng) {
  bytes b = in;
  auto r = [&](uint64_t n) { return crypto::uniform_below(rng, n); };
  size_t ops = 1 + r(4);
  for (size_t i = 0; i < ops; ++i) {
    switch (r(6)) {
      case 0: // flip a byte
        if (!b.empty())
          b[r(b.size())] = static_cast<uint8_t>(r(256));
        break;
      case 1: // insert a structural byte
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(r(b.size() + 1)),
                 static_cast<uint8_t>("ilde:0123456789-"[r(16)]));
        break;
      case 2: // delete
        if (!b.empty())
          b.erase(b.begin() + static_cast<std::ptrdiff_t>(r(b.size())));
        break;
      case 3: // truncate
        b.resize(r(b.size() + 1));
        break;
      case 4: { // duplicate a slice
        if (b.empty())
          break;
        size_t a = r(b.size()), n = r(b.size() - a) + 1;
        bytes slice(b.begin() + static_cast<std::ptrdiff_t>(a),
                    b.begin() + static_cast<std::ptrdiff_t>(a + n));
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(r(b.size() + 1)), slice.begin(),
                 slice.end());
        break;
      }
      default: // digit tweak (length fields)
        for (auto& c : b)
          if (c >= '0' && c <= '9' && r(8) == 0)
            c = static_cast<uint8_t>('0' + r(10));
        break;
    }
  }
  return b;
}

} // namespace

TEST_CASE("fuzz: mutated KRPC packets never crash and bencode stays canonical") {
  test::seeded_random rng(2024);
  auto seeds = corpus();
  for (auto& s : seeds) {
    auto m = krpc::decode(s);
    CAPTURE(std::string(s.begin(), s.end()));
    REQUIRE(m); // the corpus itself is valid
    CHECK(m->reject_code == 0);
  }
  size_t accepted = 0, rejected = 0;
  for (int i = 0; i < 20000; ++i) {
    auto b = mutate(seeds[static_cast<size_t>(i) % seeds.size()], rng);
    auto v = bencode::decode(b, krpc::krpc_limits());
    if (v) {
      CHECK(bencode::encode(*v) == b);
      ++accepted;
    } else {
      ++rejected;
    }
    auto m = krpc::decode(b);
    if (m && m->reject_code == 0) {
      // A message that parses re-encodes to something that parses the same way.
      auto again = krpc::decode(krpc::encode(*m));
      REQUIRE(again);
      CHECK(again->tid == m->tid);
      CHECK(again->y == m->y);
    }
  }
  CHECK(accepted > 100);
  CHECK(rejected > 100);
}

TEST_CASE("fuzz: a node survives a stream of mutated packets and keeps working") {
  test::sim_net net;
  net.build(8);
  auto& target = *net.hosts[0];
  auto seeds = corpus();
  auto evil = endpoint::v4(10, 66, 66, 66, 6666);
  for (int i = 0; i < 5000; ++i) {
    auto b = mutate(seeds[static_cast<size_t>(i) % seeds.size()], net.rng);
    target.n->handle_packet(b, evil, net.now);
    net.queue.clear();
  }
  CHECK(target.n->stats()["bad_packets"] > 0);
  node_config cfg;
  cfg.read_only = true;
  auto& c = net.add(cfg);
  c.n->bootstrap({target.ep}, net.now);
  net.settle();
  auto id = c.n->find_node(random_id(net.rng), net.now);
  net.run_until([&] { return c.done.count(id) > 0; });
  REQUIRE(c.done.count(id));
  CHECK(c.done[id].closest.size() == 8);
}
