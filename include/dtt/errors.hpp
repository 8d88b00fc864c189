#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace dtt {

/// Every failure dtt reports. Actors map it onto one CAF error category (messages/).
enum class errc : uint8_t {
  truncated = 1,       ///< input shorter than its format requires
  too_large,           ///< input or length field over a hard limit
  length_mismatch,     ///< a length field disagrees with the bytes that follow
  malformed,           ///< input does not follow its grammar
  bad_key,             ///< bytes are not a valid (or are a weak) public key
  bad_signature,       ///< signature does not verify
  wrong_topic,         ///< record is for another topic
  wrong_minute,        ///< record is for another minute
  decrypt_failed,      ///< AEAD open failed (wrong key or tampered ciphertext)
  crypto_failure,      ///< a primitive failed (e.g. all-zero DH output)
  timeout,             ///< an operation ran out of time
  cancelled,           ///< an operation was cancelled
  unreachable,         ///< no peer / node could be reached
  refused,             ///< the remote refused (e.g. BEP 44 CAS mismatch)
  invalid_argument,    ///< caller passed a value the API does not accept
  closed,              ///< the object or channel has shut down
  io_error,            ///< a socket or file operation failed
  busy,                ///< too much work is pending: retry later (back-pressure)
};

/// Short stable name of an error code ("truncated", "bad_signature", ...).
const char* to_string(errc e) noexcept;

/// An error code plus a human-readable line saying what failed.
struct error {
  errc code;
  std::string what;

  error(errc c, std::string w = {}) : code(c), what(std::move(w)) {}
  /// "code: what", for logs and CLI output.
  std::string message() const;
};

/// Either a value or an error (std::expected arrives only in C++23).
template <class T>
class result {
public:
  result(T value) : v_(std::move(value)) {}
  result(error e) : v_(std::move(e)) {}
  result(errc c, std::string what = {}) : v_(error{c, std::move(what)}) {}

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const error& err() const& { return std::get<1>(v_); }

private:
  std::variant<T, error> v_;
};

/// A result that carries no value.
struct ok_t {};
using status = result<ok_t>;
inline status ok_status() { return ok_t{}; }

} // namespace dtt
