#pragma once
// Shared by the fuzz targets: how a target reports a broken property (abort, so that libFuzzer
// and the replay driver both stop and keep the input).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace dtt::fuzz {

/// Prints "<target>: property violated: <what>" and aborts.
[[noreturn]] inline void violated(const char* target, const char* what) {
  std::fprintf(stderr, "%s: property violated: %s\n", target, what);
  std::abort();
}

/// Aborts with `what` unless `ok`.
inline void require(bool ok, const char* target, const char* what) {
  if (!ok)
    violated(target, what);
}

} // namespace dtt::fuzz

namespace dtt::fuzz {

/// True for about one input in `n` (a hash of the input's first 64 bytes and its size): the
/// costly checks (signatures, X25519) run on a sample so that the parsers get most of the
/// executions; the sample still covers every kind of input, as mutations change the hash.
inline bool sampled(const unsigned char* data, size_t size, unsigned n) {
  uint32_t h = 2166136261u ^ static_cast<uint32_t>(size);
  for (size_t i = 0; i < size && i < 64; ++i)
    h = (h ^ data[i]) * 16777619u;
  return (h >> 16) % n == 0;
}

} // namespace dtt::fuzz
