#pragma once

#include "crypto/bytes.hpp"
#include "dtt/text.hpp" // the public overloads for bytes and ids

#include <optional>
#include <string>
#include <string_view>

/// Bytes as text for JSON output: a strict UTF-8 check and standard base64.
namespace dtt {

/// True when `b` is well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates
/// (U+D800..U+DFFF), nothing above U+10FFFF, no truncated sequence.
bool is_utf8(byte_view b) noexcept;

/// Standard base64 (RFC 4648 section 4, with padding).
std::string to_base64(byte_view b);

} // namespace dtt
