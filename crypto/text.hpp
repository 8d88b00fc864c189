#pragma once

#include "crypto/bytes.hpp"

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

/// Decodes standard base64 with padding; nullopt on anything else.
std::optional<bytes> from_base64(std::string_view text);

} // namespace dtt
