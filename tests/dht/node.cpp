#include "dht/node.hpp"

#include "sim.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <set>

using namespace dtt;
using namespace dtt::dht;
using namespace std::chrono_literals;
using test::sim_host;
using test::sim_net;

namespace {

crypto::signing_key key_from(uint8_t b) {
  bytes32 seed;
  seed.fill(b);
  return crypto::signing_key::from_seed(seed);
}

bytes str_bytes(const std::string& s) { return bytes(s.begin(), s.end()); }

sim_host& client(sim_net& net, size_t seed_index = 0) {
  node_config cfg;
  cfg.read_only = true;
  auto& c = net.add(cfg);
  c.n->bootstrap({net.hosts[seed_index]->ep}, net.now);
  net.settle();
  return c;
}

// Runs a command to completion and returns its result.
const completion& wait_done(sim_net& net, sim_host& h, request_id id) {
  net.run_until([&] { return h.done.count(id) > 0; }, 60s);
  REQUIRE(h.done.count(id));
  return h.done.at(id);
}

std::vector<node_id> true_closest(sim_net& net, const node_id& target, size_t k) {
  std::vector<node_id> ids;
  for (auto& h : net.hosts)
    if (h->alive && !h->n->read_only())
      ids.push_back(h->n->id());
  std::sort(ids.begin(), ids.end(),
            [&](const node_id& a, const node_id& b) { return closer(target, a, b); });
  ids.resize(std::min(k, ids.size()));
  return ids;
}

// Hands `packet` from `from` to `server` and returns its reply (the last answer or error sent
// back to `from`, not a verification ping), if any.
std::optional<krpc::message> deliver_to(sim_net& net, sim_host& server, const endpoint& from,
                                        const std::string& packet) {
  net.queue.clear();
  server.n->handle_packet(byte_view::of(packet), from, net.now);
  std::optional<krpc::message> reply;
  for (auto& p : net.queue)
    if (p.to == from)
      if (auto r = krpc::decode(p.data); r && r->y != krpc::message::type::query)
        reply = *r;
  net.queue.clear();
  return reply;
}

// Sums the stats whose names start with `prefix` (queries_in_ping, queries_in_get, ...).
uint64_t sum_of(const std::map<std::string, uint64_t>& stats, const std::string& prefix) {
  uint64_t n = 0;
  for (auto& [name, v] : stats)
    if (name.rfind(prefix, 0) == 0)
      n += v;
  return n;
}

} // namespace

TEST_CASE("bootstrapped nodes fill their routing tables and the own bucket splits") {
  sim_net net;
  net.build(60);
  for (auto& h : net.hosts)
    CHECK(h->n->table().size() >= 8);
  size_t max_buckets = 0;
  for (auto& h : net.hosts)
    max_buckets = std::max(max_buckets, h->n->table().bucket_count());
  CHECK(max_buckets >= 3);
}

TEST_CASE("iterative find_node converges on the k closest nodes") {
  sim_net net;
  net.build(80);
  auto& c = client(net, 5);
  for (int round = 0; round < 5; ++round) {
    auto target = random_id(net.rng);
    auto& done = wait_done(net, c, c.n->find_node(target, net.now));
    auto expect = true_closest(net, target, 8);
    REQUIRE(done.closest.size() == 8);
    CHECK(done.closest[0].id == expect[0]);
    size_t overlap = 0;
    for (auto& n : done.closest)
      overlap += std::count(expect.begin(), expect.end(), n.id);
    CHECK(overlap >= 7);
  }
}

TEST_CASE("put_mutable from one client, get_mutable from another returns the item") {
  sim_net net;
  net.build(40);
  auto& writer = client(net, 3);
  auto& reader = client(net, 17);
  auto item = mutable_item::sign(key_from(1), str_bytes("salt"), INT64_MAX, str_bytes("hello"));
  auto& put = wait_done(net, writer, writer.n->put_mutable(item, INT64_MAX, net.now));
  CHECK(put.put.stored >= 6);
  CHECK(put.put.ok());
  // Clients (read-only) store nothing; servers near the target hold it.
  CHECK(writer.n->storage().size() == 0);
  size_t holders = 0;
  for (auto& h : net.hosts)
    holders += h->n->storage().get(item.target()) != nullptr;
  CHECK(holders == put.put.stored);

  auto id = reader.n->get_mutable(item.key, str_bytes("salt"), net.now);
  auto& got = wait_done(net, reader, id);
  CHECK(got.items >= 6);
  CHECK(reader.items_for(id) == got.items);
  for (auto& [rid, it] : reader.items)
    if (rid == id)
      CHECK(it == item);
  // Stop early when asked.
  auto id2 = reader.n->get_mutable(item.key, str_bytes("salt"), net.now, 1);
  auto& first = wait_done(net, reader, id2);
  CHECK(first.items == 1);
  // A different salt finds nothing.
  auto& none = wait_done(net, reader, reader.n->get_mutable(item.key, str_bytes("x"), net.now));
  CHECK(none.items == 0);
  CHECK(none.responses >= 8);
}

