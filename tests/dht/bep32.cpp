// BEP 32 (the IPv6 DHT) in the sans-IO core: "nodes6" and "want" on the wire, one routing table
// per family with one entry per IPv4 address / IPv6 /64, dual-stack lookups, BEP 44 items
// crossing between an IPv4-only and an IPv6-only node through dual-stack nodes, and the
// routing-table cache file with both families.
#include "dht/krpc.hpp"
#include "dht/node.hpp"
#include "dht/routing_table.hpp"

#include "sim.hpp"

#include <doctest/doctest.h>

#include <algorithm>

using namespace dtt;
using namespace dtt::dht;
using namespace std::chrono_literals;
using test::sim_host;
using test::sim_net;

namespace {

node_id id_of(uint8_t b) {
  node_id id;
  id.fill(b);
  return id;
}

endpoint v6(std::initializer_list<uint8_t> head, uint8_t last, uint16_t port) {
  endpoint e;
  e.family = 6;
  size_t i = 0;
  for (auto b : head)
    e.ip[i++] = b;
  e.ip[15] = last;
  e.port = port;
  return e;
}

endpoint mapped(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port) {
  endpoint e;
  e.family = 6;
  e.ip[10] = 0xff;
  e.ip[11] = 0xff;
  e.ip[12] = a;
  e.ip[13] = b;
  e.ip[14] = c;
  e.ip[15] = d;
  e.port = port;
  return e;
}

std::string str(const bytes& b) { return std::string(b.begin(), b.end()); }

bytes nodes6_record(const node_id& id, const endpoint& ep) {
  bytes out;
  append(out, id);
  append(out, compact_endpoint(ep));
  return out;
}

// A find_node response dict carrying `nodes6` verbatim.
std::string response_with_nodes6(const bytes& nodes6) {
  return "d1:rd2:id20:" + std::string(20, 'r') + "6:nodes6" + std::to_string(nodes6.size())
         + ":" + str(nodes6) + "e1:t2:aa1:y1:re";
}

crypto::signing_key key_from(uint8_t b) {
  bytes32 seed;
  seed.fill(b);
  return crypto::signing_key::from_seed(seed);
}

const completion& wait_done(sim_net& net, sim_host& h, request_id id) {
  net.run_until([&] { return h.done.count(id) > 0; }, 60s);
  REQUIRE(h.done.count(id));
  return h.done.at(id);
}

// Servers: `n4` IPv4-only, `n6` IPv6-only and `dual` dual-stack, each bootstrapped from the
// dual-stack hosts (both families) and the previous host of its family.
struct mixed_net {
  sim_net net;
  std::vector<sim_host*> v4, v6, dual;

  mixed_net(size_t n4, size_t n6, size_t ndual) {
    for (size_t i = 0; i < ndual; ++i)
      dual.push_back(&net.add_host({}, true, true));
    for (size_t i = 0; i < n4; ++i)
      v4.push_back(&net.add_host({}, true, false));
    for (size_t i = 0; i < n6; ++i)
      v6.push_back(&net.add_host({}, false, true));
    auto previous = [](const std::vector<sim_host*>& list, sim_host* h) -> sim_host* {
      auto it = std::find(list.begin(), list.end(), h);
      if (it == list.end() || list.size() < 2)
        return nullptr;
      return it == list.begin() ? list.back() : *std::prev(it);
    };
    for (auto& hp : net.hosts) {
      auto* host = hp.get();
      std::vector<endpoint> seeds;
      for (auto* d : dual) {
        if (d == host)
          continue;
        seeds.push_back(d->ep);
        seeds.push_back(d->ep6);
      }
      for (auto* list : {&v4, &v6})
        if (auto* p = previous(*list, host))
          seeds.push_back(p->ep);
      if (std::find(dual.begin(), dual.end(), host) != dual.end())
        for (auto* list : {&v4, &v6})
          if (!list->empty())
            seeds.push_back(list->front()->ep);
      host->n->bootstrap(seeds, net.now);
    }
    net.settle();
    // Second round: every table fills from the others' answers.
    for (auto& h : net.hosts)
      h->n->find_node(random_id(net.rng), net.now);
    net.settle();
  }

  sim_host& client(bool four, bool six) {
    node_config cfg;
    cfg.read_only = true;
    auto& c = net.add_host(cfg, four, six);
    std::vector<endpoint> seeds;
    if (four)
      seeds.push_back(dual[0]->ep);
    if (six)
      seeds.push_back(dual[0]->ep6);
    c.n->bootstrap(seeds, net.now);
    net.settle();
    return c;
  }
};

} // namespace

