#include "crypto/bep44.hpp"

#include "crypto/hash.hpp"

#include <string>

namespace dtt::crypto::bep44 {

namespace {
void append_str(bytes& out, const std::string& s) {
  append(out, byte_view::of(s));
}
} // namespace

bytes bencode_string(byte_view raw) {
  bytes out;
  append_str(out, std::to_string(raw.size()));
  out.push_back(':');
  append(out, raw);
  return out;
}

bytes signable(byte_view salt, int64_t seq, byte_view bencoded_value) {
  bytes out;
  if (!salt.empty()) {
    append_str(out, "4:salt");
    append(out, bencode_string(salt));
  }
  append_str(out, "3:seqi" + std::to_string(seq) + "e1:v");
  append(out, bencoded_value);
  return out;
}

bytes signable_for_string(byte_view salt, int64_t seq, byte_view raw_value) {
  return signable(salt, seq, bencode_string(raw_value));
}

target mutable_target(const public_key& k, byte_view salt) {
  bytes buf;
  append(buf, k);
  append(buf, salt);
  return sha1(buf);
}

target immutable_target(byte_view bencoded_value) { return sha1(bencoded_value); }

} // namespace dtt::crypto::bep44
