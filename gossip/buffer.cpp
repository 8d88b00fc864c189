#include "gossip/buffer.hpp"
#include "gossip/types.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <string_view>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define DTT_POOL_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DTT_POOL_UNDER_ASAN 1
#endif
#endif

namespace dtt::gossip {

namespace {

// The block's bytes start this far after its start (16-byte aligned, room for the header).
constexpr size_t header_bytes = shared_buffer::overhead;

// Size classes: 256, then four steps per power of two (320, 384, 448, 512, 640, ...) up to
// 64 KiB: a block is at most 25% larger than asked.
constexpr size_t class_count = 1 + 4 * 8;
constexpr uint8_t unpooled_class = 0xfe;
constexpr uint8_t adopted_class = 0xff;

struct size_class {
  size_t index;
  size_t capacity;
};

size_class class_of(size_t n) noexcept {
  if (n <= pool_limits::smallest_pooled)
    return {0, pool_limits::smallest_pooled};
  unsigned p = 63u - static_cast<unsigned>(__builtin_clzll(static_cast<unsigned long long>(n - 1)));
  size_t base = size_t{1} << p, step = base / 4;
  size_t k = (n - base + step - 1) / step; // 1..4
  return {1 + (p - 8) * 4 + (k - 1), base + k * step};
}

size_t capacity_of(size_t index) noexcept {
  if (index == 0)
    return pool_limits::smallest_pooled;
  size_t p = 8 + (index - 1) / 4, k = (index - 1) % 4 + 1;
  return (size_t{1} << p) + k * ((size_t{1} << p) / 4);
}

// Freed blocks are chained through their first bytes.
struct free_node {
  free_node* next;
};

struct batch {
  free_node* head = nullptr;
  size_t count = 0;
};

// The counters are kept per thread (each written by its thread alone: no shared cache line
// bounces between the threads that allocate on every frame) and summed when read.
enum counter : size_t { fresh_blocks, reused_blocks, returned_blocks, counter_count };

struct thread_counts {
  std::atomic<uint64_t> n[counter_count] = {};
};

// The counts of threads that exited (and of frees with no thread cache), and the live threads'.
struct count_registry {
  std::mutex mu;
  std::atomic<uint64_t> retired[counter_count] = {};
  std::vector<const thread_counts*> live;
};
count_registry& registry() {
  static count_registry* r = new count_registry; // never destroyed: frees may come during exit
  return *r;
}

thread_counts* local_counts() noexcept;

void bump(counter c) noexcept {
  if (auto* t = local_counts()) // the owner alone writes it: no read-modify-write needed
    t->n[c].store(t->n[c].load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  else
    registry().retired[c].fetch_add(1, std::memory_order_relaxed);
}

void free_block(void* p) noexcept {
  bump(returned_blocks);
  ::operator delete(p);
}

void free_chain(free_node* n) noexcept {
  while (n) {
    auto* next = n->next;
    free_block(n);
    n = next;
  }
}

// The blocks threads gave up, in batches, bounded per class.
class depot {
public:
  void put(size_t cls, batch b) noexcept {
    size_t limit = std::max<size_t>(1, pool_limits::depot_bytes / capacity_of(cls));
    {
      std::lock_guard<std::mutex> g(mu_);
      auto& c = classes_[cls];
      if (c.held + b.count <= limit) {
        c.held += b.count;
        c.batches.push_back(b);
        return;
      }
    }
    free_chain(b.head);
  }
  batch take(size_t cls) noexcept {
    std::lock_guard<std::mutex> g(mu_);
    auto& c = classes_[cls];
    if (c.batches.empty())
      return {};
    auto b = c.batches.back();
    c.batches.pop_back();
    c.held -= b.count;
    return b;
  }

private:
  struct per_class {
    std::vector<batch> batches;
    size_t held = 0;
  };
  std::mutex mu_;
  per_class classes_[class_count];
};

depot& the_depot() {
  static depot* d = new depot; // never destroyed: frees may come during exit
  return *d;
}

// One thread's freed blocks, per class, and its counters.
struct thread_cache {
  batch lists[class_count];
  thread_counts counts;

  thread_cache() {
    auto& r = registry();
    std::lock_guard<std::mutex> g(r.mu);
    r.live.push_back(&counts);
  }

  static size_t limit(size_t cls) noexcept {
    return std::max<size_t>(8, pool_limits::per_thread_bytes / capacity_of(cls));
  }

  void* take(size_t cls) noexcept {
    auto& l = lists[cls];
    if (!l.head)
      l = the_depot().take(cls);
    if (!l.head)
      return nullptr;
    auto* n = l.head;
    l.head = n->next;
    --l.count;
    return n;
  }

  void give(size_t cls, void* p) noexcept {
    auto& l = lists[cls];
    auto* n = static_cast<free_node*>(p);
    n->next = l.head;
    l.head = n;
    if (++l.count <= limit(cls))
      return;
    // Over the bound: the older half goes to the depot, for the threads that allocate.
    size_t keep = l.count / 2;
    auto* last = l.head;
    for (size_t i = 1; i < keep; ++i)
      last = last->next;
    batch out{last->next, l.count - keep};
    last->next = nullptr;
    l.count = keep;
    the_depot().put(cls, out);
  }

  ~thread_cache();
};

thread_local bool cache_gone = false; // trivially destructible: valid during thread exit

thread_cache::~thread_cache() {
  cache_gone = true;
  {
    auto& r = registry();
    std::lock_guard<std::mutex> g(r.mu);
    for (size_t c = 0; c < counter_count; ++c)
      r.retired[c].fetch_add(counts.n[c].load(std::memory_order_relaxed),
                             std::memory_order_relaxed);
    r.live.erase(std::find(r.live.begin(), r.live.end(), &counts));
  }
  for (size_t c = 0; c < class_count; ++c)
    if (lists[c].head)
      the_depot().put(c, lists[c]);
}

thread_cache* local_cache() noexcept {
  if (cache_gone)
    return nullptr;
  thread_local thread_cache cache;
  return &cache;
}

thread_counts* local_counts() noexcept {
  auto* cache = local_cache();
  return cache ? &cache->counts : nullptr;
}

bool pool_on() noexcept {
#ifdef DTT_POOL_UNDER_ASAN
  return false;
#else
  static const bool on = [] {
    const char* v = std::getenv("DTT_BUFFER_POOL");
    return !(v && (std::string_view(v) == "off" || std::string_view(v) == "0"));
  }();
  return on;
#endif
}

struct adopted_block : shared_buffer::header {
  bytes v;
};

} // namespace

shared_buffer shared_buffer::allocate(size_t n) {
  if (n > UINT32_MAX)
    throw std::bad_alloc{};
  void* p = nullptr;
  uint8_t cls = unpooled_class;
  size_t bytes_needed = header_bytes + n;
  if (n <= pool_limits::largest_pooled && pool_on()) { // off: the exact size, never kept
    auto sc = class_of(n);
    cls = static_cast<uint8_t>(sc.index);
    bytes_needed = header_bytes + sc.capacity;
    if (auto* cache = local_cache())
      p = cache->take(sc.index);
  }
  if (p) {
    bump(reused_blocks);
  } else {
    p = ::operator new(bytes_needed);
    bump(fresh_blocks);
  }
  auto* h = new (p) header;
  h->size = static_cast<uint32_t>(n);
  h->data = static_cast<uint8_t*>(p) + header_bytes;
  h->size_class = cls;
  return shared_buffer{h};
}

shared_buffer shared_buffer::copy_of(byte_view v) {
  auto b = allocate(v.size());
  if (!v.empty())
    std::memcpy(b.mutable_data(), v.data(), v.size());
  return b;
}

shared_buffer shared_buffer::adopt(bytes&& v) {
  if (v.size() > UINT32_MAX)
    throw std::bad_alloc{};
  auto* a = new adopted_block;
  a->v = std::move(v);
  a->size = static_cast<uint32_t>(a->v.size());
  a->data = a->v.data();
  a->size_class = adopted_class;
  return shared_buffer{a};
}

void shared_buffer::destroy(header* h) noexcept {
  auto cls = h->size_class;
  if (cls == adopted_class) {
    delete static_cast<adopted_block*>(h);
    return;
  }
  h->~header();
  void* p = h;
  if (cls != unpooled_class) {
    if (auto* cache = local_cache())
      cache->give(cls, p);
    else // this thread's cache is gone (thread exit): straight to the depot
      the_depot().put(cls, batch{new (p) free_node{nullptr}, 1});
    return;
  }
  free_block(p);
}

buffer_pool_stats buffer_pool_counters() noexcept {
  auto& r = registry();
  uint64_t sum[counter_count];
  std::lock_guard<std::mutex> g(r.mu);
  for (size_t c = 0; c < counter_count; ++c) {
    sum[c] = r.retired[c].load(std::memory_order_relaxed);
    for (const auto* t : r.live)
      sum[c] += t->n[c].load(std::memory_order_relaxed);
  }
  return {sum[fresh_blocks], sum[reused_blocks], sum[returned_blocks]};
}

bool buffer_pool_enabled() noexcept { return pool_on(); }

size_t pooled_capacity(size_t n) noexcept {
  return n <= pool_limits::largest_pooled ? class_of(n).capacity : n;
}

} // namespace dtt::gossip

// --- dtt::payload (include/dtt/events.hpp): a slice of a shared block ---------------------------

namespace dtt {

struct payload_access {
  using header = gossip::shared_buffer::header;
  static void retain(void* b) noexcept {
    if (b)
      static_cast<header*>(b)->refs.fetch_add(1, std::memory_order_relaxed);
  }
  static void release(void* b) noexcept {
    if (b)
      gossip::shared_buffer{static_cast<header*>(b)}; // takes the reference and drops it
  }
  // The block of `p` with a reference of its own, and where p's bytes start in it.
  static gossip::shared_buffer block_of(const payload& p, size_t& offset) noexcept {
    offset = 0;
    if (!p.block_)
      return {};
    retain(p.block_);
    gossip::shared_buffer whole{static_cast<header*>(p.block_)};
    offset = static_cast<size_t>(p.data_ - whole.data());
    return whole;
  }
  static payload make(const gossip::shared_buffer& whole, const uint8_t* data, size_t size) {
    payload p;
    if (!whole)
      return p;
    retain(whole.h_);
    p.block_ = whole.h_;
    p.data_ = data;
    p.size_ = size;
    return p;
  }
};

payload::payload(bytes b) {
  if (b.empty())
    return;
  auto whole = gossip::shared_buffer::adopt(std::move(b));
  *this = payload_access::make(whole, whole.data(), whole.size());
}

payload::payload(const payload& o) noexcept : block_(o.block_), data_(o.data_), size_(o.size_) {
  payload_access::retain(block_);
}

payload::payload(payload&& o) noexcept : block_(o.block_), data_(o.data_), size_(o.size_) {
  o.block_ = nullptr;
  o.data_ = nullptr;
  o.size_ = 0;
}

payload& payload::operator=(const payload& o) noexcept {
  if (this != &o) {
    payload_access::retain(o.block_);
    payload_access::release(block_);
    block_ = o.block_;
    data_ = o.data_;
    size_ = o.size_;
  }
  return *this;
}

payload& payload::operator=(payload&& o) noexcept {
  if (this != &o) {
    payload_access::release(block_);
    block_ = o.block_;
    data_ = o.data_;
    size_ = o.size_;
    o.block_ = nullptr;
    o.data_ = nullptr;
    o.size_ = 0;
  }
  return *this;
}

payload::~payload() { payload_access::release(block_); }

bool payload::equal(const uint8_t* a, size_t an, const uint8_t* b, size_t bn) noexcept {
  return byte_view(a, an) == byte_view(b, bn);
}

payload gossip::shared_bytes::to_payload() const {
  return payload_access::make(p_, data(), len_);
}

payload_buffer::payload_buffer(size_t n) {
  if (n == 0)
    return;
  auto whole = gossip::shared_buffer::allocate(n);
  data_ = whole.mutable_data();
  p_ = payload_access::make(whole, whole.data(), n);
}

payload payload_buffer::share() && noexcept {
  data_ = nullptr;
  return std::move(p_);
}

gossip::shared_bytes gossip::shared_bytes::of(const payload& p) {
  size_t offset = 0;
  auto whole = payload_access::block_of(p, offset);
  return whole ? shared_bytes{std::move(whole), offset, p.size()} : shared_bytes{};
}

} // namespace dtt