TEST_CASE("BEP 32 want: n4/n6 round-trip in find_node, get_peers and get, unknown flags and a "
          "malformed want are ignored") {
  for (auto meth : {krpc::method::find_node, krpc::method::get_peers, krpc::method::get}) {
    CAPTURE(krpc::method_name(meth));
    for (uint8_t w : {uint8_t{0}, krpc::want::n4, krpc::want::n6,
                      uint8_t(krpc::want::n4 | krpc::want::n6)}) {
      krpc::query q;
      q.m = meth;
      q.id = id_of(1);
      q.target = id_of(2);
      q.want = w;
      auto wire = krpc::encode(krpc::make_query("aa", q));
      auto s = str(wire);
      CHECK((s.find("4:wantl") != std::string::npos) == (w != 0));
      auto back = krpc::decode(wire);
      REQUIRE(back);
      CHECK(back->reject_code == 0);
      CHECK(back->q.want == w);
    }
  }
  // The BEP's form: a list of strings; "n5" is nobody's and is skipped.
  std::string both = "d1:ad2:id20:" + std::string(20, 'a') + "6:target20:" + std::string(20, 'b')
                     + "4:wantl2:n42:n52:n6ee1:q9:find_node1:t2:aa1:y1:qe";
  auto m = krpc::decode(byte_view::of(both));
  REQUIRE(m);
  CHECK(m->q.want == (krpc::want::n4 | krpc::want::n6));
  // A want that is a string, or holds integers, asks for nothing special: the default family.
  for (std::string bad : {std::string("4:want2:n6"), std::string("4:wantli6ee")}) {
    std::string q = "d1:ad2:id20:" + std::string(20, 'a') + "6:target20:" + std::string(20, 'b')
                    + bad + "e1:q9:find_node1:t2:aa1:y1:qe";
    auto r = krpc::decode(byte_view::of(q));
    REQUIRE(r);
    CHECK(r->reject_code == 0);
    CHECK(r->q.want == 0);
  }
  // ping takes no want: none is written.
  krpc::query p;
  p.m = krpc::method::ping;
  p.want = krpc::want::n6;
  CHECK(str(krpc::encode(krpc::make_query("aa", p))).find("want") == std::string::npos);
}

TEST_CASE("BEP 32 nodes6: 38-byte records round-trip, while a length off the record size, too many "
          "records, and IPv4-mapped or unspecified addresses are refused") {
  krpc::response r;
  r.id = id_of(9);
  r.nodes = {{id_of(1), endpoint::v4(10, 0, 0, 1, 6881)},
             {id_of(2), v6({0x20, 0x01, 0x0d, 0xb8}, 2, 6882)},
             {id_of(3), v6({0xfd}, 3, 6883)}};
  auto wire = krpc::encode(krpc::make_response("aa", r));
  auto s = str(wire);
  CHECK(s.find("5:nodes26:") != std::string::npos);
  CHECK(s.find("6:nodes676:") != std::string::npos); // two 38-byte records
  auto back = krpc::decode(wire);
  REQUIRE(back);
  CHECK(back->r.nodes == r.nodes);
  CHECK(back->r.refused_nodes == 0);

  auto good = nodes6_record(id_of(4), v6({0xfd}, 4, 1));
  for (size_t cut : {size_t{1}, size_t{12}, size_t{20}}) { // 37, 26 and 18 bytes: not 38 each
    bytes b(good.begin(), good.end() - static_cast<std::ptrdiff_t>(cut));
    CAPTURE(b.size());
    CHECK_FALSE(krpc::decode(byte_view::of(response_with_nodes6(b))));
  }
  bytes plus_one = good;
  plus_one.push_back(0);
  CHECK_FALSE(krpc::decode(byte_view::of(response_with_nodes6(plus_one))));
  // A 26-byte IPv4 record under "nodes6" is not 38 bytes either.
  bytes v4rec;
  append(v4rec, id_of(5));
  append(v4rec, compact_endpoint(endpoint::v4(10, 0, 0, 5, 5)));
  CHECK_FALSE(krpc::decode(byte_view::of(response_with_nodes6(v4rec))));

  // Bounded: more than max_nodes_per_key records fail (before any datagram limit).
  bytes many;
  for (size_t i = 0; i <= krpc::max_nodes_per_key; ++i)
    append(many, good);
  auto over = parse_compact_nodes(many, 6, krpc::max_nodes_per_key);
  REQUIRE_FALSE(over);
  CHECK(over.err().code == errc::too_large);
  many.resize(krpc::max_nodes_per_key * 38);
  CHECK(parse_compact_nodes(many, 6, krpc::max_nodes_per_key));

  // IPv4-mapped (::ffff:a.b.c.d), unspecified (::) and port-0 records are left out and counted.
  bytes mixed = good;
  append(mixed, nodes6_record(id_of(6), mapped(10, 0, 0, 6, 6881)));
  append(mixed, nodes6_record(id_of(7), v6({}, 0, 6881)));
  append(mixed, nodes6_record(id_of(8), v6({0xfd}, 8, 0)));
  auto m = krpc::decode(byte_view::of(response_with_nodes6(mixed)));
  REQUIRE(m);
  REQUIRE(m->r.nodes.size() == 1);
  CHECK(m->r.nodes[0].id == id_of(4));
  CHECK(m->r.refused_nodes == 3);
  CHECK(is_v4_mapped(mapped(1, 2, 3, 4, 5)));
  CHECK_FALSE(is_v4_mapped(v6({0xfd}, 1, 1)));
  CHECK_FALSE(is_v4_mapped(endpoint::v4(0, 0, 0, 0, 1)));
}