TEST_CASE("puts report 302 for a lower seq and 301 for a CAS mismatch") {
  sim_net net;
  net.build(30);
  auto& w = client(net, 2);
  auto k = key_from(2);
  auto v5 = mutable_item::sign(k, {}, 5, str_bytes("five"));
  auto& a = wait_done(net, w, w.n->put_mutable(v5, std::nullopt, net.now));
  REQUIRE(a.put.stored >= 6);
  auto v4 = mutable_item::sign(k, {}, 4, str_bytes("four"));
  auto& b = wait_done(net, w, w.n->put_mutable(v4, std::nullopt, net.now));
  CHECK(b.put.seq_too_small >= 6);
  CHECK(b.put.stored == 0);
  CHECK_FALSE(b.put.ok());
  auto v6 = mutable_item::sign(k, {}, 6, str_bytes("six"));
  auto& c = wait_done(net, w, w.n->put_mutable(v6, 3, net.now));
  CHECK(c.put.cas_mismatch >= 6);
  CHECK_FALSE(c.put.ok());
  auto& d = wait_done(net, w, w.n->put_mutable(v6, 5, net.now));
  CHECK(d.put.stored >= 6);
  CHECK(d.put.ok());
  // Equal seq overwrites (mainline semantics, PROTOCOL.md §4.2).
  auto v6b = mutable_item::sign(k, {}, 6, str_bytes("six again"));
  auto& e = wait_done(net, w, w.n->put_mutable(v6b, std::nullopt, net.now));
  CHECK(e.put.stored >= 6);
}

