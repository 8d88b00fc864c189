// Fuzz target: the cluster member record (cluster/record.hpp, docs/CLUSTER.md), which members
// gossip over the cluster's topic: any byte sequence a peer broadcasts reaches decode_record.
//
// Input: a record as it travels (body, then a 64-byte Ed25519 signature).
// Checked besides "no crash, no sanitizer report":
// - a raw input that decodes (only a seed with a right signature can) is within the limits
//   below; one that does not gets an error with a message;
// - on a sample of 1 in 8 inputs the body is made signable: its id field (bytes 6..38) is set to
//   a fixed key's public key and the last 64 bytes to that key's signature over the body. Then
//   decode_record succeeds exactly when the body is well-formed, and when it does:
//   every field is within record_limits, names are valid, sorted and unique, every address has
//   a port in 1..65535 and is an IP literal, and encode_record(decoded) gives back the input
//   byte for byte (the format has one encoding per record);
// - the same signed input decodes to nothing for another cluster id (no cross-cluster replay).
#include "check.hpp"
#include "cluster/record.hpp"
#include "crypto/ed25519.hpp"

#include <cstdint>

using namespace dtt;
using dtt::fuzz::filled;
using dtt::fuzz::is_ip_literal;
using dtt::fuzz::require;
using dtt::fuzz::sampled;

namespace {

constexpr const char* target = "fuzz_cluster_record";
constexpr size_t id_offset = 6; // "DTTC", version, flags
constexpr size_t sig_size = 64;

const crypto::signing_key& fixed_key() {
  static const auto k = crypto::signing_key::from_seed(filled(0x5c));
  return k;
}

const bytes32 cluster_id = filled(0xc1);
const bytes32 other_cluster = filled(0xc2);

void check_decoded(const cluster_core::member_record& r, byte_view wire) {
  cluster_core::record_limits lim;
  require(wire.size() <= lim.max_record_size, target, "a record over max_record_size decoded");
  require(r.node.size() <= lim.max_node_id_size, target, "node id over its limit");
  require(r.addresses.size() <= lim.max_addresses, target, "too many addresses decoded");
  require(r.names.size() <= lim.max_names, target, "too many names decoded");
  for (size_t i = 0; i < r.names.size(); ++i) {
    require(cluster_core::valid_name(r.names[i], lim), target, "an invalid name decoded");
    require(i == 0 || r.names[i - 1] < r.names[i], target, "names not sorted and unique");
  }
  for (auto& a : r.addresses) {
    require(a.port != 0, target, "port 0 decoded");
    require(is_ip_literal(a.ip), target, "an address that is not an IP literal decoded");
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  byte_view in(data, size);
  if (auto r = cluster_core::decode_record(in, cluster_id)) {
    check_decoded(*r, in);
    require(size > sig_size, target, "a record without a signature decoded");
    require(crypto::is_valid_public_key(r->id), target, "a record with an invalid id decoded");
  } else {
    require(!r.err().what.empty(), target, "an error without a message");
  }

  if (size < id_offset + 32 + sig_size || !sampled(data, size, 8))
    return 0;
  // Make the input signable by the fixed key, then every well-formed body must decode.
  bytes wire(data, data + size);
  auto& key = fixed_key();
  std::copy(key.public_key_bytes().begin(), key.public_key_bytes().end(),
            wire.begin() + id_offset);
  byte_view body{wire.data(), wire.size() - sig_size};
  // The signature covers a context label, the cluster id and the body (cluster/record.cpp).
  bytes msg;
  append(msg, byte_view::of("dtt-cluster-record-v1"));
  append(msg, cluster_id);
  append(msg, body);
  auto sig = key.sign(msg);
  std::copy(sig.begin(), sig.end(), wire.end() - sig_size);

  auto r = cluster_core::decode_record(wire, cluster_id);
  require(!cluster_core::decode_record(wire, other_cluster), target,
          "a record signed for one cluster decoded in another");
  if (!r) {
    // Only a malformed or oversized body may fail once the signature is right.
    require(r.err().code != errc::bad_signature && r.err().code != errc::bad_key, target,
            "a correctly signed record failed its signature check");
    return 0;
  }
  check_decoded(*r, wire);
  require(r->id == key.public_key_bytes(), target, "decoded id is not the signer");
  auto again = cluster_core::encode_record(*r, key, cluster_id);
  require(again.ok(), target, "a decoded record does not encode");
  require(*again == wire, target, "encode(decode(x)) != x");
  return 0;
}
