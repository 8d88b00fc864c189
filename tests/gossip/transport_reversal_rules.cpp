#include "gossip/transport/reversal.hpp"

#include <doctest/doctest.h>

#include <algorithm>

using namespace dtt;
using namespace dtt::net;
using namespace std::chrono_literals;

namespace {

endpoint_id id(uint8_t n) {
  endpoint_id e{};
  e[0] = n;
  return e;
}

const auto t0 = reversal_clock::time_point{} + 1h;

} // namespace

TEST_CASE("reversal: frames round-trip and anything but the exact layout is refused") {
  auto req = encode(reversal_request{id(2), 4433});
  CHECK(req.size() == 35);
  auto r = decode_reversal_request(req);
  REQUIRE(r);
  CHECK(r->target == id(2));
  CHECK(r->port == 4433);
  auto note = encode(reversal_notice{id(1), {"11.0.0.3", 40000}});
  REQUIRE(note);
  auto n = decode_reversal_notice(*note);
  REQUIRE(n);
  CHECK(n->requester == id(1));
  CHECK(n->dial.ip == "11.0.0.3");
  CHECK(n->dial.port == 40000);
  // Truncated, extended, wrong kind, port 0, unusable address.
  for (size_t len = 0; len < req.size(); ++len)
    CHECK_FALSE(decode_reversal_request(bytes(req.begin(), req.begin() + len)));
  auto longer = req;
  longer.push_back(0);
  CHECK_FALSE(decode_reversal_request(longer));
  CHECK_FALSE(decode_reversal_notice(req));
  CHECK_FALSE(decode_reversal_request(*note));
  CHECK_FALSE(decode_reversal_request(encode(reversal_request{id(2), 0})));
  for (auto bad : {"0.0.0.0", "224.0.0.1", "255.255.255.255"}) {
    auto b = encode(reversal_notice{id(1), {bad, 1}});
    REQUIRE(b);
    CHECK_FALSE(decode_reversal_notice(*b));
  }
  CHECK_FALSE(encode(reversal_notice{id(1), {"example.org", 1}}));
  CHECK_FALSE(encode(reversal_notice{id(1), {"::ffff:11.0.0.3", 1}})); // give it as IPv4
  CHECK_FALSE(encode(reversal_notice{id(1), {"fe80::1%eth0", 1}}));
}

TEST_CASE("reversal: an IPv6 notice round-trips, and unusable IPv6 addresses are refused") {
  auto note = encode(reversal_notice{id(1), {"2001:db8::7", 40000}});
  REQUIRE(note);
  CHECK(note->size() == 51);
  CHECK((*note)[0] == 3);
  auto n = decode_reversal_notice(*note);
  REQUIRE(n);
  CHECK(n->requester == id(1));
  CHECK(n->dial.ip == "2001:db8::7");
  CHECK(n->dial.port == 40000);
  auto lo = encode(reversal_notice{id(1), {"::1", 1}});
  REQUIRE(lo);
  CHECK(decode_reversal_notice(*lo)->dial.ip == "::1");
  // A kind 3 body of the IPv4 size, or a kind 2 body of the IPv6 size: malformed.
  for (size_t len = 0; len < note->size(); ++len)
    CHECK_FALSE(decode_reversal_notice(bytes(note->begin(), note->begin() + len)));
  auto as_v4 = *note;
  as_v4[0] = 2;
  CHECK_FALSE(decode_reversal_notice(as_v4));
  // Addresses a relay could not have observed usefully, written in by hand.
  auto with_address = [&](std::initializer_list<uint8_t> prefix) {
    auto b = *note;
    std::fill(b.begin() + 35, b.end(), 0);
    std::copy(prefix.begin(), prefix.end(), b.begin() + 35);
    return b;
  };
  CHECK_FALSE(decode_reversal_notice(with_address({})));                   // ::
  CHECK_FALSE(decode_reversal_notice(with_address({0xff, 0x02})));         // multicast
  CHECK_FALSE(decode_reversal_notice(with_address({0xfe, 0x80})));         // link-local
  CHECK_FALSE(decode_reversal_notice(with_address({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 11})));
  // The relay now carries an IPv6 requester's observed address.
  reversal_relay c;
  auto [r, why] = c.on_request(id(1), "2001:db8::7", {id(2), 4433}, true, t0);
  REQUIRE(r);
  CHECK(r->dial.ip == "2001:db8::7");
  CHECK(c.on_request(id(3), "fe80::1%eth0", {id(2), 4433}, true, t0).second
        == relay_refusal::bad_address);
}