TEST_CASE("queries are counted by kind and KRPC errors by code, in and out") {
  sim_net net;
  net.build(30);
  // Out, and errors in: a put runs get then put queries; a lower seq gets 302 from each node.
  auto& w = client(net, 2);
  auto k = key_from(3);
  auto before = w.n->stats();
  auto& a = wait_done(net, w, w.n->put_mutable(mutable_item::sign(k, {}, 5, str_bytes("5")),
                                               std::nullopt, net.now));
  REQUIRE(a.put.stored >= 6);
  auto& b = wait_done(net, w, w.n->put_mutable(mutable_item::sign(k, {}, 4, str_bytes("4")),
                                               std::nullopt, net.now));
  REQUIRE(b.put.seq_too_small >= 6);
  auto after = w.n->stats();
  CHECK(after["queries_out_get"] - before["queries_out_get"] >= 8);
  CHECK(after["queries_out_put"] - before["queries_out_put"] >= 12);
  CHECK(after["queries_out_announce_peer"] == before["queries_out_announce_peer"]);
  CHECK(after["errors_in_302"] - before["errors_in_302"] == b.put.seq_too_small);
  CHECK(after["errors_in_301"] == before["errors_in_301"]);
  CHECK(sum_of(after, "queries_out_") == after["queries_out"]);
  CHECK(sum_of(after, "errors_in_") == after["errors_in"]);

  // In, and errors out: one query of each kind by hand.
  auto& server = *net.hosts[0];
  auto evil = endpoint::v4(10, 6, 6, 6, 666);
  auto deliver = [&](const std::string& s) { return deliver_to(net, server, evil, s); };
  std::string id = "abcdefghij0123456789", target(20, 't');
  before = server.n->stats();
  auto r = deliver("d1:ad2:id20:" + id + "e1:q4:ping1:t2:p11:y1:qe");
  REQUIRE(r);
  r = deliver("d1:ad2:id20:" + id + "6:target20:" + target + "e1:q9:find_node1:t2:f11:y1:qe");
  REQUIRE(r);
  r = deliver("d1:ad2:id20:" + id + "9:info_hash20:" + target + "e1:q9:get_peers1:t2:g11:y1:qe");
  REQUIRE(r);
  r = deliver("d1:ad2:id20:" + id + "9:info_hash20:" + target
              + "4:porti5555e5:token2:xxe1:q13:announce_peer1:t2:a11:y1:qe");
  REQUIRE(r);
  CHECK(r->e.code == 203);  // bad token
  r = deliver("d1:ad2:id20:" + id + "6:target20:" + target + "e1:q3:get1:t2:g21:y1:qe");
  REQUIRE(r);
  std::string tok(r->r.token.begin(), r->r.token.end());
  r = deliver("d1:ad2:id20:" + id + "1:k32:" + std::string(32, 'k') + "3:seqi1e3:sig64:"
              + std::string(64, 's') + "5:token" + std::to_string(tok.size()) + ":" + tok
              + "1:v1:xe1:q3:put1:t2:u11:y1:qe");
  REQUIRE(r);
  CHECK(r->e.code == 206);  // bad signature
  r = deliver("d1:ad2:id20:" + id + "e1:q4:evil1:t2:e11:y1:qe");
  REQUIRE(r);
  CHECK(r->e.code == 204);  // method unknown
  r = deliver("d1:ad2:id20:" + id + "e1:t2:e21:y1:qe");
  REQUIRE(r);
  CHECK(r->e.code == 203);  // no method at all
  after = server.n->stats();
  auto delta = [&](const char* name) { return after[name] - before[name]; };
  CHECK(delta("queries_in_ping") == 1);
  CHECK(delta("queries_in_find_node") == 1);
  CHECK(delta("queries_in_get_peers") == 1);
  CHECK(delta("queries_in_announce_peer") == 1);
  CHECK(delta("queries_in_get") == 1);
  CHECK(delta("queries_in_put") == 1);
  CHECK(delta("queries_in_other") == 2);
  CHECK(delta("errors_out_203") == 2);
  CHECK(delta("errors_out_204") == 1);
  CHECK(delta("errors_out_206") == 1);
  CHECK(delta("errors_out_other") == 0);
  CHECK(sum_of(after, "queries_in_") == after["queries_in"]);
  CHECK(sum_of(after, "errors_out_") == after["errors_sent"]);
}

TEST_CASE("immutable put and get") {
  sim_net net;
  net.build(30);
  auto& w = client(net, 1);
  auto& r = client(net, 20);
  auto v = crypto::bep44::bencode_string(str_bytes("Hello World!"));
  auto& p = wait_done(net, w, w.n->put_immutable(v, net.now));
  CHECK(p.put.stored >= 6);
  CHECK(p.target == crypto::bep44::immutable_target(v));
  auto& g = wait_done(net, r, r.n->get_immutable(p.target, net.now));
  REQUIRE(g.immutable_value);
  CHECK(*g.immutable_value == v);
  auto& bad = wait_done(net, w, w.n->put_immutable(str_bytes("not bencode"), net.now));
  CHECK(bad.put.stored == 0);
}

TEST_CASE("get_mutable drops items whose signature or key does not match") {
  sim_net net;
  net.build(30);
  auto& w = client(net, 1);
  auto& r = client(net, 9);
  auto item = mutable_item::sign(key_from(3), {}, 1, str_bytes("genuine"));
  wait_done(net, w, w.n->put_mutable(item, std::nullopt, net.now));
  // Tamper with every response that carries the value on its way to the reader.
  net.filter = [&](sim_net::packet& p) {
    if (p.to != r.ep)
      return true;
    std::string s(p.data.begin(), p.data.end());
    auto pos = s.find("7:genuine");
    if (pos != std::string::npos)
      p.data[pos + 2] = 'G';
    return true;
  };
  auto& got = wait_done(net, r, r.n->get_mutable(item.key, {}, net.now));
  CHECK(got.items == 0);
  CHECK(r.items.empty());
  CHECK(r.n->stats()["invalid_items"] >= 6);
}

