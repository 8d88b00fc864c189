// Fuzz target: PCP answers (nat/pcp.hpp, RFC 6887), datagrams a gateway, or anyone on the LAN
// who can reach our socket, sends back to a MAP or ANNOUNCE request.
//
// Input: one datagram. The MAP request it is checked against takes its nonce, protocol and
// internal port from the datagram's own bytes where those fields sit (so mutations reach the
// "ours" path), and a lifetime of 3600 s.
// Checked besides "no crash, no sanitizer report":
// - an answer taken as ours is 60..1100 bytes, a multiple of 4, version 2, response bit and
//   opcode MAP; one taken as NAT-PMP has version 0;
// - a mapping made from it comes from a SUCCESS result, with an IPv4 literal that is neither
//   unspecified, loopback, multicast nor broadcast, a port 1..65535, a lease 10..7200 s, via
//   PCP, for our protocol and internal port;
// - an ANNOUNCE answer is classified alike (ours only with version 2, response bit, opcode 0).
#include "check.hpp"
#include "nat/pcp.hpp"

#include <arpa/inet.h>

#include <cstdint>
#include <cstring>

using namespace dtt;
using namespace dtt::nat;
using dtt::fuzz::require;

namespace {
constexpr const char* target = "fuzz_pcp";
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  byte_view d{data, size};
  pcp::map_request req;
  req.lifetime = std::chrono::seconds(3600);
  req.internal_port = 4433;
  if (size >= pcp::map_size) {
    std::memcpy(req.nonce.data(), data + 24, req.nonce.size());
    req.proto = data[36] == 17 ? protocol::udp : protocol::tcp;
    req.internal_port = static_cast<uint16_t>(data[40] << 8 | data[41]);
  }
  pcp::answer_kind kind;
  auto r = pcp::decode_map_response(d, req, kind);
  require(bool(r) == (kind == pcp::answer_kind::ours), target, "decode result and kind disagree");
  if (kind == pcp::answer_kind::natpmp)
    require(size >= 2 && data[0] == 0, target, "a NAT-PMP answer without version 0");
  if (r) {
    require(size >= pcp::map_size && size <= pcp::max_message && size % 4 == 0, target,
            "an answer of a size PCP does not allow");
    require(data[0] == 2 && data[1] == 0x81, target, "an answer without version 2 and MAP");
    auto m = pcp::to_mapping(*r, req);
    if (m) {
      require(r->result == pcp::result_code::success, target, "a mapping from an error answer");
      in_addr a{};
      require(inet_pton(AF_INET, m->external_ip.c_str(), &a) == 1, target,
              "a mapping to a non-IPv4 address");
      auto h = ntohl(a.s_addr);
      require(h != 0 && (h >> 24) != 127 && (h >> 28) != 0xe && h != 0xffffffffu, target,
              "a mapping to an unusable address");
      require(m->external_port >= 1 && m->lease.count() >= 10 && m->lease.count() <= 7200,
              target, "a mapping with a port or lease out of range");
      require(m->via == method::pcp && m->proto == req.proto
                && m->internal_port == req.internal_port,
              target, "a mapping for another request");
    }
  }
  auto rc = pcp::result_code::success;
  auto ak = pcp::decode_announce_response(d, rc);
  if (ak == pcp::answer_kind::ours)
    require(size >= pcp::header_size && size <= pcp::max_message && size % 4 == 0
              && data[0] == 2 && data[1] == 0x80,
            target, "an ANNOUNCE answer PCP does not allow");
  return 0;
}
