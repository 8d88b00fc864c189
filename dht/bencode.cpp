#include "dht/bencode.hpp"

#include <algorithm>

namespace dtt::dht::bencode {

value value::integer(int64_t i) {
  value v;
  v.k_ = kind::integer;
  v.i_ = i;
  return v;
}

value value::string(std::string s) {
  value v;
  v.k_ = kind::string;
  v.s_ = std::move(s);
  return v;
}

value value::string(byte_view b) { return string(std::string(b.as_string())); }

value value::list() {
  value v;
  v.k_ = kind::list;
  return v;
}

value value::dict() {
  value v;
  v.k_ = kind::dict;
  return v;
}

const value* value::find(std::string_view key) const noexcept {
  if (k_ != kind::dict)
    return nullptr;
  auto it = std::lower_bound(d_.begin(), d_.end(), key,
                             [](const auto& e, std::string_view k) { return e.first < k; });
  if (it == d_.end() || it->first != key)
    return nullptr;
  return &it->second;
}

value& value::set(std::string key, value v) {
  k_ = kind::dict;
  auto it = std::lower_bound(d_.begin(), d_.end(), key,
                             [](const auto& e, const std::string& k) { return e.first < k; });
  if (it != d_.end() && it->first == key) {
    it->second = std::move(v);
    return it->second;
  }
  return d_.insert(it, {std::move(key), std::move(v)})->second;
}

bool operator==(const value& a, const value& b) {
  if (a.k_ != b.k_)
    return false;
  switch (a.k_) {
    case value::kind::integer:
      return a.i_ == b.i_;
    case value::kind::string:
      return a.s_ == b.s_;
    case value::kind::list:
      return a.l_ == b.l_;
    case value::kind::dict:
      return a.d_ == b.d_;
  }
  return false;
}

namespace {

class decoder {
public:
  decoder(byte_view in, const limits& lim) : p_(in.data()), end_(in.data() + in.size()), lim_(lim) {}

  result<value> run() {
    value v;
    if (auto st = parse(v, 0); !st)
      return st.err();
    if (p_ != end_)
      return error{errc::malformed, "bencode: trailing bytes after the value"};
    return v;
  }

private:
  status fail(errc c, const char* what) { return error{c, what}; }

  // Parses decimal digits up to `stop`; canonical (no leading zero unless the number is 0).
  status parse_uint(char stop, uint64_t& out, size_t& digits) {
    out = 0;
    digits = 0;
    const uint8_t* start = p_;
    while (p_ != end_ && *p_ >= '0' && *p_ <= '9') {
      if (++digits > lim_.max_int_digits)
        return fail(errc::too_large, "bencode: too many digits");
      uint64_t d = *p_ - '0';
      if (out > (UINT64_MAX - d) / 10)
        return fail(errc::too_large, "bencode: number overflows");
      out = out * 10 + d;
      ++p_;
    }
    if (p_ == end_)
      return fail(errc::truncated, "bencode: number not terminated");
    if (*p_ != static_cast<uint8_t>(stop) || digits == 0)
      return fail(errc::malformed, "bencode: bad number");
    if (digits > 1 && *start == '0')
      return fail(errc::malformed, "bencode: leading zero");
    ++p_;
    return ok_status();
  }

  status parse_string(std::string& out) {
    uint64_t len = 0;
    size_t digits = 0;
    if (auto st = parse_uint(':', len, digits); !st)
      return st;
    if (len > lim_.max_string)
      return fail(errc::too_large, "bencode: string over limit");
    if (len > static_cast<uint64_t>(end_ - p_))
      return fail(errc::truncated, "bencode: string runs past the input");
    out.assign(reinterpret_cast<const char*>(p_), static_cast<size_t>(len));
    p_ += len;
    return ok_status();
  }

