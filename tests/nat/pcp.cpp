// PCP (RFC 6887) MAP and ANNOUNCE messages, the part without I/O (nat/pcp.hpp): the layout we
// send, and every check an answer from the network goes through. (The exchange with a real
// PCP server, miniupnpd, runs in tests/e2e/nat.py: b1 maps its port by PCP.)
#include "nat/pcp.hpp"

#include <doctest/doctest.h>

using namespace dtt;
using namespace dtt::nat;
using namespace std::chrono_literals;

namespace {

pcp::map_request sample_request() {
  pcp::map_request r;
  for (size_t i = 0; i < r.nonce.size(); ++i)
    r.nonce[i] = static_cast<uint8_t>(0xa0 + i);
  r.proto = protocol::tcp;
  r.internal_port = 4433;
  r.suggested_port = 4433;
  r.lifetime = 3600s;
  r.client = *pcp::to_address16("10.1.0.12");
  r.suggested_ip = *pcp::to_address16("0.0.0.0");
  return r;
}

// A server's answer to `req`, as RFC 6887 §11.4 lays it out.
bytes answer(const pcp::map_request& req, uint8_t result, uint32_t lifetime, uint16_t port,
             const std::string& ip) {
  bytes d = pcp::encode(req);
  d[1] |= 0x80;
  d[2] = 0;
  d[3] = result;
  for (int i = 0; i < 4; ++i)
    d[4 + i] = static_cast<uint8_t>(lifetime >> (24 - 8 * i));
  d[8] = d[9] = d[10] = 0;
  d[11] = 42; // epoch
  std::fill(d.begin() + 12, d.begin() + 24, 0);
  d[42] = static_cast<uint8_t>(port >> 8);
  d[43] = static_cast<uint8_t>(port);
  auto a = *pcp::to_address16(ip);
  std::copy(a.begin(), a.end(), d.begin() + 44);
  return d;
}

} // namespace

TEST_CASE("PCP: a MAP request is laid out as RFC 6887 §11.1 says") {
  auto req = sample_request();
  auto d = pcp::encode(req);
  REQUIRE(d.size() == pcp::map_size);
  CHECK(d[0] == 2); // version
  CHECK(d[1] == 1); // request, opcode MAP
  CHECK(d[2] == 0);
  CHECK(d[3] == 0);
  CHECK(d[4] == 0x00);
  CHECK(d[5] == 0x00);
  CHECK(d[6] == 0x0e); // 3600
  CHECK(d[7] == 0x10);
  // The client address, IPv4-mapped.
  const bytes client{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 0, 12};
  CHECK(bytes(d.begin() + 8, d.begin() + 24) == client);
  CHECK(bytes(d.begin() + 24, d.begin() + 36) == bytes(req.nonce.begin(), req.nonce.end()));
  CHECK(d[36] == 6); // TCP
  CHECK(d[37] == 0);
  CHECK(d[40] == 0x11); // 4433
  CHECK(d[41] == 0x51);
  CHECK(d[42] == 0x11);
  CHECK(d[43] == 0x51);
  const bytes any4{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0};
  CHECK(bytes(d.begin() + 44, d.end()) == any4);
  auto ann = pcp::encode_announce(req.client);
  REQUIRE(ann.size() == pcp::header_size);
  CHECK(ann[1] == 0); // opcode ANNOUNCE
  CHECK(bytes(ann.begin() + 8, ann.end()) == client);
  CHECK(pcp::to_string(*pcp::to_address16("10.1.0.12")) == "10.1.0.12");
  CHECK(pcp::to_string(*pcp::to_address16("2a0b:1::5")) == "2a0b:1::5");
  CHECK_FALSE(pcp::to_address16("gateway"));
}

