// Fuzz target for the bencode and KRPC decoders and a server node's packet handler.
// Built by fuzz/CMakeLists.txt: a libFuzzer binary with -DDTT_FUZZ=ON (clang), else the replay
// driver (fuzz/driver.cpp) over fuzz/corpus/krpc/.
// Properties checked (abort on violation):
//  - whatever bencode::decode accepts re-encodes to the same bytes (canonical-only decoding);
//  - a KRPC message that decodes re-encodes to bytes that decode and re-encode identically;
//  - a dht::node survives the input as a datagram (twice, then a tick), answering at most one
//    datagram per input and sending at most one verification ping per input, and every
//    datagram it sends decodes.

#include "dht/bencode.hpp"
#include "dht/item.hpp"
#include "dht/krpc.hpp"
#include "dht/node.hpp"

#include <cstdio>
#include <cstdlib>

using namespace dtt;
using namespace dtt::dht;

namespace {

[[noreturn]] void violated(const char* what) {
  std::fprintf(stderr, "fuzz_krpc: property violated: %s\n", what);
  std::abort();
}

struct sink final : node_effects {
  std::vector<bytes> sent;
  void send(const endpoint&, bytes packet) override { sent.push_back(std::move(packet)); }
};

const endpoint from = endpoint::v4(127, 0, 0, 1, 6881);
const time_point start = time_point{} + std::chrono::hours(1);

/// A server node whose randomness (id, token secret) is the same for every input, so that a
/// seed's write token stays valid.
struct fixture {
  crypto::fixed_random rng{bytes(64, 0x5c)};
  sink fx;
  node n;
  fixture() : n(config(), fx, rng) {}
  static node_config config() {
    node_config c;
    c.rate_limit_per_ip = 0;
    node_id id;
    id.fill(0x42);
    c.id = id;
    return c;
  }
};

bytes query_packet(krpc::query q) {
  q.id.fill(0x11);
  return krpc::encode(krpc::make_query("aa", std::move(q)));
}

} // namespace

namespace dtt::fuzz {
/// Valid seed inputs: every KRPC query kind (a BEP 44 put with a valid signature and a write
/// token the target's node accepts), responses and errors. fuzz/corpus/krpc/ holds them as
/// files; building them here also checks that they still reach the storage paths.
std::vector<bytes> krpc_seed_corpus();
} // namespace dtt::fuzz

// Both libFuzzer and the replay driver call this once: abort early if the seeds went stale.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void) dtt::fuzz::krpc_seed_corpus();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  byte_view in(data, size);
  if (auto v = bencode::decode(in, krpc::krpc_limits())) {
    auto again = bencode::encode(*v);
    if (again.size() != size || !std::equal(again.begin(), again.end(), data))
      violated("bencode decode+encode is not the identity");
  }
  if (auto m = krpc::decode(in); m && m->reject_code == 0) {
    auto e1 = krpc::encode(*m);
    auto m2 = krpc::decode(e1);
    if (!m2)
      violated("a re-encoded KRPC message does not decode");
    if (m2->reject_code != 0)
      violated("a re-encoded KRPC query is rejected");
    if (krpc::encode(*m2) != e1)
      violated("KRPC encode(decode(encode(m))) != encode(m)");
  }
  fixture f;
  f.n.handle_packet(in, from, start);
  f.n.handle_packet(in, from, start + std::chrono::seconds(1));
  // Per datagram at most one answer (response or error), and at most one query: the ping that
  // checks an unknown querier before it may enter the routing table.
  size_t answers = 0, queries = 0;
  for (auto& out : f.fx.sent) {
    auto m = krpc::decode(out);
    if (!m)
      violated("the node sent a datagram it cannot decode itself");
    (m->y == krpc::message::type::query ? queries : answers) += 1;
  }
  if (answers > 2)
    violated("more than one answer per datagram");
  if (queries > 2)
    violated("more than one verification ping per datagram");
  f.n.tick(start + std::chrono::seconds(3)); // may send refresh queries
  for (auto& out : f.fx.sent)
    if (!krpc::decode(out))
      violated("the node sent a datagram it cannot decode itself");
  return 0;
}

namespace dtt::fuzz {

std::vector<bytes> krpc_seed_corpus() {
  std::vector<bytes> out;
  // The token the fixture's node hands out to `from` (obtained by asking it).
  bytes token;
  {
    fixture f;
    krpc::query q;
    q.m = krpc::method::get;
    q.target.fill(0x33);
    f.n.handle_packet(query_packet(q), from, start);
    // The answer, not the ping a server now sends to an unknown querier before it may enter
    // the routing table (dht/node.cpp handle_query).
    for (auto& packet : f.fx.sent)
      if (auto r = krpc::decode(packet); r && r->y == krpc::message::type::response)
        token = r->r.token;
  }
  krpc::query q;
  out.push_back(query_packet(q)); // ping
  q.m = krpc::method::find_node;
  q.target.fill(0x77);
  out.push_back(query_packet(q));
  q.m = krpc::method::get_peers;
  out.push_back(query_packet(q));
  q.m = krpc::method::get;
  q.seq = 3;
  out.push_back(query_packet(q));
  q.seq.reset();
  q.m = krpc::method::announce_peer;
  q.token = token;
  q.port = 6881;
  out.push_back(query_packet(q));
  {
    bytes32 seed;
    seed.fill(9);
    auto key = crypto::signing_key::from_seed(seed);
    auto item = mutable_item::sign(key, bytes(32, 0x01), 7, bytes{'h', 'i'});
    krpc::query p;
    p.m = krpc::method::put;
    p.token = token;
    p.v = bencode::value::string(item.value);
    p.k = item.key;
    p.sig = item.signature;
    p.salt = item.salt;
    p.seq = item.seq;
    p.cas = 7;
    out.push_back(query_packet(p));
    krpc::query imm;
    imm.m = krpc::method::put;
    imm.token = token;
    imm.v = bencode::value::string(std::string("immutable"));
    out.push_back(query_packet(imm));
    krpc::response r;
    r.id.fill(0x22);
    r.token = token;
    r.v = bencode::value::string(item.value);
    r.k = item.key;
    r.sig = item.signature;
    r.seq = item.seq;
    node_entry ne;
    ne.id.fill(0x44);
    ne.ep = endpoint::v4(127, 0, 0, 1, 7000);
    r.nodes.push_back(ne);
    out.push_back(krpc::encode(krpc::make_response("bb", r)));
    krpc::response pr;
    pr.id.fill(0x23);
    pr.values.push_back(endpoint::v4(127, 0, 0, 1, 7001));
    out.push_back(krpc::encode(krpc::make_response("cc", pr)));
  }
  out.push_back(krpc::encode(krpc::make_error("dd", krpc::code::protocol, "bad token")));
  // Self-check: the seeds reach the storage paths (valid token and signature).
  fixture f;
  for (auto& b : out)
    f.n.handle_packet(b, from, start);
  auto st = f.n.stats();
  if (st["puts_stored"] != 2 || st["bad_packets"] != 0) {
    std::fprintf(stderr, "fuzz_krpc: seeds: puts_stored %llu (want 2), bad_packets %llu (want 0)\n",
                 static_cast<unsigned long long>(st["puts_stored"]),
                 static_cast<unsigned long long>(st["bad_packets"]));
    violated("the seed corpus no longer reaches the put paths (token or signature changed?)");
  }
  return out;
}

} // namespace dtt::fuzz
