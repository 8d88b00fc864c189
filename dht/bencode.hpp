#pragma once

#include "crypto/bytes.hpp"
#include "crypto/error.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

/// Bencoding (BEP 3) with a strict, bounded decoder: only canonical input is accepted (dict keys
/// strictly ascending, no leading zeros, no "-0", no trailing bytes), so decode + encode
/// reproduces the input byte for byte (BEP 44 signatures and targets rely on that).
namespace dtt::dht::bencode {

/// Hard limits of the decoder. Defaults fit KRPC: a UDP datagram is < 1500 bytes in practice,
/// BEP 44 puts are the largest messages (v ≤ 1000 bytes plus ~200 bytes of envelope).
struct limits {
  size_t max_input = 4096;     ///< total bytes
  size_t max_depth = 16;       ///< nesting of lists/dicts
  size_t max_items = 512;      ///< elements of one list or dict
  size_t max_int_digits = 20;  ///< digits of an integer (int64 needs ≤ 19)
  size_t max_string = 4096;    ///< bytes of one string
};

/// One bencoded value. Strings hold raw bytes; dict entries stay in (sorted) wire order.
class value {
public:
  enum class kind : uint8_t { integer, string, list, dict };
  using list_t = std::vector<value>;
  using dict_t = std::vector<std::pair<std::string, value>>;

  value() = default;
  /// An integer.
  static value integer(int64_t i);
  /// A byte string.
  static value string(std::string s);
  /// A byte string from bytes.
  static value string(byte_view b);
  /// An empty list.
  static value list();
  /// An empty dict.
  static value dict();

  kind type() const noexcept { return k_; }
  bool is_int() const noexcept { return k_ == kind::integer; }
  bool is_string() const noexcept { return k_ == kind::string; }
  bool is_list() const noexcept { return k_ == kind::list; }
  bool is_dict() const noexcept { return k_ == kind::dict; }

  int64_t as_int() const noexcept { return i_; }
  const std::string& as_string() const noexcept { return s_; }
  byte_view as_bytes() const noexcept { return byte_view::of(s_); }
  const list_t& as_list() const noexcept { return l_; }
  list_t& as_list() noexcept { return l_; }
  const dict_t& as_dict() const noexcept { return d_; }

  /// Dict lookup (binary search on the sorted keys); nullptr if absent or not a dict.
  const value* find(std::string_view key) const noexcept;
  /// Sets a dict entry, keeping keys sorted (replaces an existing key).
  value& set(std::string key, value v);
  /// Appends to a list.
  void push(value v) { l_.push_back(std::move(v)); }

  friend bool operator==(const value& a, const value& b);
  friend bool operator!=(const value& a, const value& b) { return !(a == b); }

private:
  kind k_ = kind::string;
  int64_t i_ = 0;
  std::string s_;
  list_t l_;
  dict_t d_;
};

/// Decodes exactly one canonical value that spans the whole input.
result<value> decode(byte_view in, const limits& lim = {});

/// Encodes a value (canonically: dicts built with set() are sorted).
bytes encode(const value& v);
/// Appends the encoding of a value.
void encode_to(const value& v, bytes& out);

} // namespace dtt::dht::bencode
