#pragma once

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace dtt::gossip {

/// The seedable, non-secret random source of the gossip cores (view selection, shuffles,
/// simulator latencies). Deterministic for a given seed on every platform: uniform integers use
/// rejection sampling on std::mt19937_64, whose output sequence the standard fixes.
class rng {
public:
  /// Seeds the generator; equal seeds give equal sequences.
  explicit rng(uint64_t seed = 0) : gen_(seed) {}

  /// 64 uniformly random bits.
  uint64_t next() { return gen_(); }

  /// A uniform integer in [0, bound); 0 when bound is 0.
  uint64_t below(uint64_t bound) {
    if (bound == 0)
      return 0;
    const uint64_t limit = UINT64_MAX - (UINT64_MAX % bound);
    for (;;) {
      uint64_t v = gen_();
      if (v < limit)
        return v % bound;
    }
  }

  /// True with probability p (0 never, 1 always).
  bool chance(double p) {
    if (p <= 0.0)
      return false;
    if (p >= 1.0)
      return true;
    return static_cast<double>(gen_() >> 11) * 0x1.0p-53 < p;
  }

  /// A new generator seeded from this one (per-node or per-topic streams).
  rng fork() { return rng(next()); }

  /// Fisher-Yates shuffle of `v`.
  template <class T>
  void shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i)
      std::swap(v[i - 1], v[below(i)]);
  }

private:
  std::mt19937_64 gen_;
};

} // namespace dtt::gossip