TEST_CASE("BEP 32 tables: one entry per IPv6 /64 (per IP:port when configured), apart from the "
          "IPv4 table") {
  routing_table::config cfg;
  routing_table t6(id_of(0), cfg);
  auto now = time_point{} + 1h;
  auto a = v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1}, 1, 6881);
  auto same64 = v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1}, 2, 6881);     // same /64
  same64.ip[8] = 0x77;
  auto other64 = v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 2}, 1, 6881);    // next /64
  CHECK(t6.heard_from({id_of(0x81), a}, now, true).outcome == table_outcome::in_bucket);
  CHECK(t6.heard_from({id_of(0x82), same64}, now, true).outcome == table_outcome::address_taken);
  CHECK(t6.heard_from({id_of(0x83), other64}, now, true).outcome == table_outcome::in_bucket);
  CHECK(t6.size() == 2);
  CHECK(address_unit(same64) == address_unit(a));
  CHECK(address_unit(endpoint::v4(10, 1, 2, 3, 9)) == endpoint::v4(10, 1, 2, 3, 0));

  cfg.one_per_ip = false; // e.g. a testnet where every node shares ::1
  routing_table shared(id_of(0), cfg);
  auto lo = v6({}, 1, 7000);
  auto lo2 = lo;
  lo2.port = 7001;
  CHECK(shared.heard_from({id_of(0x81), lo}, now, true));
  CHECK(shared.heard_from({id_of(0x82), lo2}, now, true));
  CHECK(shared.size() == 2);

  // The same id in both families' tables of a dual-stack node (BEP 32 recommends one id).
  sim_net net;
  auto& server = net.add_host({}, true, true);
  auto& peer = net.add_host({}, true, true);
  peer.n->bootstrap({server.ep, server.ep6}, net.now);
  net.settle();
  REQUIRE(peer.n->table().find(server.n->id()));
  REQUIRE(peer.n->table6().find(server.n->id()));
  CHECK(peer.n->table().find(server.n->id())->node.ep == server.ep);
  CHECK(peer.n->table6().find(server.n->id())->node.ep == server.ep6);
}

