#pragma once

// A fixed-size, zero-filled array of 64-bit words for large hash indexes (the seen-id index
// reaches 16-32 MiB). Tables of 2 MiB and more are aligned to 2 MiB and offered to the kernel
// for transparent huge pages (madvise; a no-op where THP is off): every lookup of a new id is a
// random access, and with 4 KiB pages each one also missed the TLB (a page walk, doubled under
// virtualisation) on top of the cache miss.

#include <cstddef>
#include <cstdint>
#include <utility>

namespace dtt::gossip {

class word_table {
public:
  word_table() noexcept = default;
  /// `n` words, all zero. Throws std::bad_alloc.
  explicit word_table(size_t n);
  word_table(const word_table&) = delete;
  word_table& operator=(const word_table&) = delete;
  word_table(word_table&& o) noexcept { swap(o); }
  word_table& operator=(word_table&& o) noexcept {
    word_table(std::move(o)).swap(*this);
    return *this;
  }
  ~word_table();

  void swap(word_table& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
  }
  size_t size() const noexcept { return n_; }
  bool empty() const noexcept { return n_ == 0; }
  uint64_t& operator[](size_t i) noexcept { return p_[i]; }
  const uint64_t& operator[](size_t i) const noexcept { return p_[i]; }
  const uint64_t* begin() const noexcept { return p_; }
  const uint64_t* end() const noexcept { return p_ + n_; }

  /// Tables of at least this many bytes are huge-page aligned and advised.
  static constexpr size_t huge_page = size_t{2} << 20;

private:
  uint64_t* p_ = nullptr;
  size_t n_ = 0;
};

} // namespace dtt::gossip
