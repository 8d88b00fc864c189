#pragma once

#include "dtt/events.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

/// Bytes as text: lowercase hex for ids, and for message contents (a peer may send any bytes)
/// a strict UTF-8 check and standard base64, as dttd prints them.
namespace dtt {

/// Lowercase hex of `size` bytes at `data`.
std::string to_hex(const uint8_t* data, size_t size);
/// Lowercase hex of `b`.
inline std::string to_hex(const bytes& b) { return to_hex(b.data(), b.size()); }
/// Lowercase hex of an id (endpoint_id, a topic id).
template <size_t N>
std::string to_hex(const byte_array<N>& a) {
  return to_hex(a.data(), N);
}

/// An endpoint id (or topic id) from exactly 64 hex digits (either case); nullopt otherwise.
std::optional<endpoint_id> endpoint_id_from_hex(std::string_view hex);

/// True when `b` is well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates
/// (U+D800..U+DFFF), nothing above U+10FFFF, no truncated sequence.
bool is_utf8(const bytes& b) noexcept;
bool is_utf8(const payload& p) noexcept;

/// Standard base64 (RFC 4648 section 4, with padding).
std::string to_base64(const bytes& b);
std::string to_base64(const payload& p);

/// Decodes standard base64 with padding; nullopt on anything else.
std::optional<bytes> from_base64(std::string_view text);

} // namespace dtt