TEST_CASE("BEP 32 replies: nodes of the querier's family by default, of each family it wants") {
  mixed_net m(8, 8, 2);
  auto& d = *m.dual[0];
  REQUIRE(d.n->table().size() >= 8);
  REQUIRE(d.n->table6().size() >= 8);
  auto ask = [&](const endpoint& from, uint8_t want) {
    krpc::query q;
    q.m = krpc::method::find_node;
    q.id = id_of(0x42);
    q.target = id_of(0x17);
    q.want = want;
    m.net.queue.clear();
    d.n->handle_packet(krpc::encode(krpc::make_query("zz", q)), from, m.net.now);
    REQUIRE(m.net.queue.size() >= 1);
    auto reply = krpc::decode(m.net.queue.back().data);
    REQUIRE(reply);
    CHECK(m.net.queue.back().to == from);
    size_t n4 = 0, n6 = 0;
    for (auto& n : reply->r.nodes)
      (n.ep.family == 6 ? n6 : n4)++;
    m.net.queue.clear();
    return std::make_pair(n4, n6);
  };
  auto from4 = endpoint::v4(10, 9, 9, 9, 4000);
  auto from6 = v6({0xfd, 0, 0, 0, 0, 0, 9, 9}, 9, 4000);
  CHECK(ask(from4, 0) == std::make_pair(size_t{8}, size_t{0}));
  CHECK(ask(from6, 0) == std::make_pair(size_t{0}, size_t{8}));
  CHECK(ask(from4, krpc::want::n6) == std::make_pair(size_t{0}, size_t{8}));
  CHECK(ask(from6, krpc::want::n4 | krpc::want::n6) == std::make_pair(size_t{8}, size_t{8}));
  // An IPv4-only node has no IPv6 nodes to give: it answers with what it has.
  auto& only4 = *m.v4[0];
  krpc::query q;
  q.m = krpc::method::find_node;
  q.id = id_of(0x42);
  q.target = id_of(0x17);
  q.want = krpc::want::n6 | krpc::want::n4;
  only4.n->handle_packet(krpc::encode(krpc::make_query("zz", q)), from4, m.net.now);
  REQUIRE(!m.net.queue.empty());
  auto reply = krpc::decode(m.net.queue.back().data);
  REQUIRE(reply);
  for (auto& n : reply->r.nodes)
    CHECK(n.ep.family == 4);
  m.net.queue.clear();
}

TEST_CASE("BEP 32 lookups: a dual-stack node queries both tables' closest nodes, single-stack "
          "nodes stay in their DHT") {
  mixed_net m(12, 12, 2);
  for (auto* h : m.v4)
    CHECK(h->n->table6().size() == 0);
  for (auto* h : m.v6)
    CHECK(h->n->table().size() == 0);
  auto& dual = m.client(true, true);
  CHECK(dual.n->table().size() >= 8);
  CHECK(dual.n->table6().size() >= 8);
  size_t to4 = 0, to6 = 0;
  m.net.filter = [&](sim_net::packet& p) {
    if (p.from == dual.ep)
      ++to4;
    if (p.from == dual.ep6)
      ++to6;
    return true;
  };
  auto target = random_id(m.net.rng);
  auto& done = wait_done(m.net, dual, dual.n->find_node(target, m.net.now));
  CHECK(to4 >= 8);
  CHECK(to6 >= 8);
  size_t c4 = 0, c6 = 0;
  for (auto& n : done.closest)
    (n.ep.family == 6 ? c6 : c4)++;
  CHECK(c4 == 8); // k of each DHT
  CHECK(c6 == 8);
  CHECK(std::is_sorted(done.closest.begin(), done.closest.end(),
                       [&](const node_entry& a, const node_entry& b) {
                         return closer(target, a.id, b.id);
                       }));
  // Single-stack lookups never leave their family, even though dual-stack servers list nodes of
  // both families to those that want them.
  m.net.filter = nullptr;
  auto before = m.net.unsendable;
  auto& c4only = m.client(true, false);
  auto& c6only = m.client(false, true);
  auto& r4 = wait_done(m.net, c4only, c4only.n->find_node(target, m.net.now));
  auto& r6 = wait_done(m.net, c6only, c6only.n->find_node(target, m.net.now));
  for (auto& n : r4.closest)
    CHECK(n.ep.family == 4);
  for (auto& n : r6.closest)
    CHECK(n.ep.family == 6);
  CHECK(r4.closest.size() == 8);
  CHECK(r6.closest.size() == 8);
  CHECK(m.net.unsendable == before);
}

