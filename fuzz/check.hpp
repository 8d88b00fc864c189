#pragma once
// Shared by the fuzz targets: how a target reports a broken property (abort, so that libFuzzer
// and the replay driver both stop and keep the input).

#include "crypto/bytes.hpp"

#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

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

namespace dtt::fuzz {

/// True if `host` is, as a whole, an IPv4 or IPv6 literal (no NUL that would hide a tail from
/// inet_pton, no port, no brackets).
inline bool is_ip_literal(const std::string& host) {
  if (host.find('\0') != std::string::npos)
    return false;
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

/// 32 bytes of value `b` (fixed keys and randomness of the targets).
inline bytes32 filled(uint8_t b) {
  bytes32 x;
  x.fill(b);
  return x;
}

} // namespace dtt::fuzz