TEST_CASE("write tokens expire: a put with a 15-minute-old token is refused with 203") {
  sim_net net;
  net.build(2);
  auto& server = *net.hosts[0];
  auto me = endpoint::v4(10, 9, 9, 9, 1234);
  auto send = [&](const std::string& s) {
    server.n->handle_packet(byte_view::of(s), me, net.now);
    REQUIRE(!net.queue.empty());
    auto reply = krpc::decode(net.queue.back().data);
    net.queue.clear();
    REQUIRE(reply);
    return *reply;
  };
  std::string target(20, 't');
  auto got = send("d1:ad2:id20:abcdefghij01234567896:target20:" + target
                  + "e1:q3:get1:t2:g11:y1:qe");
  REQUIRE(got.y == krpc::message::type::response);
  std::string token(got.r.token.begin(), got.r.token.end());
  auto put_msg = "d1:ad2:id20:abcdefghij01234567895:token" + std::to_string(token.size()) + ":"
                 + token + "1:v5:helloe1:q3:put1:t2:p11:y1:qe";
  auto ok = send(put_msg);
  CHECK(ok.y == krpc::message::type::response);
  // From another address the token is not valid.
  server.n->handle_packet(byte_view::of(put_msg), endpoint::v4(10, 9, 9, 8, 1234), net.now);
  REQUIRE(!net.queue.empty());
  auto other = krpc::decode(net.queue.back().data);
  net.queue.clear();
  REQUIRE(other);
  CHECK(other->y == krpc::message::type::error);
  CHECK(other->e.code == 203);
  for (int i = 0; i < 15 * 60; i += 30) {
    net.now += 30s;
    server.n->tick(net.now);
  }
  net.queue.clear();
  auto late = send(put_msg);
  CHECK(late.y == krpc::message::type::error);
  CHECK(late.e.code == 203);
}

TEST_CASE("hostile and malformed packets are counted, answered or dropped, never fatal") {
  sim_net net;
  net.build(10);
  auto& server = *net.hosts[0];
  auto evil = endpoint::v4(10, 6, 6, 6, 666);
  auto deliver = [&](const std::string& s) { return deliver_to(net, server, evil, s); };
  auto before = server.n->stats()["bad_packets"];
  CHECK_FALSE(deliver(""));
  CHECK_FALSE(deliver("garbage"));
  CHECK_FALSE(deliver(std::string(5000, 'l')));
  CHECK_FALSE(deliver("d1:y1:qe"));
  CHECK(server.n->stats()["bad_packets"] == before + 4);
  auto r = deliver("d1:ad2:id20:abcdefghij0123456789e1:q4:evil1:t2:aa1:y1:qe");
  REQUIRE(r);
  CHECK(r->e.code == 204);
  r = deliver("d1:ad2:id20:abcdefghij0123456789e1:q9:find_node1:t2:aa1:y1:qe");
  REQUIRE(r);
  CHECK(r->e.code == 203);
  // Responses nobody asked for are ignored.
  CHECK_FALSE(deliver("d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:zz1:y1:re"));
  CHECK(server.n->stats()["unknown_tid"] >= 1);
  // A put with a huge salt, a bad signature, an oversize value get their BEP 44 codes.
  std::string target(20, 't');
  auto got = deliver("d1:ad2:id20:abcdefghij01234567896:target20:" + target
                     + "e1:q3:get1:t2:g11:y1:qe");
  REQUIRE(got);
  std::string tok(got->r.token.begin(), got->r.token.end());
  auto put = [&](const std::string& salt, const std::string& v) {
    return "d1:ad2:id20:abcdefghij01234567891:k32:" + std::string(32, 'k') + "4:salt"
           + std::to_string(salt.size()) + ":" + salt + "3:seqi1e3:sig64:" + std::string(64, 's')
           + "5:token" + std::to_string(tok.size()) + ":" + tok + "1:v" + v
           + "e1:q3:put1:t2:p11:y1:qe";
  };
  r = deliver(put("s", "1:x"));
  REQUIRE(r);
  CHECK(r->e.code == 206);
  r = deliver(put(std::string(65, 's'), "1:x"));
  REQUIRE(r);
  CHECK(r->e.code == 207);
  r = deliver(put("s", "1000:" + std::string(1000, 'v')));
  REQUIRE(r);
  CHECK(r->e.code == 205);
  // The node still works.
  auto& c = client(net, 0);
  auto& done = wait_done(net, c, c.n->find_node(random_id(net.rng), net.now));
  CHECK(done.closest.size() == 8);
}

