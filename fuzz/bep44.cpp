// Fuzz target: BEP 44 mutable-item verification (dht/item.hpp, crypto/bep44.hpp), the check a
// node applies to every item it stores or receives.
//
// Input: salt length (1 byte), seq (LE64), public key (32), signature (64), the salt, then the
// raw value (a byte string, as distributed-topic-tracker writes it).
// Checked besides "no crash, no sanitizer report":
// - the signable buffer is canonical bencode: "d" + buffer + "e" decodes to a dict holding
//   exactly the salt (when not empty), seq and v, and re-encodes byte for byte;
// - verify() fails for salt > 64 bytes or a bencoded value > 1000 bytes; on a sample of one
//   input in 16 (signatures cost), it succeeds only if verify_strict accepts the buffer;
// - for one input in 64, the item signed with a fixed key verifies iff the sizes are within the
//   limits, and a flipped signature bit or seq makes it fail.
#include "check.hpp"
#include "dht/bencode.hpp"
#include "dht/item.hpp"

#include <cstdint>

using namespace dtt;
using namespace dtt::dht;
using dtt::fuzz::require;
using dtt::fuzz::sampled;

namespace {

constexpr const char* target = "fuzz_bep44";
constexpr size_t header = 1 + 8 + 32 + 64;

bool sizes_ok(const mutable_item& it) {
  return it.salt.size() <= crypto::bep44::max_salt_size
         && crypto::bep44::bencode_string(it.value).size() <= crypto::bep44::max_value_size;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < header)
    return 0;
  byte_view in(data, size);
  mutable_item it;
  size_t salt_len = std::min<size_t>(data[0], size - header);
  it.seq = static_cast<int64_t>(get_le64(data + 1));
  it.key = to_array<32>(in.sub(9, 32));
  it.signature = to_array<64>(in.sub(41, 64));
  it.salt = in.sub(header, salt_len).to_bytes();
  it.value = in.sub(header + salt_len).to_bytes();

  auto buf = crypto::bep44::signable_for_string(it.salt, it.seq, it.value);
  bytes dict{'d'};
  append(dict, buf);
  dict.push_back('e');
  bencode::limits lim;
  lim.max_input = lim.max_string = 1 << 20;
  auto v = bencode::decode(dict, lim);
  require(v && v->is_dict(), target, "the signable buffer is not canonical bencode");
  require(v->as_dict().size() == (it.salt.empty() ? 2u : 3u), target, "signable keys");
  auto* seq = v->find("seq");
  auto* val = v->find("v");
  require(seq && seq->is_int() && seq->as_int() == it.seq, target, "signable seq");
  require(val && val->is_string() && val->as_bytes().to_bytes() == it.value, target,
          "signable v");
  if (!it.salt.empty()) {
    auto* salt = v->find("salt");
    require(salt && salt->is_string() && salt->as_bytes().to_bytes() == it.salt, target,
            "signable salt");
  }

  if (!sampled(data, size, 16)) {
    // Only the size checks (the signature check is what verify() does last).
    if (!sizes_ok(it))
      require(!it.verify(), target, "verify() accepted an item over the limits");
    return 0;
  }
  auto st = it.verify();
  if (st)
    require(sizes_ok(it) && crypto::verify_strict(it.key, buf, it.signature), target,
            "verify() accepted an item over the limits or with a bad signature");
  else if (st.err().code == errc::bad_signature)
    require(sizes_ok(it), target, "a size error reported as a bad signature");

  if (sampled(data + 1, size - 1, 4)) {
    static const crypto::signing_key key = [] {
      bytes32 s;
      s.fill(0x44);
      return crypto::signing_key::from_seed(s);
    }();
    auto signed_it = mutable_item::sign(key, it.salt, it.seq, it.value);
    auto ok = signed_it.verify();
    require(ok.ok() == sizes_ok(signed_it), target, "a signed item's verify() disagrees with "
                                                    "its sizes");
    if (ok) {
      auto flipped = signed_it;
      flipped.signature[data[1] % 64] ^= static_cast<uint8_t>(1u << (data[2] % 8));
      require(!flipped.verify(), target, "a flipped signature bit verifies");
      auto other = signed_it;
      other.seq ^= 1;
      require(!other.verify(), target, "a changed seq verifies");
    }
  }
  return 0;
}