TEST_CASE("reversal: the relay forwards the address it observed, never the requester's claim") {
  reversal_relay c;
  auto [n, why] = c.on_request(id(1), "11.0.0.3", {id(2), 4433}, true, t0);
  REQUIRE(n);
  CHECK(why == relay_refusal::none);
  CHECK(n->requester == id(1));
  CHECK(n->dial.ip == "11.0.0.3"); // the link's source, whatever A would like dialled
  CHECK(n->dial.port == 4433);
  CHECK(c.on_request(id(1), "11.0.0.3", {id(9), 1}, false, t0).second
        == relay_refusal::not_connected);
  CHECK(c.on_request(id(1), "11.0.0.3", {id(1), 1}, true, t0).second
        == relay_refusal::self_target);
}

TEST_CASE("reversal: one requester flooding the relay is held to its budget, tables stay bounded") {
  reversal_relay c(reversal_relay::config{4.0 / 60, 4, 8.0 / 60, 8, 64});
  size_t relayed = 0;
  for (int i = 0; i < 1000; ++i)
    relayed += c.on_request(id(1), "11.0.0.3", {id(uint8_t(2 + i % 200)), 4433}, true, t0)
                 .first.has_value();
  CHECK(relayed == 4);
  // A minute later, four more.
  relayed = 0;
  for (int i = 0; i < 100; ++i)
    relayed += c.on_request(id(1), "11.0.0.3", {id(3), 4433}, true, t0 + 60s).first.has_value();
  CHECK(relayed == 4);
  // Many requesters at one target: the target's budget bounds what it is sent.
  reversal_relay d(reversal_relay::config{4.0 / 60, 4, 8.0 / 60, 8, 64});
  relayed = 0;
  for (int i = 0; i < 5000; ++i) {
    endpoint_id from{};
    from[0] = uint8_t(i);
    from[1] = uint8_t(i >> 8);
    from[2] = 7;
    relayed += d.on_request(from, "11.0.0.3", {id(2), 4433}, true, t0).first.has_value();
  }
  CHECK(relayed == 8);
  keyed_budget kb(1, 1, 16);
  for (int i = 0; i < 1000; ++i) {
    endpoint_id k{};
    k[0] = uint8_t(i);
    k[1] = uint8_t(i >> 8);
    kb.take(k, t0);
  }
  CHECK(kb.size() <= 16);
}

TEST_CASE("reversal: the dialled node dials each requester once per window, within a budget") {
  reversal_dialer b(10s, 10.0 / 60, 10);
  reversal_notice n{id(1), {"11.0.0.3", 4433}};
  CHECK(b.should_dial(n, false, t0));
  CHECK_FALSE(b.should_dial(n, false, t0 + 1s)); // repeated (through another relay, say)
  CHECK(b.should_dial(n, false, t0 + 11s));
  CHECK_FALSE(b.should_dial(reversal_notice{id(5), {"11.0.0.3", 1}}, true, t0)); // connected
  size_t dials = 0;
  for (int i = 0; i < 100; ++i)
    dials += b.should_dial(reversal_notice{id(uint8_t(10 + i)), {"11.0.0.3", 1}}, false, t0 + 12s);
  CHECK(dials == 9); // 10 of burst, one spent at +11 s (refilled a little since)
}

