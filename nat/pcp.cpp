#include "nat/pcp.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace dtt::nat::pcp {

namespace {

constexpr uint8_t version = 2;
constexpr uint8_t natpmp_version = 0;
constexpr uint8_t opcode_announce = 0;
constexpr uint8_t opcode_map = 1;
constexpr uint8_t response_bit = 0x80;

void put16(bytes& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}
uint16_t get16(byte_view b, size_t at) { return static_cast<uint16_t>(b[at] << 8 | b[at + 1]); }

void put_header(bytes& out, uint8_t opcode, uint32_t lifetime, const address16& client) {
  out.push_back(version);
  out.push_back(opcode);
  put16(out, 0); // reserved
  put_be32(out, lifetime);
  out.insert(out.end(), client.begin(), client.end());
}

uint8_t iana(protocol p) { return p == protocol::tcp ? 6 : 17; }

constexpr std::array<uint8_t, 12> v4_mapped_prefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool is_v4_mapped(const address16& a) {
  return std::equal(v4_mapped_prefix.begin(), v4_mapped_prefix.end(), a.begin());
}

// The size, version and opcode checks common to every answer.
answer_kind check_header(byte_view d, uint8_t opcode, size_t min_size) {
  if (d.size() >= 2 && d[0] == natpmp_version && (d[1] & response_bit))
    return answer_kind::natpmp;
  if (d.size() < min_size || d.size() > max_message || d.size() % 4 != 0 || d[0] != version
      || d[1] != (response_bit | opcode))
    return answer_kind::not_ours;
  return answer_kind::ours;
}

} // namespace

result<address16> to_address16(const std::string& ip) {
  address16 out{};
  in_addr a4{};
  in6_addr a6{};
  if (inet_pton(AF_INET, ip.c_str(), &a4) == 1) {
    std::copy(v4_mapped_prefix.begin(), v4_mapped_prefix.end(), out.begin());
    std::memcpy(out.data() + 12, &a4, 4);
    return out;
  }
  if (inet_pton(AF_INET6, ip.c_str(), &a6) == 1) {
    std::memcpy(out.data(), &a6, 16);
    return out;
  }
  return error{errc::invalid_argument, "not a numeric IP address: " + ip.substr(0, 64)};
}

std::string to_string(const address16& a) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (is_v4_mapped(a))
    inet_ntop(AF_INET, a.data() + 12, buf, sizeof(buf));
  else
    inet_ntop(AF_INET6, a.data(), buf, sizeof(buf));
  return buf;
}

std::string to_string(result_code c) {
  static const char* names[] = {"SUCCESS",          "UNSUPP_VERSION",  "NOT_AUTHORIZED",
                                "MALFORMED_REQUEST", "UNSUPP_OPCODE",  "UNSUPP_OPTION",
                                "MALFORMED_OPTION", "NETWORK_FAILURE", "NO_RESOURCES",
                                "UNSUPP_PROTOCOL",  "USER_EX_QUOTA",   "CANNOT_PROVIDE_EXTERNAL",
                                "ADDRESS_MISMATCH", "EXCESSIVE_REMOTE_PEERS"};
  auto i = static_cast<size_t>(c);
  return i < std::size(names) ? names[i] : "code " + std::to_string(i);
}

bytes encode(const map_request& r) {
  bytes out;
  out.reserve(map_size);
  put_header(out, opcode_map, static_cast<uint32_t>(r.lifetime.count()), r.client);
  out.insert(out.end(), r.nonce.begin(), r.nonce.end());
  out.push_back(iana(r.proto));
  out.insert(out.end(), 3, 0); // reserved
  put16(out, r.internal_port);
  put16(out, r.suggested_port);
  out.insert(out.end(), r.suggested_ip.begin(), r.suggested_ip.end());
  return out;
}

bytes encode_announce(const address16& client) {
  bytes out;
  out.reserve(header_size);
  put_header(out, opcode_announce, 0, client);
  return out;
}

result<map_response> decode_map_response(byte_view d, const map_request& sent, answer_kind& kind) {
  kind = check_header(d, opcode_map, map_size);
  if (kind != answer_kind::ours)
    return error{errc::malformed, kind == answer_kind::natpmp ? "a NAT-PMP answer"
                                                              : "not an answer to our MAP request"};
  // The MAP data echoes our nonce, protocol and internal port, error answers included.
  if (!std::equal(sent.nonce.begin(), sent.nonce.end(), d.data() + 24) || d[36] != iana(sent.proto)
      || get16(d, 40) != sent.internal_port) {
    kind = answer_kind::not_ours;
    return error{errc::malformed, "an answer to another MAP request"};
  }
  map_response r;
  r.result = static_cast<result_code>(d[3]);
  r.lifetime = std::chrono::seconds(get_be32(d.data() + 4));
  r.epoch = get_be32(d.data() + 8);
  r.external_port = get16(d, 42);
  std::memcpy(r.external_ip.data(), d.data() + 44, 16);
  return r;
}

answer_kind decode_announce_response(byte_view d, result_code& result) {
  auto kind = check_header(d, opcode_announce, header_size);
  if (kind == answer_kind::ours)
    result = static_cast<result_code>(d[3]);
  return kind;
}

result<mapping> to_mapping(const map_response& r, const map_request& sent) {
  if (r.result != result_code::success)
    return error{errc::refused, "PCP " + to_string(r.result)};
  if (sent.lifetime.count() > 0 && r.lifetime.count() == 0)
    return error{errc::malformed, "PCP granted a lifetime of 0 s"};
  if (!is_v4_mapped(r.external_ip))
    return error{errc::malformed, "PCP mapped an IPv6 external address for an IPv4 request"};
  return check_answer(sent.proto, sent.internal_port, to_string(r.external_ip), r.external_port,
                      r.lifetime.count(), sent.lifetime, method::pcp);
}

} // namespace dtt::nat::pcp