  status parse(value& out, size_t depth) {
    if (p_ == end_)
      return fail(errc::truncated, "bencode: unexpected end of input");
    uint8_t c = *p_;
    if (c == 'i') {
      ++p_;
      bool neg = false;
      if (p_ != end_ && *p_ == '-') {
        neg = true;
        ++p_;
      }
      uint64_t mag = 0;
      size_t digits = 0;
      if (auto st = parse_uint('e', mag, digits); !st)
        return st;
      if (neg && mag == 0)
        return fail(errc::malformed, "bencode: negative zero");
      if (!neg && mag > static_cast<uint64_t>(INT64_MAX))
        return fail(errc::too_large, "bencode: integer out of int64 range");
      if (neg && mag > static_cast<uint64_t>(INT64_MAX) + 1)
        return fail(errc::too_large, "bencode: integer out of int64 range");
      int64_t v = neg ? static_cast<int64_t>(0 - mag) : static_cast<int64_t>(mag);
      out = value::integer(v);
      return ok_status();
    }
    if (c >= '0' && c <= '9') {
      std::string s;
      if (auto st = parse_string(s); !st)
        return st;
      out = value::string(std::move(s));
      return ok_status();
    }
    if (c != 'l' && c != 'd')
      return fail(errc::malformed, "bencode: unexpected byte");
    if (depth + 1 > lim_.max_depth)
      return fail(errc::too_large, "bencode: nesting too deep");
    ++p_;
    if (c == 'l') {
      out = value::list();
      while (true) {
        if (p_ == end_)
          return fail(errc::truncated, "bencode: list not terminated");
        if (*p_ == 'e') {
          ++p_;
          return ok_status();
        }
        if (out.as_list().size() >= lim_.max_items)
          return fail(errc::too_large, "bencode: list too long");
        value item;
        if (auto st = parse(item, depth + 1); !st)
          return st;
        out.push(std::move(item));
      }
    }
    out = value::dict();
    const std::string* prev = nullptr;
    size_t count = 0;
    while (true) {
      if (p_ == end_)
        return fail(errc::truncated, "bencode: dict not terminated");
      if (*p_ == 'e') {
        ++p_;
        return ok_status();
      }
      if (count >= lim_.max_items)
        return fail(errc::too_large, "bencode: dict too long");
      if (*p_ < '0' || *p_ > '9')
        return fail(errc::malformed, "bencode: dict key is not a string");
      std::string key;
      if (auto st = parse_string(key); !st)
        return st;
      if (prev && !(*prev < key))
        return fail(errc::malformed, "bencode: dict keys not strictly ascending");
      value item;
      if (auto st = parse(item, depth + 1); !st)
        return st;
      // Keys arrive sorted, so set() appends at the end.
      out.set(std::move(key), std::move(item));
      prev = &out.as_dict().back().first;
      ++count;
    }
  }

  const uint8_t* p_;
  const uint8_t* end_;
  const limits& lim_;
};

void append_str(bytes& out, std::string_view s) {
  out.insert(out.end(), s.begin(), s.end());
}

void append_uint(bytes& out, uint64_t v) {
  char buf[24];
  size_t n = 0;
  do {
    buf[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v);
  while (n)
    out.push_back(static_cast<uint8_t>(buf[--n]));
}

} // namespace

result<value> decode(byte_view in, const limits& lim) {
  if (in.size() > lim.max_input)
    return error{errc::too_large, "bencode: input over limit"};
  return decoder{in, lim}.run();
}

void encode_to(const value& v, bytes& out) {
  switch (v.type()) {
    case value::kind::integer: {
      out.push_back('i');
      int64_t i = v.as_int();
      uint64_t mag = static_cast<uint64_t>(i);
      if (i < 0) {
        out.push_back('-');
        mag = 0 - mag;
      }
      append_uint(out, mag);
      out.push_back('e');
      break;
    }
    case value::kind::string:
      append_uint(out, v.as_string().size());
      out.push_back(':');
      append_str(out, v.as_string());
      break;
    case value::kind::list:
      out.push_back('l');
      for (auto& x : v.as_list())
        encode_to(x, out);
      out.push_back('e');
      break;
    case value::kind::dict:
      out.push_back('d');
      for (auto& [k, x] : v.as_dict()) {
        append_uint(out, k.size());
        out.push_back(':');
        append_str(out, k);
        encode_to(x, out);
      }
      out.push_back('e');
      break;
  }
}

bytes encode(const value& v) {
  bytes out;
  out.reserve(256);
  encode_to(v, out);
  return out;
}

} // namespace dtt::dht::bencode
