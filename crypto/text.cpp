#include "crypto/text.hpp"

#include <sodium.h>

namespace dtt {

bool is_utf8(byte_view b) noexcept {
  const uint8_t* p = b.data();
  size_t n = b.size();
  for (size_t i = 0; i < n;) {
    uint8_t c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint8_t lo = 0x80, hi = 0xbf; // allowed range of the second byte (RFC 3629 section 4)
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      if (c == 0xe0)
        lo = 0xa0; // overlong
      else if (c == 0xed)
        hi = 0x9f; // surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      if (c == 0xf0)
        lo = 0x90; // overlong
      else if (c == 0xf4)
        hi = 0x8f; // above U+10FFFF
    } else {
      return false; // continuation byte, overlong lead (C0, C1) or F5..FF
    }
    if (n - i < len || p[i + 1] < lo || p[i + 1] > hi)
      return false;
    for (size_t k = 2; k < len; ++k)
      if (p[i + k] < 0x80 || p[i + k] > 0xbf)
        return false;
    i += len;
  }
  return true;
}

std::string to_base64(byte_view b) {
  std::string out(sodium_base64_encoded_len(b.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), b.data(), b.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1); // the terminating NUL
  return out;
}

std::optional<bytes> from_base64(std::string_view text) {
  bytes out(text.size() / 4 * 3 + 3);
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &len, &end,
                        sodium_base64_VARIANT_ORIGINAL)
        != 0
      || end != text.data() + text.size())
    return std::nullopt;
  out.resize(len);
  return out;
}

// The public overloads (include/dtt/text.hpp).
std::string to_hex(const uint8_t* data, size_t size) { return to_hex(byte_view(data, size)); }
bool is_utf8(const bytes& b) noexcept { return is_utf8(byte_view(b)); }
std::string to_base64(const bytes& b) { return to_base64(byte_view(b)); }
bool is_utf8(const payload& p) noexcept { return is_utf8(byte_view(p)); }
std::string to_base64(const payload& p) { return to_base64(byte_view(p)); }
std::optional<endpoint_id> endpoint_id_from_hex(std::string_view hex) {
  if (hex.size() != 64)
    return std::nullopt;
  return array_from_hex<32>(hex);
}

} // namespace dtt
