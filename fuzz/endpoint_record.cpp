// Fuzz target: the endpoint record parser (actors/endpoint_record.hpp), whose input is the value
// of a BEP 44 item any node can publish under its own key.
//
// Checked besides "no crash, no sanitizer report":
// - every address decoded is a valid IPv4 or IPv6 literal (as inet_pton reads the whole host
//   string: no embedded NUL, no space) with a port in 1..65535;
// - inputs over 1000 bytes are refused;
// - decode(encode(decode(x))) == decode(x) while the encoding fits the encoder's bound, and the
//   encoding is otherwise a prefix of the list; the encoding never exceeds that bound.
#include "actors/endpoint_record.hpp"
#include "check.hpp"
#include "crypto/bep44.hpp"

#include <cstdint>
#include <string>

using namespace dtt;
using dtt::fuzz::is_ip_literal;
using dtt::fuzz::require;

namespace {

constexpr const char* target = "fuzz_endpoint_record";

// The encoder keeps the value 8 bytes under BEP 44's limit (actors/endpoint_record.cpp).
constexpr size_t encoder_bound = crypto::bep44::max_value_size - 8;

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  byte_view in(data, size);
  auto addrs = decode_endpoint_record(in);
  if (!addrs) {
    require(!addrs.err().what.empty(), target, "an error without a message");
    return 0;
  }
  require(size <= crypto::bep44::max_value_size, target, "a value over 1000 bytes decoded");
  require(!addrs->empty(), target, "an empty address list decoded");
  for (auto& a : *addrs) {
    require(a.port != 0, target, "port 0 decoded");
    require(is_ip_literal(a.ip), target, "a host that is not an IP literal decoded");
  }
  auto enc = encode_endpoint_record(*addrs);
  require(enc.size() <= encoder_bound, target, "the encoding exceeds the encoder's bound");
  auto again = decode_endpoint_record(enc);
  require(again.ok(), target, "the encoding of decoded addresses does not decode");
  require(again->size() <= addrs->size()
            && std::equal(again->begin(), again->end(), addrs->begin()),
          target, "decode(encode(decode(x))) is not a prefix of decode(x)");
  if (size <= encoder_bound)
    require(again->size() == addrs->size(), target,
            "decode(encode(decode(x))) != decode(x) for a value within the encoder's bound");
  auto enc2 = encode_endpoint_record(*again);
  require(enc2 == enc, target, "encode is not stable over decode");
  return 0;
}