TEST_CASE("read-only nodes answer nothing and stay out of routing tables (BEP 43)") {
  sim_net net;
  net.build(12);
  auto& c = client(net, 0);
  for (auto& h : net.hosts)
    if (h.get() != &c)
      CHECK(h->n->table().find(c.n->id()) == nullptr);
  net.queue.clear();
  c.n->handle_packet(byte_view::of("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe"),
                     net.hosts[0]->ep, net.now);
  CHECK(net.queue.empty());
  CHECK(c.n->stats()["dropped_read_only"] == 1);
  CHECK(c.n->table().size() >= 8);
}

TEST_CASE("dead nodes time out, lookups and puts still finish and count no-responses") {
  sim_net net;
  net.build(30);
  auto& w = client(net, 0);
  auto item = mutable_item::sign(key_from(4), {}, 1, str_bytes("v"));
  // Kill the nodes closest to the target after the client learned about them.
  auto closest = true_closest(net, item.target(), 4);
  for (auto& h : net.hosts)
    if (std::count(closest.begin(), closest.end(), h->n->id()))
      h->alive = false;
  auto start = net.now;
  auto& p = wait_done(net, w, w.n->put_mutable(item, std::nullopt, net.now));
  CHECK(p.put.stored >= 4);
  CHECK(net.now - start < 20s);
  // The dead nodes stalled the lookup (short timeout), which went on without them.
  CHECK(w.n->stats()["short_timeouts"] >= 1);
  CHECK(p.stalls >= 1);
  CHECK(p.put.no_response == 0); // the dead nodes timed out in the lookup, before any put
  // Two nodes answer the lookup but never the put: each counts as one no-response.
  auto other = mutable_item::sign(key_from(5), {}, 1, str_bytes("w"));
  std::set<endpoint> silent;
  size_t puts_sent = 0;
  net.filter = [&](sim_net::packet& pk) {
    std::string s(pk.data.begin(), pk.data.end());
    if (pk.from != w.ep || s.find("1:q3:put") == std::string::npos)
      return true;
    ++puts_sent;
    if (silent.size() < 2)
      silent.insert(pk.to);
    return silent.count(pk.to) == 0;
  };
  auto& r = wait_done(net, w, w.n->put_mutable(other, std::nullopt, net.now));
  net.filter = nullptr;
  REQUIRE(silent.size() == 2);
  CHECK(r.put.no_response == 2);
  CHECK(r.put.stored + r.put.no_response == puts_sent); // every put sent is accounted for
  CHECK(r.put.stored >= 4);
  CHECK(r.put.ok());
  // Everyone dead: the lookup ends with nothing stored, after timeouts.
  for (auto& h : net.hosts)
    if (h.get() != &w)
      h->alive = false;
  auto& q = wait_done(net, w, w.n->put_mutable(item, std::nullopt, net.now));
  CHECK(q.put.stored == 0);
  CHECK_FALSE(q.put.ok());
}

TEST_CASE("cancelled commands report nothing") {
  sim_net net;
  net.build(10);
  auto& c = client(net, 0);
  auto id = c.n->find_node(random_id(net.rng), net.now);
  c.n->cancel(id);
  net.settle();
  CHECK(c.done.count(id) == 0);
  CHECK(c.n->active_commands() == 0);
}

TEST_CASE("get_peers finds announced peers") {
  sim_net net;
  net.build(20);
  auto& c = client(net, 0);
  auto info_hash = random_id(net.rng);
  // Announce from the client to the closest nodes using the tokens of a get_peers lookup.
  auto& lk = wait_done(net, c, c.n->get_peers(info_hash, net.now));
  CHECK(lk.peers.empty());
  REQUIRE(lk.closest.size() >= 1);
  // Announce by hand to the server closest to the info hash.
  auto closest = true_closest(net, info_hash, 8);
  sim_host* closest_host = nullptr;
  for (auto& h : net.hosts)
    if (h->n->id() == closest[0])
      closest_host = h.get();
  REQUIRE(closest_host);
  auto& server = *closest_host;
  auto me = endpoint::v4(10, 7, 7, 7, 4000);
  std::string ih(info_hash.begin(), info_hash.end());
  net.queue.clear();
  server.n->handle_packet(byte_view::of("d1:ad2:id20:abcdefghij01234567899:info_hash20:" + ih
                                        + "e1:q9:get_peers1:t2:g11:y1:qe"),
                          me, net.now);
  auto r = krpc::decode(net.queue.back().data);
  REQUIRE(r);
  std::string tok(r->r.token.begin(), r->r.token.end());
  net.queue.clear();
  server.n->handle_packet(
    byte_view::of("d1:ad2:id20:abcdefghij01234567899:info_hash20:" + ih + "4:porti5555e5:token"
                  + std::to_string(tok.size()) + ":" + tok + "e1:q13:announce_peer1:t2:a11:y1:qe"),
    me, net.now);
  r = krpc::decode(net.queue.back().data);
  REQUIRE(r);
  CHECK(r->y == krpc::message::type::response);
  net.queue.clear();
  auto& lk2 = wait_done(net, c, c.n->get_peers(info_hash, net.now));
  REQUIRE(lk2.peers.size() == 1);
  CHECK(lk2.peers[0] == endpoint::v4(10, 7, 7, 7, 5555));
}

