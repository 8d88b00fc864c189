// Fuzz target: the encrypted record (crypto/encrypted_record.hpp, PROTOCOL.md §3) and the HPKE
// blob parser under it (crypto/hpke.hpp open_ed, §3.4), down to the record parser (§2.1).
//
// Input: one mode byte, then the data.
//   mode % 4 == 0 or 3: a DHT value (LE32(L) || L bytes || 88-byte key blob). Parsed, and
//                opened and verified with the per-minute key of the seeds' topic ("my-topic",
//                secret "my-secret", minute 29500000: the dtt_records vectors), so that the
//                seeds decrypt and mutations reach every check of the read path.
//   mode % 4 == 1: an HPKE blob, opened with that key's seed.
//   mode % 4 == 2: a record plaintext: sealed (fixed randomness) into a DHT value for that key,
//                which must then open to exactly what record::from_bytes makes of the data.
// The HPKE steps (X25519) run on a sample of one input in 8, the parsers on every input.
// Checked besides "no crash, no sanitizer report":
// - from_bytes accepts exactly LE32(L) with L <= 2048 followed by L + 88 bytes; for a value of
//   at most 2048 bytes to_bytes() gives back the input, for a longer one it fails (§3.1: the
//   writer's limit is the total, the reader's the length field);
// - open_record succeeds only if every step does: parse, open, record parse, verify;
// - seal then open is the identity on the record plaintext.
#include "check.hpp"
#include "crypto/encrypted_record.hpp"
#include "crypto/hpke.hpp"
#include "crypto/keys.hpp"

#include <algorithm>
#include <cstdint>

using namespace dtt;
using namespace dtt::crypto;
using dtt::fuzz::filled;
using dtt::fuzz::require;
using dtt::fuzz::sampled;

namespace {

constexpr const char* target = "fuzz_encrypted_record";

struct keys {
  topic_id topic = topic_id::from_name("my-topic");
  uint64_t minute = 29500000;
  signing_key enc = encryption_keypair(topic, rotation_handle{},
                                       initial_secret_hash(byte_view::of("my-secret")), minute);
};

const keys& fixed() {
  static const keys k;
  return k;
}

void check_value(byte_view in, bool open) {
  auto& k = fixed();
  auto er = encrypted_record::from_bytes(in);
  bool expect = in.size() >= 4 && get_le32(in.data()) <= encrypted_record::max_size
                && in.size() - 4 == uint64_t{get_le32(in.data())} + encrypted_record::key_blob_size;
  require(er.ok() == expect, target, "from_bytes does not accept exactly the §3.1 layout");
  if (er) {
    require(er->encrypted_key_bytes().size() == encrypted_record::key_blob_size, target,
            "key blob is not 88 bytes");
    auto wire = er->to_bytes();
    if (in.size() <= encrypted_record::max_size)
      require(wire && *wire == in.to_bytes(), target, "to_bytes(from_bytes(x)) != x");
    else
      require(!wire && wire.err().code == errc::too_large, target,
              "to_bytes writes a value over 2048 bytes");
  }
  if (!open)
    return;
  auto rec = open_record(in, k.topic, k.minute, k.enc);
  if (rec) {
    require(er.ok(), target, "open_record accepts what from_bytes refuses");
    auto opened = er->open(k.enc);
    require(opened && *opened == *rec, target, "open() and open_record() disagree");
    require(rec->verify(k.topic.hash(), k.minute).ok(), target,
            "open_record returns a record that does not verify");
  }
}

void check_sealed(byte_view plain) {
  auto& k = fixed();
  // A record layer around arbitrary plaintext, as a sender that does not use record::to_bytes
  // could make it; the key layer is the honest one.
  auto one_time_seed = filled(0x11);
  static const signing_key one_time = signing_key::from_seed(one_time_seed);
  auto inner = hpke::seal_ed_with_secret(one_time.public_key_bytes(), plain, filled(0x22));
  require(inner.ok(), target, "HPKE seal of the record layer failed");
  static const bytes key_blob = [&] {
    auto b = hpke::seal_ed_with_secret(k.enc.public_key_bytes(), filled(0x11), filled(0x33));
    require(b && b->size() == encrypted_record::key_blob_size, target, "key blob seal");
    return *b;
  }();
  bytes value;
  put_le32(value, static_cast<uint32_t>(inner->size()));
  append(value, *inner);
  append(value, key_blob);
  auto er = encrypted_record::from_bytes(value);
  bool fits = inner->size() <= encrypted_record::max_size;
  require(er.ok() == fits, target, "from_bytes of a sealed value");
  if (!er)
    return;
  auto opened = er->open(k.enc);
  auto parsed = record::from_bytes(plain);
  require(opened.ok() == parsed.ok(), target,
          "open() of a sealed plaintext disagrees with record::from_bytes");
  if (opened)
    require(*opened == *parsed && opened->to_bytes() == plain.to_bytes(), target,
            "seal then open is not the identity");
  check_value(value, true);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0)
    return 0;
  byte_view in(data + 1, size - 1);
  // X25519 costs: the HPKE steps run on a sample (1 in 8) of the inputs, the parsers on all.
  bool heavy = sampled(data, size, 8);
  switch (data[0] % 4) {
    case 1: {
      if (!heavy) {
        // open_ed refuses these shapes before any X25519.
        bool shape = in.size() >= 8 + 32 + 16 && get_le64(in.data()) == 32;
        if (!shape)
          require(!hpke::open_ed(fixed().enc.seed(), in), target, "open_ed shape check");
        break;
      }
      auto plain = hpke::open_ed(fixed().enc.seed(), in);
      if (plain)
        require(in.size() >= 8 + 32 + 16 && get_le64(in.data()) == 32
                  && plain->size() == in.size() - 8 - 32 - 16,
                target, "open_ed accepted a blob of the wrong shape");
      break;
    }
    case 2:
      if (heavy)
        check_sealed(in);
      break;
    default:
      check_value(in, heavy);
      break;
  }
  return 0;
}
