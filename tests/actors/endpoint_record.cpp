#include "actors/endpoint_record.hpp"

#include <doctest/doctest.h>

using namespace dtt;

TEST_CASE("endpoint records round-trip IPv4 and IPv6 addresses") {
  std::vector<gossip::socket_address> addrs = {{"127.0.0.1", 4001}, {"::1", 4002}};
  auto value = encode_endpoint_record(addrs);
  CHECK(std::string(value.begin(), value.end()) == "127.0.0.1:4001 [::1]:4002");
  auto back = decode_endpoint_record(value);
  REQUIRE(back);
  CHECK(*back == addrs);
}

TEST_CASE("endpoint records reject malformed items") {
  for (std::string bad : {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
                          "127.0.0.1:12a", "300.0.0.1:80", "[::1:80", "::1:80", "[zz]:80",
                          "example.org:80", "127.0.0.1:80  127.0.0.1:81", ":80"}) {
    CAPTURE(bad);
    CHECK_FALSE(decode_endpoint_record(byte_view::of(bad)));
  }
  CHECK(decode_endpoint_record(bytes(1001, '1')).err().code == errc::too_large);
}

TEST_CASE("an endpoint record never exceeds the BEP 44 value limit") {
  std::vector<gossip::socket_address> many(200, {"255.255.255.255", 65535});
  auto value = encode_endpoint_record(many);
  CHECK(value.size() <= 992);
  CHECK(decode_endpoint_record(value));
}

TEST_CASE("an endpoint record item with a NUL byte in the host is rejected") {
  // Found by fuzz/endpoint_record.cpp: inet_pton read the host only up to the NUL, so
  // "1.2.3.4\0junk" passed as a literal and the address kept the junk bytes.
  using namespace std::string_literals;
  for (auto bad : {"1.2.3.4\0junk:80"s, "[::1\0x]:80"s, "1.2.3.4\0:80"s,
                   "127.0.0.1:4001 10.0.0.1\0:4002"s}) {
    CAPTURE(bad.size());
    auto r = decode_endpoint_record(byte_view::of(bad));
    CHECK_FALSE(r);
    if (!r)
      CHECK(r.err().code == errc::malformed);
  }
}
