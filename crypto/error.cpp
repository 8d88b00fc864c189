#include "crypto/error.hpp"

namespace dtt {

const char* to_string(errc e) noexcept {
  switch (e) {
    case errc::truncated: return "truncated";
    case errc::too_large: return "too_large";
    case errc::length_mismatch: return "length_mismatch";
    case errc::malformed: return "malformed";
    case errc::bad_key: return "bad_key";
    case errc::bad_signature: return "bad_signature";
    case errc::wrong_topic: return "wrong_topic";
    case errc::wrong_minute: return "wrong_minute";
    case errc::decrypt_failed: return "decrypt_failed";
    case errc::crypto_failure: return "crypto_failure";
    case errc::timeout: return "timeout";
    case errc::cancelled: return "cancelled";
    case errc::unreachable: return "unreachable";
    case errc::refused: return "refused";
    case errc::invalid_argument: return "invalid_argument";
    case errc::closed: return "closed";
    case errc::io_error: return "io_error";
    case errc::busy: return "busy";
  }
  return "unknown";
}

std::string error::message() const {
  std::string out = to_string(code);
  if (!what.empty()) {
    out += ": ";
    out += what;
  }
  return out;
}

} // namespace dtt