TEST_CASE("commands issued while the first bootstrap runs wait for it") {
  sim_net net;
  net.build(20);
  node_config cfg;
  cfg.read_only = true;
  auto& c = net.add(cfg);
  c.n->bootstrap({net.hosts[0]->ep}, net.now);
  auto item = mutable_item::sign(key_from(5), {}, 1, str_bytes("early"));
  auto id = c.n->put_mutable(item, std::nullopt, net.now); // table still empty
  CHECK(c.n->table().size() == 0);
  auto& done = wait_done(net, c, id);
  CHECK(done.put.stored >= 6);
}

TEST_CASE("a flood of queries under new ids costs a bounded number of pings") {
  sim_net net;
  net.build(10);
  auto& server = *net.hosts[0];
  auto before = server.n->stats();
  auto query = [&](const endpoint& from) {
    krpc::query q;
    q.m = krpc::method::ping;
    q.id = random_id(net.rng);
    server.n->handle_packet(krpc::encode(krpc::make_query("aa", q)), from, net.now);
  };
  auto pings_to = [&](const endpoint& to) {
    size_t n = 0;
    for (auto& p : net.queue) {
      auto m = krpc::decode(p.data);
      n += p.to == to && m && m->y == krpc::message::type::query;
    }
    return n;
  };
  // One address, 10,000 ids: one ping in flight at a time.
  auto evil = endpoint::v4(10, 6, 6, 6, 666);
  for (int i = 0; i < 10000; ++i)
    query(evil);
  CHECK(pings_to(evil) == 1);
  // 10,000 addresses within one second: no more than the burst of pings.
  net.queue.clear();
  for (int i = 0; i < 10000; ++i)
    query(endpoint::v4(10, 7, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i), 1000));
  auto after = server.n->stats();
  CHECK(net.queue.size() >= 10000); // every query is still answered
  CHECK(after["verify_pings"] - before["verify_pings"] <= 16 + 1);
  CHECK(after["verify_in_flight"] <= 16);
  CHECK(after["refused_verify_budget"] > 0);
  CHECK(after["refused_table_address_taken"] - before["refused_table_address_taken"] >= 9999);
  // None of them entered a bucket.
  for (auto& e : server.n->table().all())
    CHECK(e.ep.ip[1] != 6);
  CHECK(server.n->table().size() == before["table_size"]);
}

TEST_CASE("a node that queries us is pinged and enters the table when it answers") {
  sim_net net;
  net.build(3);
  auto& a = *net.hosts[0];
  auto& fresh = net.add();
  // The new node queries `a` without bootstrapping through it.
  krpc::query q;
  q.m = krpc::method::ping;
  q.id = fresh.n->id();
  net.queue.push_back({fresh.ep, a.ep, krpc::encode(krpc::make_query("zz", q))});
  net.settle();
  CHECK(a.n->table().find(fresh.n->id()) != nullptr);
  CHECK(a.n->stats()["verify_pings"] >= 1);
}

TEST_CASE("the external address is learnt from a majority of responders' BEP 42 ip fields") {
  sim_net net;
  net.build(12);
  for (auto& h : net.hosts) {
    auto ext = h->n->external_address();
    REQUIRE(ext);
    auto own = h->ep;
    own.port = 0;
    CHECK(*ext == own);
    CHECK(h->n->stats()["external_address_known"] == 1);
  }
  // Local addresses: BEP 42 checks stay off.
  CHECK_FALSE(net.hosts[0]->n->table().node_id_checks());
}

