// Fuzz target: the bencode decoder on its own (dht/bencode.hpp), under varying limits.
//
// Input: one byte that picks the limits, then the bencoded text.
// Checked besides "no crash, no sanitizer report":
// - what decodes re-encodes to the same bytes (canonical only; so decode(encode(v)) == v);
// - the limits are exact: with generous limits measure the value (depth, longest list or dict,
//   longest string or key, most digits in an integer or length prefix); then decoding under the
//   picked limits succeeds if and only if every measure is within them and the input is not
//   over max_input.
#include "check.hpp"
#include "dht/bencode.hpp"

#include <algorithm>
#include <cstdint>

using namespace dtt;
using namespace dtt::dht;
using dtt::fuzz::require;

namespace {

constexpr const char* target = "fuzz_bencode";

struct measure {
  size_t depth = 0, items = 0, string = 0, digits = 0;
};

size_t digits_of(uint64_t v) {
  size_t n = 1;
  while (v >= 10) {
    v /= 10;
    ++n;
  }
  return n;
}

void measure_value(const bencode::value& v, size_t depth, measure& m) {
  switch (v.type()) {
    case bencode::value::kind::integer: {
      int64_t i = v.as_int();
      uint64_t mag = i < 0 ? 0 - static_cast<uint64_t>(i) : static_cast<uint64_t>(i);
      m.digits = std::max(m.digits, digits_of(mag));
      break;
    }
    case bencode::value::kind::string:
      m.string = std::max(m.string, v.as_string().size());
      m.digits = std::max(m.digits, digits_of(v.as_string().size()));
      break;
    case bencode::value::kind::list:
      m.depth = std::max(m.depth, depth + 1);
      m.items = std::max(m.items, v.as_list().size());
      for (auto& x : v.as_list())
        measure_value(x, depth + 1, m);
      break;
    case bencode::value::kind::dict:
      m.depth = std::max(m.depth, depth + 1);
      m.items = std::max(m.items, v.as_dict().size());
      for (auto& [k, x] : v.as_dict()) {
        m.string = std::max(m.string, k.size());
        m.digits = std::max(m.digits, digits_of(k.size()));
        measure_value(x, depth + 1, m);
      }
      break;
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0)
    return 0;
  const uint8_t ctl = data[0];
  byte_view in(data + 1, size - 1);

  bencode::limits generous;
  generous.max_input = 1 << 20;
  generous.max_depth = 64;
  generous.max_items = 1 << 20;
  generous.max_int_digits = 20;
  generous.max_string = 1 << 20;
  auto v = bencode::decode(in, generous);
  if (v) {
    auto again = bencode::encode(*v);
    // With decode deterministic, this also gives decode(encode(v)) == v.
    require(again == in.to_bytes(), target, "encode(decode(x)) != x");
  }

  // Small limits so that inputs of a few hundred bytes cross them.
  bencode::limits lim;
  lim.max_depth = 1 + (ctl & 0x07);              // 1..8
  lim.max_items = (ctl >> 3) & 0x07;             // 0..7
  lim.max_string = 4u << ((ctl >> 6) & 0x03);    // 4, 8, 16, 32
  lim.max_int_digits = 1 + (ctl % 20);           // 1..20
  lim.max_input = 16 + 7 * ctl;                  // 16..1801
  auto w = bencode::decode(in, lim);
  if (!v) {
    require(!w, target, "tighter limits accept what generous ones refuse");
    return 0;
  }
  measure m;
  measure_value(*v, 0, m);
  bool within = in.size() <= lim.max_input && m.depth <= lim.max_depth
                && m.items <= lim.max_items && m.string <= lim.max_string
                && m.digits <= lim.max_int_digits;
  require(w.ok() == within, target, "a limit is not exact (decode under limits != measure)");
  if (w)
    require(*w == *v, target, "the value depends on the limits");
  return 0;
}
