#pragma once

#include "dtt/events.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace dtt {

// bytes, byte_array and bytes32 are public: include/dtt/events.hpp.

/// 64 bytes: Ed25519 signatures, SHA-512 digests.
using bytes64 = byte_array<64>;

/// A read-only view on contiguous bytes (C++17 has no std::span).
class byte_view {
public:
  constexpr byte_view() noexcept = default;
  constexpr byte_view(const uint8_t* data, size_t size) noexcept : data_(data), size_(size) {}
  byte_view(const bytes& b) noexcept : data_(b.data()), size_(b.size()) {}
  byte_view(const payload& p) noexcept : data_(p.data()), size_(p.size()) {}
  template <size_t N>
  constexpr byte_view(const byte_array<N>& a) noexcept : data_(a.data()), size_(N) {}
  /// Views the characters of a string as bytes.
  static byte_view of(std::string_view s) noexcept {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
  }

  constexpr const uint8_t* data() const noexcept { return data_; }
  constexpr size_t size() const noexcept { return size_; }
  constexpr bool empty() const noexcept { return size_ == 0; }
  constexpr const uint8_t* begin() const noexcept { return data_; }
  constexpr const uint8_t* end() const noexcept { return data_ + size_; }
  constexpr uint8_t operator[](size_t i) const noexcept { return data_[i]; }

  /// Bytes [pos, pos + n), clamped to the view.
  constexpr byte_view sub(size_t pos, size_t n = SIZE_MAX) const noexcept {
    if (pos > size_)
      pos = size_;
    if (n > size_ - pos)
      n = size_ - pos;
    return {data_ + pos, n};
  }
  bytes to_bytes() const { return bytes(begin(), end()); }
  std::string_view as_string() const noexcept {
    return {reinterpret_cast<const char*>(data_), size_};
  }

private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

/// Compares two views byte for byte (not constant time).
bool operator==(byte_view a, byte_view b) noexcept;
inline bool operator!=(byte_view a, byte_view b) noexcept { return !(a == b); }

/// Lowercase hex of the bytes.
std::string to_hex(byte_view b);

/// Parses hex (either case); nullopt on odd length or a non-hex digit.
std::optional<bytes> from_hex(std::string_view hex);

/// Parses exactly N bytes of hex; nullopt otherwise.
template <size_t N>
std::optional<byte_array<N>> array_from_hex(std::string_view hex) {
  auto b = from_hex(hex);
  if (!b || b->size() != N)
    return std::nullopt;
  byte_array<N> out;
  std::copy(b->begin(), b->end(), out.begin());
  return out;
}

/// Copies the first N bytes of a view into an array (the view must hold at least N).
template <size_t N>
byte_array<N> to_array(byte_view b) noexcept {
  byte_array<N> out{};
  for (size_t i = 0; i < N && i < b.size(); ++i)
    out[i] = b[i];
  return out;
}

/// True if every byte is zero.
bool is_zero(byte_view b) noexcept;

/// Appends bytes to a buffer.
void append(bytes& out, byte_view b);

/// Little/big-endian fixed-width encodings.
void put_le64(bytes& out, uint64_t v);
void put_be64(bytes& out, uint64_t v);
void put_le32(bytes& out, uint32_t v);
void put_be32(bytes& out, uint32_t v);
uint64_t get_le64(const uint8_t* p) noexcept;
uint32_t get_le32(const uint8_t* p) noexcept;
uint32_t get_be32(const uint8_t* p) noexcept;

} // namespace dtt
