// Fuzz target: the plain record parser (crypto/record.hpp, PROTOCOL.md §2.1–§2.2) and the
// GossipRecordContent postcard decoder (§2.3).
//
// Input: a serialised record (what the inner HPKE layer of a DHT value decrypts to).
// Checked besides "no crash, no sanitizer report":
// - record::from_bytes accepts exactly the inputs of ≥ 136 bytes; the fields sit at their §2.1
//   offsets; to_bytes() gives back the input and signed_data() is all but the last 64 bytes;
// - gossip_record_content::decode accepts exactly contents of ≥ 320 bytes, re-encodes to their
//   first 320 bytes, and peers()/hashes() are the non-zero slots, in order;
// - verify() fails on any topic or minute but the seeds' (the dtt_records vectors); for theirs
//   it agrees with verify_strict over signed_data() (on a sample of 1 in 16: signatures cost);
// - for one input in 64, the input signed as content with a fixed node key parses back to the
//   same record and verifies.
#include "check.hpp"
#include "crypto/ed25519.hpp"
#include "crypto/record.hpp"
#include "crypto/topic_id.hpp"

#include <algorithm>
#include <cstdint>

using namespace dtt;
using namespace dtt::crypto;
using dtt::fuzz::require;
using dtt::fuzz::sampled;

namespace {

constexpr const char* target = "fuzz_record";

// The topic and minute of the dtt_records vectors the seeds come from (tests/crypto checks that
// the vectors and the library agree; here they only steer verify() past its cheap checks).
const bytes32 seed_topic = topic_id::from_name("my-topic").hash();
constexpr uint64_t seed_minute = 29500000;

void check_content(byte_view content) {
  auto c = gossip_record_content::decode(content);
  require(c.ok() == (content.size() >= gossip_record_content::encoded_size), target,
          "content decode does not accept exactly the inputs of >= 320 bytes");
  if (!c)
    return;
  auto enc = c->encode();
  require(enc.size() == gossip_record_content::encoded_size, target, "content encode size");
  require(std::equal(enc.begin(), enc.end(), content.begin()), target,
          "content encode(decode(x)) is not the first 320 bytes of x");
  auto again = gossip_record_content::decode(enc);
  require(again && *again == *c, target, "content decode(encode(c)) != c");
  auto peers = c->peers();
  auto hashes = c->hashes();
  size_t zero_peers = 0, zero_hashes = 0;
  for (auto& p : c->active_peers)
    zero_peers += is_zero(p);
  for (auto& h : c->last_message_hashes)
    zero_hashes += is_zero(h);
  require(peers.size() + zero_peers == max_record_peers, target, "peers() count");
  require(hashes.size() + zero_hashes == max_message_hashes, target, "hashes() count");
  auto compact = gossip_record_content::make(peers, hashes);
  require(compact.peers() == peers && compact.hashes() == hashes, target,
          "make(peers(), hashes()) loses or reorders entries");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  byte_view in(data, size);
  check_content(in);

  auto r = record::from_bytes(in);
  require(r.ok() == (size >= record::min_size), target,
          "from_bytes does not accept exactly the inputs of >= 136 bytes");
  if (r) {
    require(r->to_bytes() == in.to_bytes(), target, "to_bytes(from_bytes(x)) != x");
    auto sd = r->signed_data();
    require(sd.size() == size - record::signature_size
              && std::equal(sd.begin(), sd.end(), data),
            target, "signed_data() is not the input minus the signature");
    require(std::equal(r->topic().begin(), r->topic().end(), data), target, "topic offset");
    require(get_le64(data + 32) == r->unix_minute(), target, "minute offset");
    require(std::equal(r->pub_key().begin(), r->pub_key().end(), data + 40), target,
            "pub_key offset");
    require(r->content().size() == size - record::min_size, target, "content size");
    require(std::equal(r->sig().begin(), r->sig().end(), data + size - 64), target,
            "signature offset");
    auto rc = r->gossip_content();
    require(rc.ok() == (r->content().size() >= gossip_record_content::encoded_size),
            target, "gossip_content() disagrees with the content size");

    if (r->topic() == seed_topic && r->unix_minute() == seed_minute) {
      if (!sampled(data, size, 16))
        return 0;
      bool ok = r->verify(seed_topic, seed_minute).ok();
      bool expect = is_valid_public_key(r->pub_key())
                    && verify_strict(r->pub_key(), sd, r->sig());
      require(ok == expect, target, "verify() disagrees with verify_strict(signed_data)");
      if (ok) {
        require(!r->verify(seed_topic, seed_minute + 1), target, "verify ignores the minute");
        auto other = seed_topic;
        other[0] ^= 1;
        require(!r->verify(other, seed_minute), target, "verify ignores the topic");
      }
    } else {
      require(!r->verify(seed_topic, seed_minute), target,
              "verify accepts a record of another topic or minute");
    }
  }

  if (sampled(data, size, 64)) {
    static const signing_key node_key = [] {
      bytes32 s;
      s.fill(0x5a);
      return signing_key::from_seed(s);
    }();
    auto minute = size >= 8 ? get_le64(data) : 0;
    auto signed_rec = record::sign(seed_topic, minute, in, node_key);
    auto wire = signed_rec.to_bytes();
    require(wire.size() == record::min_size + size, target, "signed record size");
    auto back = record::from_bytes(wire);
    require(back && *back == signed_rec, target, "from_bytes(sign(...).to_bytes()) differs");
    require(back->verify(seed_topic, minute).ok(), target,
            "a freshly signed record does not verify");
  }
  return 0;
}
