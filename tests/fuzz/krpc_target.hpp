#pragma once
// The KRPC / bencode fuzz target (krpc_target.cpp) and what its drivers share.

#include "crypto/bytes.hpp"

#include <cstddef>
#include <cstdint>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace dtt::fuzz {

/// Valid seed inputs: every KRPC query kind (a BEP 44 put with a valid signature and a write
/// token the target's node accepts), responses and errors.
std::vector<bytes> krpc_seed_corpus();

} // namespace dtt::fuzz
