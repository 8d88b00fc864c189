#include "gossip/word_table.hpp"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <new>

namespace dtt::gossip {

word_table::word_table(size_t n) {
  if (n == 0)
    return;
  if (n > SIZE_MAX / sizeof(uint64_t) - huge_page)
    throw std::bad_alloc{};
  size_t bytes = n * sizeof(uint64_t);
  void* p = nullptr;
  if (bytes >= huge_page) {
    bytes = (bytes + huge_page - 1) / huge_page * huge_page; // aligned_alloc: a multiple
    p = std::aligned_alloc(huge_page, bytes);
#ifdef MADV_HUGEPAGE
    if (p)
      (void)::madvise(p, bytes, MADV_HUGEPAGE); // advice only: 4 KiB pages if refused
#endif
  } else {
    p = std::malloc(bytes);
  }
  if (!p)
    throw std::bad_alloc{};
  std::memset(p, 0, bytes);
  p_ = static_cast<uint64_t*>(p);
  n_ = n;
}

word_table::~word_table() { std::free(p_); }

} // namespace dtt::gossip
