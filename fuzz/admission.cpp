// Fuzz target: the gossip membership-proof (admission) parser (crypto/membership.hpp) and the
// admit control frames that carry it (gossip/transport/frame.hpp, docs/ADMISSION.md).
//
// Input: a byte stream as a peer sends it on a link, cut into reads of 1 + (first byte % 97)
// bytes; the same bytes are also decoded directly as one admission body.
// Checked besides "no crash, no sanitizer report":
// - decode_admission accepts exactly 64 bytes and encode_admission gives them back;
// - every admit frame the decoder returns has a 64-byte body that decodes, and re-framing the
//   frames returned gives back the bytes consumed;
// - check_admission_proof (on the whole input as a body and the first 4 admit frames of the
//   stream; a fixed member: the vectors' topic "my-topic" / "my-secret", a fixed exporter and
//   endpoint ids) accepts a body's proof iff it is the proof admission_proof
//   computes for that topic id; the right proof passes, and fails for swapped endpoint ids,
//   another exporter or another topic id.
#include "check.hpp"
#include "crypto/membership.hpp"
#include "crypto/topic_id.hpp"
#include "gossip/transport/frame.hpp"

#include <cstdint>

using namespace dtt;
using dtt::fuzz::filled;
using dtt::fuzz::require;

namespace {

constexpr const char* target = "fuzz_admission";

struct member {
  crypto::topic_membership m = crypto::derive_membership(
    crypto::topic_id::from_name("my-topic").hash(),
    crypto::initial_secret_hash(byte_view::of("my-secret")));
  bytes32 exporter = filled(0xe1), sender = filled(0x5e), receiver = filled(0x7e);
};

const member& fixed() {
  static const member m;
  return m;
}

// Admit frames per input whose proof is checked (five HMACs each); the rest of a long stream's
// admit frames get the decode/encode round trip only. One per input was the whole cost of a
// run once the corpus held 4 KiB streams of admits (1,200 executions/s against 11,000).
constexpr size_t proof_checks_per_input = 4;

void check_body(byte_view body, bool proofs = true) {
  auto a = crypto::decode_admission(body);
  require(a.ok() == (body.size() == crypto::admission_size), target,
          "decode_admission does not accept exactly 64 bytes");
  if (!a)
    return;
  require(crypto::encode_admission(*a) == body.to_bytes(), target,
          "encode(decode(x)) != x for an admission");
  if (!proofs)
    return;
  auto& f = fixed();
  bool ok = crypto::check_admission_proof(f.m.key, f.exporter, f.sender, f.receiver, a->topic_id,
                                          a->proof);
  auto right = crypto::admission_proof(f.m.key, f.exporter, f.sender, f.receiver, a->topic_id);
  require(ok == (a->proof == right), target, "check_admission_proof != (proof == expected)");
  require(crypto::check_admission_proof(f.m.key, f.exporter, f.sender, f.receiver, a->topic_id,
                                        right),
          target, "the right proof is refused");
  require(!crypto::check_admission_proof(f.m.key, f.exporter, f.receiver, f.sender, a->topic_id,
                                         right),
          target, "a proof passes with the endpoint ids swapped");
  auto other = f.exporter;
  other[body[0] % 32] ^= 1;
  require(!crypto::check_admission_proof(f.m.key, other, f.sender, f.receiver, a->topic_id,
                                         right),
          target, "a proof passes for another TLS exporter value");
  auto topic = a->topic_id;
  topic[body[1] % 32] ^= 0x80;
  require(!crypto::check_admission_proof(f.m.key, f.exporter, f.sender, f.receiver, topic, right),
          target, "a proof passes for another topic id");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0)
    return 0;
  byte_view stream(data + 1, size - 1);
  check_body(stream);

  const size_t chunk = 1 + data[0] % 97;
  net::frame_decoder dec(4096);
  size_t admits = 0;
  bytes reframed;
  size_t consumed = 0;
  bool failed = false;
  for (size_t off = 0; off < stream.size() && !failed; off += chunk) {
    auto part = stream.sub(off, chunk);
    auto st = dec.feed(part, [&](net::frame&& f) {
      if (f.is_control && f.code == net::control::admit) {
        require(f.message.size() == net::admit_body_size, target, "admit body of a wrong size");
        check_body(f.message, ++admits <= proof_checks_per_input);
        net::append_admit(reframed, f.message);
      } else if (f.is_control) {
        net::append_control(reframed, f.code, f.message);
      } else {
        net::append_frame(reframed, f.message);
      }
      return true;
    });
    if (!st)
      failed = true;
    else
      consumed = off + part.size();
  }
  if (!failed) {
    consumed -= dec.buffered();
    require(reframed.size() == consumed
              && std::equal(reframed.begin(), reframed.end(), stream.begin()),
            target, "re-framing the frames returned does not give back the bytes consumed");
  }
  return 0;
}
