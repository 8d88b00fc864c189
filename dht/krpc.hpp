#pragma once

#include "dht/bencode.hpp"
#include "dht/node_id.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

/// KRPC messages (BEP 5) with the BEP 44 get/put extension and BEP 43's read-only flag.
namespace dtt::dht::krpc {

/// Query methods dtt speaks.
enum class method : uint8_t { ping, find_node, get_peers, announce_peer, get, put };

/// The wire name of a method ("find_node", ...).
const char* method_name(method m) noexcept;
/// Parses a wire method name.
std::optional<method> parse_method(std::string_view s) noexcept;

/// KRPC error codes (BEP 5 §KRPC, BEP 44 §Errors).
namespace code {
inline constexpr int generic = 201;
inline constexpr int server = 202;
inline constexpr int protocol = 203;
inline constexpr int method_unknown = 204;
inline constexpr int value_too_big = 205;
inline constexpr int bad_signature = 206;
inline constexpr int salt_too_big = 207;
inline constexpr int cas_mismatch = 301;
inline constexpr int seq_too_small = 302;
} // namespace code

/// BEP 32 "want" flags: which families' nodes a find_node/get_peers/get reply should carry.
namespace want {
inline constexpr uint8_t n4 = 1;  ///< "n4": "nodes" (IPv4)
inline constexpr uint8_t n6 = 2;  ///< "n6": "nodes6" (IPv6)
/// The flag of an address family (4 or 6).
inline constexpr uint8_t of_family(uint8_t family) noexcept { return family == 6 ? n6 : n4; }
} // namespace want

/// Arguments of a query ("a"). Which fields are set depends on the method.
struct query {
  method m = method::ping;
  node_id id{};
  /// find_node/get target, get_peers/announce_peer info_hash.
  node_id target{};
  /// announce_peer / put write token.
  bytes token;
  /// announce_peer port and implied_port flag.
  uint16_t port = 0;
  bool implied_port = false;
  /// BEP 44 put: the value; get: optional minimum seq.
  std::optional<bencode::value> v;
  std::optional<bytes32> k;
  std::optional<bytes64> sig;
  bytes salt;
  std::optional<int64_t> seq;
  std::optional<int64_t> cas;
  /// BEP 43: the sender is read-only (do not add it to routing tables).
  bool read_only = false;
  /// BEP 32 "want" (find_node, get_peers, get): want::n4 | want::n6; 0 when absent, i.e. the
  /// family of the address the query came from. Unknown flags are ignored.
  uint8_t want = 0;
};

/// Values of a response ("r").
struct response {
  node_id id{};
  bytes token;
  std::vector<node_entry> nodes;  ///< "nodes" and "nodes6" merged
  /// Records of "nodes"/"nodes6" left out (port 0, unspecified or, in "nodes6", IPv4-mapped
  /// addresses: parse_compact_nodes); set by decode, ignored by encode.
  size_t refused_nodes = 0;
  std::vector<endpoint> values;   ///< get_peers peers
  std::optional<bencode::value> v;
  std::optional<bytes32> k;
  std::optional<bytes64> sig;
  std::optional<int64_t> seq;
};

/// An error reply ("e": [code, message]).
struct error_reply {
  int64_t code = code::generic;
  std::string message;
};

/// One KRPC message.
struct message {
  enum class type : uint8_t { query, response, error };
  type y = type::query;
  std::string tid;        ///< transaction id ("t")
  query q;
  response r;
  error_reply e;
  std::string version;    ///< client version ("v"), may be empty
  /// BEP 42 "ip": in a response or error, the address the responder saw the query come from
  /// (our external address, as the responder sees it). Ignored when malformed.
  std::optional<endpoint> ip;
  /// A query that parsed as KRPC but whose arguments are missing or invalid: the KRPC error
  /// code the receiver should answer with (203 or 204), 0 if the query is fine.
  int reject_code = 0;
  std::string reject_reason;
  /// A query whose "q" is missing or names a method dtt does not speak (q.m is meaningless).
  bool unknown_method = false;
};

/// Largest KRPC datagram accepted (BEP 44 put: v ≤ 1000 bytes + envelope; mainline's limit is
/// 2048 bytes per datagram).
inline constexpr size_t max_packet_size = 2048;

/// Most records read from one "nodes" or "nodes6" string (a reply carries k = 8; a 2048-byte
/// datagram holds at most 53 "nodes6" records anyway). More fails the decode.
inline constexpr size_t max_nodes_per_key = 64;

/// Decoder limits used for KRPC (shallow: KRPC never nests beyond 4 levels).
bencode::limits krpc_limits() noexcept;

/// Parses a datagram. Fails (drop it) on anything that is not a bencoded dict with a string
/// "t" and a known "y". A query with bad arguments is returned with reject_code set.
result<message> decode(byte_view packet);

/// Encodes a message (only the fields its type and method use).
bytes encode(const message& m);

/// Builders.
message make_query(std::string tid, query q);
message make_response(std::string tid, response r);
message make_error(std::string tid, int64_t code, std::string text);

} // namespace dtt::dht::krpc