TEST_CASE("a responder listing the asker in nodes never makes the asker query itself") {
  // Issue 16: some implementations add every sender to their table (ignoring BEP 43 "ro") and
  // list the querying node in "nodes", under its id or under another one. A lookup must never
  // query its own id or its own address, nor put either into its routing table.
  sim_net net;
  net.build(20);
  for (bool read_only : {true, false}) {
    node_config cfg;
    cfg.read_only = read_only;
    auto& w = net.add(cfg);
    w.n->set_own_address(w.ep);
    auto other_id = random_id(net.rng);
    size_t rewritten = 0, to_self = 0;
    net.filter = [&](sim_net::packet& pk) {
      if (pk.from == w.ep && pk.to == w.ep)
        ++to_self;
      if (pk.to != w.ep)
        return true;
      auto m = krpc::decode(pk.data);
      if (!m || m->y != krpc::message::type::response)
        return true;
      m->r.nodes.insert(m->r.nodes.begin(), node_entry{w.n->id(), w.ep});
      m->r.nodes.insert(m->r.nodes.begin(), node_entry{other_id, w.ep});
      pk.data = krpc::encode(*m);
      ++rewritten;
      return true;
    };
    w.n->bootstrap({net.hosts[0]->ep}, net.now);
    net.settle();
    auto start = net.now;
    auto& g = wait_done(net, w, w.n->get_mutable(key_from(9).public_key_bytes(), {}, net.now));
    net.filter = nullptr;
    CHECK(rewritten > 0);
    CHECK(to_self == 0);
    CHECK(w.n->stats()["timeouts"] == 0);
    CHECK(net.now - start < 1s); // no timeout waited out
    CHECK(g.responses >= 8);
    for (auto& e : g.closest)
      CHECK(e.ep != w.ep);
    for (auto& e : w.n->table().all())
      CHECK(e.ep != w.ep);
    for (auto& e : w.n->table().replacements())
      CHECK(e.ep != w.ep);
  }
}

TEST_CASE("an answer to a query that timed out is counted as late, not refused as unsolicited") {
  sim_net net;
  net.build(10);
  auto& c = client(net, 0);
  // Hold back every query the client sends from now on: they all time out.
  std::vector<std::pair<endpoint, std::string>> held; // (destination, tid)
  net.filter = [&](sim_net::packet& pk) {
    if (pk.from != c.ep)
      return true;
    if (auto m = krpc::decode(pk.data); m && m->y == krpc::message::type::query)
      held.emplace_back(pk.to, m->tid);
    return false;
  };
  auto& done = wait_done(net, c, c.n->find_node(random_id(net.rng), net.now));
  net.filter = nullptr;
  REQUIRE_FALSE(held.empty());
  // The lookup ended on its short timeouts; the queries stay open until their hard timeout.
  net.run_until([&] { return c.n->stats()["timeouts"] >= held.size(); }, 30s);
  auto stats = c.n->stats();
  REQUIRE(stats["timeouts"] >= held.size()); // every held query timed out
  CHECK(done.closest.empty());
  auto answer = [&](const std::string& tid) {
    return "d1:rd2:id20:" + std::string(20, 'r') + "e1:t" + std::to_string(tid.size()) + ":" +
           tid + "1:y1:re";
  };
  auto [to, tid] = held.front();
  std::string pkt = answer(tid);
  // The late answer from the address asked: counted as after_timeout, no refusal.
  c.n->handle_packet(byte_view::of(pkt), to, net.now);
  auto after = c.n->stats();
  CHECK(after["responses_after_timeout"] == stats["responses_after_timeout"] + 1);
  CHECK(after["unknown_tid"] == stats["unknown_tid"]);
  CHECK(after["refused_unexpected_response"] == stats["refused_unexpected_response"]);
  // The same answer again, or from another address, or with a tid never used: unsolicited.
  c.n->handle_packet(byte_view::of(pkt), to, net.now);
  auto other = endpoint::v4(10, 9, 9, 9, 999);
  auto pkt2 = answer(held.back().second);
  if (held.size() > 1)
    c.n->handle_packet(byte_view::of(pkt2), other, net.now);
  auto last = c.n->stats();
  CHECK(last["responses_after_timeout"] == after["responses_after_timeout"]);
  CHECK(last["refused_unexpected_response"] ==
        after["refused_unexpected_response"] + (held.size() > 1 ? 2 : 1));
  // Remembered for 30 s only.
  if (held.size() > 1) {
    net.run_until([] { return false; }, 31s);
    c.n->handle_packet(byte_view::of(pkt2), held.back().first, net.now);
    CHECK(c.n->stats()["responses_after_timeout"] == last["responses_after_timeout"]);
  }
}