TEST_CASE("reversal: the requester asks a few connected peers, not again before retry") {
  reversal_requester a(3, 30s);
  std::vector<endpoint_id> peers{id(2), id(3), id(4), id(5), id(9)};
  auto ask = a.on_dial_failed(id(9), peers, t0);
  REQUIRE(ask.size() == 3);
  CHECK(std::find(ask.begin(), ask.end(), id(9)) == ask.end());
  CHECK(a.on_dial_failed(id(9), peers, t0 + 5s).empty());
  CHECK(a.on_dial_failed(id(9), peers, t0 + 31s).size() == 3);
  CHECK(a.on_dial_failed(id(7), {}, t0).empty());
}

TEST_CASE("punching: hints round-trip for IPv4 and IPv6, and anything else is refused") {
  auto h4 = encode(punch_hint{id(2), "11.0.0.4"});
  REQUIRE(h4);
  CHECK(h4->size() == 37);
  CHECK((*h4)[0] == 4);
  auto d4 = decode_punch_hint(*h4);
  REQUIRE(d4);
  CHECK(d4->target == id(2));
  CHECK(d4->ip == "11.0.0.4");
  auto h6 = encode(punch_hint{id(3), "2001:db8::9"});
  REQUIRE(h6);
  CHECK(h6->size() == 49);
  CHECK((*h6)[0] == 5);
  auto d6 = decode_punch_hint(*h6);
  REQUIRE(d6);
  CHECK(d6->target == id(3));
  CHECK(d6->ip == "2001:db8::9");
  // Every truncation and an extra byte; the kind of the other family; a notice's body.
  for (size_t len = 0; len < h6->size(); ++len)
    CHECK_FALSE(decode_punch_hint(bytes(h6->begin(), h6->begin() + len)));
  auto longer = *h4;
  longer.push_back(0);
  CHECK_FALSE(decode_punch_hint(longer));
  auto swapped = *h4;
  swapped[0] = 5;
  CHECK_FALSE(decode_punch_hint(swapped));
  auto note = encode(reversal_notice{id(1), {"11.0.0.3", 40000}});
  REQUIRE(note);
  CHECK_FALSE(decode_punch_hint(*note));
  // Addresses nobody can be primed towards.
  for (auto bad : {"0.0.0.0", "224.0.0.1", "255.255.255.255", "::", "ff02::1", "fe80::1"}) {
    auto b = encode(punch_hint{id(1), bad});
    REQUIRE(b);
    CHECK_FALSE(decode_punch_hint(*b));
  }
  CHECK_FALSE(encode(punch_hint{id(1), "::ffff:11.0.0.3"}));
  CHECK_FALSE(encode(punch_hint{id(1), "example.org"}));
}

TEST_CASE("punching: a hint is taken once, only from a peer asked about that target, in time") {
  reversal_requester a(2, 30s);
  std::vector<endpoint_id> peers{id(2), id(3), id(4)};
  auto ask = a.on_dial_failed(id(9), peers, t0);
  REQUIRE(ask == std::vector<endpoint_id>{id(2), id(3)});
  // A peer we did not ask, or a target we asked nobody about: refused.
  CHECK_FALSE(a.on_hint(id(4), punch_hint{id(9), "11.0.0.9"}, t0 + 1s));
  CHECK_FALSE(a.on_hint(id(2), punch_hint{id(8), "11.0.0.9"}, t0 + 1s));
  // One of the asked: taken once per address per attempt (a second relay's hint naming the
  // same address primes nothing more; another address is primed too, up to one per peer asked).
  CHECK(a.on_hint(id(3), punch_hint{id(9), "11.0.0.9"}, t0 + 1s));
  CHECK_FALSE(a.on_hint(id(2), punch_hint{id(9), "11.0.0.9"}, t0 + 1s));
  CHECK(a.on_hint(id(2), punch_hint{id(9), "11.0.0.10"}, t0 + 1s));
  CHECK_FALSE(a.on_hint(id(3), punch_hint{id(9), "11.0.0.11"}, t0 + 1s));
  // A new attempt after the retry interval takes a hint again; a stale one does not.
  CHECK_FALSE(a.on_hint(id(2), punch_hint{id(9), "11.0.0.12"}, t0 + 31s));
  REQUIRE(a.on_dial_failed(id(9), peers, t0 + 31s).size() == 2);
  CHECK(a.on_hint(id(2), punch_hint{id(9), "11.0.0.9"}, t0 + 32s));
}