TEST_CASE("BEP 32 + BEP 44: an item put by an IPv4-only node is found by an IPv6-only node "
          "through dual-stack nodes, and back") {
  // Each DHT has 8 servers (5 single-stack, 3 dual-stack): every one of them stores a put.
  mixed_net m(5, 5, 3);
  auto& w4 = m.client(true, false);
  auto& r6 = m.client(false, true);
  auto item = mutable_item::sign(key_from(7), bytes{'s'}, 1, bytes{'v', '4'});
  auto& put = wait_done(m.net, w4, w4.n->put_mutable(item, std::nullopt, m.net.now));
  CHECK(put.put.stored >= 6);
  size_t dual_holders = 0, v6_holders = 0;
  for (auto* d : m.dual)
    dual_holders += d->n->storage().get(item.target()) != nullptr;
  for (auto* h : m.v6)
    v6_holders += h->n->storage().get(item.target()) != nullptr;
  CHECK(dual_holders == 3);
  CHECK(v6_holders == 0); // nothing crosses to the IPv6 DHT but through a dual-stack node
  auto id = r6.n->get_mutable(item.key, bytes{'s'}, m.net.now);
  auto& got = wait_done(m.net, r6, id);
  CHECK(got.items >= 1);
  CHECK(got.items <= dual_holders);
  for (auto& [rid, it] : r6.items)
    if (rid == id)
      CHECK(it == item);

  auto& w6 = m.client(false, true);
  auto& r4 = m.client(true, false);
  auto back = mutable_item::sign(key_from(8), bytes{'t'}, 1, bytes{'v', '6'});
  CHECK(wait_done(m.net, w6, w6.n->put_mutable(back, std::nullopt, m.net.now)).put.stored >= 6);
  auto id4 = r4.n->get_mutable(back.key, bytes{'t'}, m.net.now);
  CHECK(wait_done(m.net, r4, id4).items >= 1);
  // A dual-stack writer stores in both DHTs: k nodes of each.
  auto& wd = m.client(true, true);
  auto both = mutable_item::sign(key_from(9), bytes{'u'}, 1, bytes{'d'});
  auto& pd = wait_done(m.net, wd, wd.n->put_mutable(both, std::nullopt, m.net.now));
  CHECK(pd.put.stored >= 12);
}

TEST_CASE("BEP 32 + BEP 42: a dual-stack node learns its external address per family") {
  mixed_net m(8, 8, 2);
  auto& dual = m.client(true, true);
  // Enough responders of each family report the address they saw (BEP 42 "ip").
  wait_done(m.net, dual, dual.n->find_node(random_id(m.net.rng), m.net.now));
  auto e4 = dual.n->external_address(4);
  auto e6 = dual.n->external_address(6);
  REQUIRE(e4);
  REQUIRE(e6);
  CHECK(*e4 == address_unit(dual.ep));
  auto want6 = dual.ep6;
  want6.port = 0;
  CHECK(*e6 == want6);
  CHECK(dual.n->external_address() == e4);
}

TEST_CASE("BEP 32 cache file: both families saved (bounded), files with IPv4 only still load, "
          "IPv4-mapped records in nodes6 are dropped") {
  std::vector<node_entry> nodes{{id_of(1), endpoint::v4(10, 0, 0, 1, 1)},
                                {id_of(2), v6({0xfd}, 2, 2)},
                                {id_of(3), v6({0x20, 0x01}, 3, 3)}};
  auto saved = routing_table::save(nodes);
  auto loaded = routing_table::load(saved);
  REQUIRE(loaded);
  CHECK(*loaded == nodes);
  // A file from before BEP 32 support holds "nodes" only.
  bencode::value old = bencode::value::dict();
  old.set("nodes", bencode::value::string(compact_nodes(nodes, 4)));
  auto legacy = routing_table::load(bencode::encode(old));
  REQUIRE(legacy);
  REQUIRE(legacy->size() == 1);
  CHECK((*legacy)[0] == nodes[0]);
  // Bounded on write and on read.
  std::vector<node_entry> lots;
  for (size_t i = 0; i < routing_table::max_saved_nodes + 10; ++i) {
    auto ep = v6({0xfd, 0, 0, 0, 0, 0, uint8_t(i >> 8), uint8_t(i)}, 1, 1);
    lots.push_back({random_id(crypto::os_random()), ep});
  }
  auto big = routing_table::load(routing_table::save(lots));
  REQUIRE(big);
  CHECK(big->size() == routing_table::max_saved_nodes);
  bytes too_many;
  for (size_t i = 0; i <= routing_table::max_saved_nodes; ++i)
    append(too_many, nodes6_record(id_of(4), v6({0xfd}, 4, 4)));
  bencode::value over = bencode::value::dict();
  over.set("nodes6", bencode::value::string(too_many));
  CHECK_FALSE(routing_table::load(bencode::encode(over)));
  // A mapped address in nodes6 does not come back as an IPv6 node.
  bencode::value bad = bencode::value::dict();
  bytes b6 = nodes6_record(id_of(5), mapped(10, 0, 0, 5, 5));
  append(b6, nodes6_record(id_of(6), v6({0xfd}, 6, 6)));
  bad.set("nodes6", bencode::value::string(b6));
  auto filtered = routing_table::load(bencode::encode(bad));
  REQUIRE(filtered);
  REQUIRE(filtered->size() == 1);
  CHECK((*filtered)[0].id == id_of(6));
}
