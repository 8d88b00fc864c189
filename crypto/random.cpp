#include "crypto/random.hpp"

#include <sodium.h>

#include <cstring>
#include <stdexcept>

namespace dtt::crypto {

namespace {

class os_random_source final : public random_source {
public:
  os_random_source() {
    if (sodium_init() < 0)
      throw std::runtime_error("libsodium failed to initialise");
  }
  void fill(uint8_t* out, size_t n) override { randombytes_buf(out, n); }
};

} // namespace

random_source& os_random() {
  static os_random_source instance;
  return instance;
}

void fixed_random::fill(uint8_t* out, size_t n) {
  if (n > seq_.size() - pos_)
    throw std::out_of_range("fixed_random exhausted");
  std::memcpy(out, seq_.data() + pos_, n);
  pos_ += n;
}

uint64_t uniform_below(random_source& rng, uint64_t bound) {
  if (bound == 0)
    return 0;
  // Rejection sampling removes modulo bias.
  const uint64_t limit = UINT64_MAX - (UINT64_MAX % bound);
  for (;;) {
    uint64_t v;
    rng.fill(reinterpret_cast<uint8_t*>(&v), sizeof v);
    if (v < limit)
      return v % bound;
  }
}

} // namespace dtt::crypto