TEST_CASE("punching: local addresses are of use only to peers seen at local addresses") {
  for (auto ip : {"127.0.0.1", "10.2.0.11", "172.16.0.1", "172.31.255.255", "192.168.1.5",
                  "169.254.0.9", "100.64.0.1", "100.127.255.254", "::1", "fe80::1", "fd00::5",
                  "fc00::1"})
    CHECK_MESSAGE(is_local_ip(ip), ip);
  for (auto ip : {"11.0.0.3", "172.32.0.1", "172.15.255.255", "192.169.0.1", "100.128.0.1",
                  "100.63.255.255", "2001:db8::1", "8.8.8.8", "", "not an address",
                  "10.0.0.1.5"})
    CHECK_FALSE_MESSAGE(is_local_ip(ip), ip);
  CHECK(useful_to("11.0.0.3", "11.0.0.4"));
  CHECK(useful_to("11.0.0.3", "10.0.0.4"));
  CHECK(useful_to("10.2.0.11", "10.2.0.12"));
  CHECK_FALSE(useful_to("10.2.0.11", "11.0.0.4"));
  // The relay does not send a target outside its LAN to a requester's LAN address.
  reversal_relay c;
  CHECK(c.on_request(id(1), "10.2.0.11", {id(2), 4433}, true, t0, "11.0.0.4").second
        == relay_refusal::bad_address);
  CHECK(c.on_request(id(1), "10.2.0.11", {id(2), 4433}, true, t0, "10.2.0.12").first);
  CHECK(c.on_request(id(3), "11.0.0.3", {id(2), 4433}, true, t0, "10.2.0.12").first);
}

TEST_CASE("punching: the two sockets that meet take opposite TLS sides") {
  // One asked (A primes, B dials back): B is the client, A the server, whatever the ids.
  for (bool a_smaller : {true, false}) {
    CHECK_FALSE(punch_client(true, false, a_smaller));
    CHECK(punch_client(false, false, !a_smaller));
  }
  // Both asked: each side's socket may be a primer or a reversed dial; the smaller id is the
  // client and the larger the server in every combination, so no connection has two clients
  // or two servers.
  for (bool a_primer : {true, false})
    for (bool b_primer : {true, false}) {
      bool a_client = punch_client(a_primer, true, true);
      bool b_client = punch_client(b_primer, true, false);
      CHECK(a_client);
      CHECK_FALSE(b_client);
    }
}

TEST_CASE("punching: two servers that met do not turn client at once") {
  // Two primers met (each side's notice for the other was declined, so neither knows that the
  // other asked): both start as the TLS server. The smaller id gives up waiting for a hello
  // first and turns client; the larger still waits then, and its wait ends with that hello.
  using std::chrono::milliseconds;
  const milliseconds base{500};
  for (bool a_smaller : {true, false}) {
    CHECK_FALSE(punch_client(true, false, a_smaller));
    auto a_wait = punch_server_wait(a_smaller, base), b_wait = punch_server_wait(!a_smaller, base);
    auto first = std::min(a_wait, b_wait), second = std::max(a_wait, b_wait);
    CHECK(first == base);
    CHECK(second >= 2 * first); // a hello sent at `first` has as long again to arrive
    CHECK((a_wait < b_wait) == a_smaller);
  }
  // A socket that reached a listener (whose TLS server waits 5 s for a hello) takes the client
  // side well within that, whichever id is smaller.
  CHECK(punch_server_wait(false, base) < std::chrono::seconds(5) / 2);
}
