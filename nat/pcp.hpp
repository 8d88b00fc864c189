#pragma once

// PCP, the Port Control Protocol (RFC 6887), the part without I/O: MAP requests and the checks
// every answer goes through. The gateway that sends them is in nat/gateway.cpp.
//
// Why our own: Debian has no PCP client library (libnatpmp 20150609 speaks NAT-PMP, RFC 6886,
// only; the "pcp" packages are Performance Co-Pilot), and the part dtt needs (MAP, and
// ANNOUNCE to find the server) is two fixed-size messages. A PCP server listens on the
// gateway's UDP port 5351, where NAT-PMP servers listen too: a server that speaks NAT-PMP only
// answers a PCP request with NAT-PMP's "unsupported version" (RFC 6887 §9), and the mapper
// then asks it by NAT-PMP.

#include "crypto/bytes.hpp"
#include "crypto/error.hpp"
#include "nat/port_mapping.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <string>

namespace dtt::nat::pcp {

/// The server's UDP port (RFC 6887 §19.1, shared with NAT-PMP).
inline constexpr uint16_t server_port = 5351;
/// Largest PCP message (RFC 6887 §7): longer datagrams are refused.
inline constexpr size_t max_message = 1100;
/// Bytes of a MAP request or response without options (24 header + 36 MAP).
inline constexpr size_t map_size = 60;
/// Bytes of an ANNOUNCE request or response (the common header).
inline constexpr size_t header_size = 24;

/// An address as PCP carries it: IPv6, or IPv4 as an IPv4-mapped IPv6 address.
using address16 = std::array<uint8_t, 16>;
/// `ip` (a numeric IPv4 or IPv6 literal) as PCP carries it; errc::invalid_argument otherwise.
result<address16> to_address16(const std::string& ip);
/// The numeric literal of `a`: dotted IPv4 for an IPv4-mapped address, IPv6 otherwise.
std::string to_string(const address16& a);

/// Result codes (RFC 6887 §7.4).
enum class result_code : uint8_t {
  success = 0,
  unsupp_version = 1,
  not_authorized = 2,
  malformed_request = 3,
  unsupp_opcode = 4,
  unsupp_option = 5,
  malformed_option = 6,
  network_failure = 7,
  no_resources = 8,
  unsupp_protocol = 9,
  user_ex_quota = 10,
  cannot_provide_external = 11,
  address_mismatch = 12,
  excessive_remote_peers = 13,
};
/// "SUCCESS", "NOT_AUTHORIZED", ... ("code N" for one outside the RFC's list).
std::string to_string(result_code c);

/// A MAP request: forward `external` (suggested; 0: any) to our `internal_port` for `lifetime`
/// (0 deletes the mapping that `nonce` made). `client` is the address we send from (the server
/// refuses a request whose client address differs from the packet's source: ADDRESS_MISMATCH).
struct map_request {
  std::array<uint8_t, 12> nonce{};
  protocol proto = protocol::tcp;
  uint16_t internal_port = 0;
  uint16_t suggested_port = 0;
  std::chrono::seconds lifetime{0};
  address16 client{};
  address16 suggested_ip{}; ///< all zero, or ::ffff:0.0.0.0 for "any IPv4 address"
};
/// Its 60 bytes.
bytes encode(const map_request& r);

/// An ANNOUNCE request from `client` (24 bytes): a PCP server answers it, which is how we find
/// one (RFC 6887 §14.1).
bytes encode_announce(const address16& client);

/// What a server granted for a MAP request.
struct map_response {
  result_code result = result_code::success;
  std::chrono::seconds lifetime{0};
  uint32_t epoch = 0;
  uint16_t external_port = 0;
  address16 external_ip{};
};

/// Why a datagram was not a usable answer.
enum class answer_kind : uint8_t {
  ours,      ///< an answer to our request (success or a PCP error)
  natpmp,    ///< a NAT-PMP answer (version 0): the server does not speak PCP
  not_ours,  ///< for another request, or not PCP: ignore it and keep waiting
};

/// Checks a datagram from the server against the MAP request `sent`: size (60..1100, a multiple
/// of 4), version 2, the response bit and opcode MAP, the nonce, protocol and internal port of
/// `sent`. Sets `kind`; the response when it is ours (its result code may be an error).
result<map_response> decode_map_response(byte_view d, const map_request& sent, answer_kind& kind);

/// Checks a datagram against an ANNOUNCE request: ours (a PCP server: its result code), a
/// NAT-PMP answer, or not ours.
answer_kind decode_announce_response(byte_view d, result_code& result);

/// The mapping a successful MAP answer grants, through nat::check_answer (the external address
/// must be IPv4 for an IPv4 request: a mapped IPv6 one is refused).
result<mapping> to_mapping(const map_response& r, const map_request& sent);

} // namespace dtt::nat::pcp