TEST_CASE("after a timeout the node starts its lookups wide, for trouble_memory only") {
  sim_net net;
  net.build(30);
  auto& c = client(net, 0);
  // Queries the client sends when a find_node starts (the lookup's first round).
  auto first_round = [&] {
    net.queue.clear();
    c.n->find_node(random_id(net.rng), net.now);
    size_t n = 0;
    for (auto& p : net.queue)
      if (p.from == c.ep)
        if (auto m = krpc::decode(p.data); m && m->y == krpc::message::type::query)
          ++n;
    return n;
  };
  node_config defaults;
  REQUIRE(defaults.lookup.alpha_clean < defaults.lookup.alpha);
  // No timeout yet: the lookup runs as before issue 16, alpha_clean queries.
  CHECK(first_round() == defaults.lookup.alpha_clean);
  net.settle();
  // One query times out (hard timeout), the others are answered.
  bool dropped = false;
  net.filter = [&](sim_net::packet& pk) {
    if (dropped || pk.from != c.ep)
      return true;
    if (auto m = krpc::decode(pk.data); m && m->y == krpc::message::type::query)
      return !(dropped = true);
    return true;
  };
  auto before = c.n->stats()["timeouts"];
  c.n->find_node(random_id(net.rng), net.now);
  net.run_until([&] { return c.n->stats()["timeouts"] > before; }, 30s);
  net.filter = nullptr;
  REQUIRE(c.n->stats()["timeouts"] == before + 1);
  net.settle();
  // Within trouble_memory: the next lookups start at alpha.
  CHECK(first_round() == defaults.lookup.alpha);
  net.settle();
  // Past it (with no timeout since): back to alpha_clean.
  net.run_until([] { return false; }, defaults.trouble_memory + 1s);
  REQUIRE(c.n->stats()["timeouts"] == before + 1);
  CHECK(first_round() == defaults.lookup.alpha_clean);
  net.settle();
}

TEST_CASE("a node never timed gets a short timeout of 0.8 times the round trip over all nodes") {
  // Issue 16: a query to a node we never timed passes its short timeout (and the lookup asks
  // one more) at short_timeout_factor times the smoothed round trip over all nodes: 0.8
  // (bench/dht_sim_bench, node_config::short_timeout_factor).
  struct capture : node_effects {
    std::vector<std::pair<endpoint, bytes>> sent;
    void send(const endpoint& to, bytes packet) override {
      sent.emplace_back(to, std::move(packet));
    }
    void on_item(request_id, const mutable_item&) override {}
    void on_done(const completion&) override {}
  } fx;
  test::seeded_random rng(16);
  node n(node_config{}, fx, rng);
  auto t0 = time_point{} + 1h;
  auto seed = endpoint::v4(10, 0, 0, 2, 6881);
  auto unknown = endpoint::v4(10, 0, 0, 3, 6881);
  n.bootstrap({seed}, t0);
  REQUIRE(fx.sent.size() == 1);
  auto q = krpc::decode(fx.sent[0].second);
  REQUIRE(q);
  // The seed answers after 100 ms (the only round trip measured) and lists one more node.
  krpc::response r;
  r.id = random_id(rng);
  node_id other = random_id(rng);
  r.nodes.push_back({other, unknown});
  auto t1 = t0 + 100ms;
  auto answer = krpc::encode(krpc::make_response(q->tid, r));
  n.handle_packet(answer, seed, t1);
  CHECK(std::count_if(fx.sent.begin(), fx.sent.end(),
                      [&](const auto& p) { return p.first == unknown; }) == 1);
  // 0.8 x 100 ms later (+1 ms of rounding), not before, its short timeout has passed.
  n.tick(t1 + 79ms);
  CHECK(n.stats()["short_timeouts"] == 0);
  n.tick(t1 + 82ms);
  CHECK(n.stats()["short_timeouts"] == 1);
}
