#pragma once

#include "crypto/error.hpp"
#include "gossip/types.hpp"

#include <vector>

namespace dtt {

/// The value of a node's endpoint record (DESIGN.md "Transport and addressing"): the addresses
/// where it accepts connections, as text "ip:port" items separated by single spaces, IPv6 in
/// brackets ("127.0.0.1:4001 [::1]:4001"). Published as a BEP 44 mutable item under the node
/// key, no salt, seq = unix time in µs.
bytes encode_endpoint_record(const std::vector<gossip::socket_address>& addrs);

/// Parses an endpoint record value; every item must be a valid literal and port (1–65535).
result<std::vector<gossip::socket_address>> decode_endpoint_record(byte_view value);

} // namespace dtt
