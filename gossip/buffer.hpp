#pragma once

// Reference-counted byte buffers for frames and payloads, from a pool of size classes.
//
// Why a pool: a gossip frame of a 1 KiB payload is about 1.1 KiB, just over glibc's per-thread
// cache (1032 bytes), and it is allocated on one thread and freed on another (encoded by the
// gossip actor, freed by the io thread once written; decoded by the io thread, freed by the
// actor or, later, by the Graft cache). glibc then takes the allocating arena's lock on every
// free, and the two threads contend for it (perf on bench_transport_bench: malloc and free were
// 20-25% of the gossip path's CPU). The pool keeps freed blocks per thread and moves them
// between threads in batches through one depot, as tcache would if its limit were higher. It
// holds at most pool_limits' bytes idle; DTT_BUFFER_POOL=off (read once) turns it off, and it is
// off under AddressSanitizer (a use after free must stay visible).

#include "crypto/bytes.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace dtt {
struct payload_access;
}

namespace dtt::gossip {

class shared_buffer {
public:
  shared_buffer() noexcept = default;

  /// `n` bytes, not initialized, writable through mutable_data() before the first copy.
  static shared_buffer allocate(size_t n);
  /// A copy of `v`.
  static shared_buffer copy_of(byte_view v);
  /// Takes `v`'s storage (no copy of its bytes).
  static shared_buffer adopt(bytes&& v);

  shared_buffer(const shared_buffer& o) noexcept : h_(o.h_) { retain(); }
  shared_buffer(shared_buffer&& o) noexcept : h_(o.h_) { o.h_ = nullptr; }
  shared_buffer& operator=(const shared_buffer& o) noexcept {
    if (h_ != o.h_) {
      release();
      h_ = o.h_;
      retain();
    }
    return *this;
  }
  shared_buffer& operator=(shared_buffer&& o) noexcept {
    if (this != &o) {
      release();
      h_ = o.h_;
      o.h_ = nullptr;
    }
    return *this;
  }
  ~shared_buffer() { release(); }

  /// False for a default-constructed buffer (no block).
  explicit operator bool() const noexcept { return h_ != nullptr; }
  const uint8_t* data() const noexcept { return h_ ? h_->data : nullptr; }
  /// For the one who allocated it, before it is shared.
  uint8_t* mutable_data() noexcept { return h_ ? h_->data : nullptr; }
  size_t size() const noexcept { return h_ ? h_->size : 0; }
  bool empty() const noexcept { return size() == 0; }
  const uint8_t* begin() const noexcept { return data(); }
  const uint8_t* end() const noexcept { return data() + size(); }
  byte_view view() const noexcept { return {data(), size()}; }
  operator byte_view() const noexcept { return view(); }
  bytes to_bytes() const { return bytes(begin(), end()); }
  /// Asks the CPU to fetch the block's header (its reference count) ahead of a release: the
  /// Graft cache drops blocks written long ago, whose headers are no longer in any cache.
  void prefetch() const noexcept {
    if (h_)
      __builtin_prefetch(h_, 1);
  }

  friend bool operator==(const shared_buffer& a, const bytes& b) noexcept {
    return a.view() == byte_view(b);
  }
  friend bool operator==(const bytes& a, const shared_buffer& b) noexcept { return b == a; }
  friend bool operator!=(const shared_buffer& a, const bytes& b) noexcept { return !(a == b); }

  /// Header of a block; its bytes follow it (or, adopted, live in a vector beside it).
  struct header {
    std::atomic<uint32_t> refs{1};
    uint32_t size = 0;
    uint8_t* data = nullptr;
    uint8_t size_class = 0;
  };
  /// Bytes of a block before its data (a block of n bytes takes at least n + overhead).
  static constexpr size_t overhead = (sizeof(header) + 15) / 16 * 16;

private:
  friend struct dtt::payload_access; // dtt::payload (include/dtt/events.hpp) shares blocks
  explicit shared_buffer(header* h) noexcept : h_(h) {}
  void retain() noexcept {
    if (h_)
      h_->refs.fetch_add(1, std::memory_order_relaxed);
  }
  void release() noexcept {
    if (h_ && h_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1)
      destroy(h_);
    h_ = nullptr;
  }
  static void destroy(header* h) noexcept;

  header* h_ = nullptr;
};

/// Bytes of the block that holds a pooled buffer of `n` bytes (its size class), or `n` for
/// sizes that are not pooled.
size_t pooled_capacity(size_t n) noexcept;

/// The pool's counters (all threads), for tests and metrics.
struct buffer_pool_stats {
  uint64_t fresh = 0;    ///< blocks taken from the system allocator
  uint64_t reused = 0;   ///< allocations served from a freed block
  uint64_t returned = 0; ///< blocks given back to the system (over the bounds, or unpooled)
};
buffer_pool_stats buffer_pool_counters() noexcept;

/// True if freed blocks are kept for reuse (not under ASan, not with DTT_BUFFER_POOL=off).
bool buffer_pool_enabled() noexcept;

/// Bounds of what the pool keeps idle: per thread and size class at most `per_thread_bytes`
/// (at least 8 blocks), in the shared depot at most `depot_bytes` per size class. Blocks over
/// `largest_pooled` bytes are never pooled. With 33 size classes the pool holds at most
/// 33 MiB + 4.1 MiB per thread idle, whatever sizes peers send; a steady stream of one size
/// keeps a few hundred KiB.
struct pool_limits {
  static constexpr size_t smallest_pooled = 256;
  static constexpr size_t largest_pooled = 64 * 1024;
  static constexpr size_t per_thread_bytes = 128 * 1024;
  static constexpr size_t depot_bytes = 1024 * 1024;
};

} // namespace dtt::gossip