TEST_CASE("PCP: a granted mapping is taken, through the same checks as every gateway's") {
  auto req = sample_request();
  pcp::answer_kind kind;
  auto r = pcp::decode_map_response(answer(req, 0, 1800, 40555, "11.0.0.2"), req, kind);
  REQUIRE(r);
  CHECK(kind == pcp::answer_kind::ours);
  CHECK(r->epoch == 42);
  auto m = pcp::to_mapping(*r, req);
  REQUIRE(m);
  CHECK(m->external_ip == "11.0.0.2");
  CHECK(m->external_port == 40555);
  CHECK(m->lease == 1800s);
  CHECK(m->via == method::pcp);
  CHECK(m->internal_port == 4433);
  // Options after the MAP data (a multiple of 4 bytes) are skipped.
  auto with_option = answer(req, 0, 1800, 40555, "11.0.0.2");
  with_option.insert(with_option.end(), {1, 0, 0, 0});
  CHECK(pcp::decode_map_response(with_option, req, kind));
}

TEST_CASE("PCP: hostile or stray answers are refused or ignored") {
  auto req = sample_request();
  pcp::answer_kind kind;
  auto good = answer(req, 0, 1800, 40555, "11.0.0.2");
  SUBCASE("not ours: keep waiting") {
    std::vector<bytes> stray;
    stray.push_back(bytes(good.begin(), good.end() - 1)); // 59 bytes
    auto longer = good;
    longer.push_back(0); // 61 bytes: not a multiple of 4
    stray.push_back(longer);
    stray.push_back(bytes(1104, 0)); // over 1100 bytes
    auto v = good;
    v[0] = 3;
    stray.push_back(v);
    auto req_bit = good;
    req_bit[1] = 1; // our own request echoed, not a response
    stray.push_back(req_bit);
    auto nonce = good;
    nonce[30] ^= 1;
    stray.push_back(nonce);
    auto udp = good;
    udp[36] = 17;
    stray.push_back(udp);
    auto port = good;
    port[41] ^= 1;
    stray.push_back(port);
    for (auto& d : stray) {
      CHECK_FALSE(pcp::decode_map_response(d, req, kind));
      CHECK(kind == pcp::answer_kind::not_ours);
    }
  }
  SUBCASE("a NAT-PMP server's \"unsupported version\"") {
    const bytes natpmp{0, 0x81, 0, 1, 0, 0, 0, 9};
    CHECK_FALSE(pcp::decode_map_response(natpmp, req, kind));
    CHECK(kind == pcp::answer_kind::natpmp);
    auto rc = pcp::result_code::success;
    CHECK(pcp::decode_announce_response(natpmp, rc) == pcp::answer_kind::natpmp);
  }
  SUBCASE("errors and unusable grants") {
    auto refused = pcp::decode_map_response(answer(req, 2, 30, 0, "0.0.0.0"), req, kind);
    REQUIRE(refused);
    auto m = pcp::to_mapping(*refused, req);
    REQUIRE_FALSE(m);
    CHECK(m.err().code == errc::refused);
    CHECK(m.err().what.find("NOT_AUTHORIZED") != std::string::npos);
    struct grant {
      uint32_t lifetime;
      uint16_t port;
      const char* ip;
    };
    const grant unusable[] = {
      {0, 40555, "11.0.0.2"},     // lifetime 0
      {1800, 40555, "2a0b:11::2"}, // an IPv6 address for an IPv4 request
      {1800, 40555, "127.0.0.1"},  // loopback
      {1800, 40555, "0.0.0.0"},    // unspecified
      {1800, 0, "11.0.0.2"},       // port 0
      {86400, 40555, "11.0.0.2"},  // over max_lease
      {5, 40555, "11.0.0.2"},      // too short to renew
    };
    for (auto [lifetime, port, ip] : unusable) {
      auto r = pcp::decode_map_response(answer(req, 0, lifetime, port, ip), req, kind);
      REQUIRE(r);
      auto bad = pcp::to_mapping(*r, req);
      CHECK_FALSE(bad);
      if (!bad)
        CHECK(bad.err().code == errc::malformed);
    }
    CHECK(pcp::to_string(static_cast<pcp::result_code>(200)) == "code 200");
  }
}
