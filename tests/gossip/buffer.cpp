// Pooled, reference-counted buffers (gossip/buffer.hpp): sharing, size classes, reuse across
// threads, and the bound on what the pool keeps idle.
#include "gossip/buffer.hpp"
#include "gossip/types.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

using namespace dtt;
using gossip::shared_buffer;

TEST_CASE("buffer: copies share one block, and adopt keeps the vector storage") {
  bytes src{1, 2, 3, 4, 5};
  auto a = shared_buffer::copy_of(src);
  REQUIRE(a);
  CHECK(a == src);
  CHECK(a.data() != src.data());
  auto b = a; // shares
  CHECK(b.data() == a.data());
  a = shared_buffer{};
  CHECK_FALSE(a);
  CHECK(a.size() == 0);
  CHECK(b == src); // still alive through b

  bytes big(3000, 7);
  const uint8_t* storage = big.data();
  auto c = shared_buffer::adopt(std::move(big));
  CHECK(c.data() == storage);
  CHECK(c.size() == 3000);
  auto d = std::move(c);
  CHECK_FALSE(c);
  CHECK(d.data() == storage);

  auto e = shared_buffer::allocate(0);
  CHECK(e);
  CHECK(e.empty());
}

TEST_CASE("buffer: a block is at most 25% larger than asked") {
  for (size_t n : {size_t{1}, size_t{256}, size_t{257}, size_t{1024}, size_t{1097}, size_t{1100},
                   size_t{4096}, size_t{4169}, size_t{40000}, size_t{65536}}) {
    size_t cap = gossip::pooled_capacity(n);
    CHECK(cap >= n);
    if (n > gossip::pool_limits::smallest_pooled)
      CHECK(cap * 4 <= n * 5);
  }
  CHECK(gossip::pooled_capacity(70000) == 70000); // not pooled
}

TEST_CASE("buffer pool: blocks freed on another thread are reused by the allocating one") {
  if (!gossip::buffer_pool_enabled()) {
    MESSAGE("the pool is off (AddressSanitizer or DTT_BUFFER_POOL=off): nothing to check");
    return;
  }
  constexpr size_t n = 2000, size = 1100; // a 1 KiB message's frame
  std::vector<shared_buffer> held;
  for (size_t i = 0; i < n; ++i)
    held.push_back(shared_buffer::allocate(size));
  auto before = gossip::buffer_pool_counters();
  std::thread([&] { held.clear(); }).join(); // freed there, as the io thread frees written frames
  for (size_t i = 0; i < n; ++i)
    held.push_back(shared_buffer::allocate(size));
  auto after = gossip::buffer_pool_counters();
  // What the freeing thread kept went to the depot in batches (half its cache at a time, and
  // the rest when it exited); a batch that does not fit whole under the depot's bound is freed.
  const size_t cap = gossip::pooled_capacity(size);
  size_t depot_blocks = gossip::pool_limits::depot_bytes / cap;
  size_t batch_at_most = std::max<size_t>(8, gossip::pool_limits::per_thread_bytes / cap);
  MESSAGE("reused " << after.reused - before.reused << " of " << n << ", fresh "
                    << after.fresh - before.fresh << ", returned " << after.returned - before.returned);
  CHECK(after.reused - before.reused >= std::min(n, depot_blocks - batch_at_most));
  CHECK(after.fresh - before.fresh + after.reused - before.reused == n);
}

TEST_CASE("buffer pool: what it keeps idle is bounded") {
  if (!gossip::buffer_pool_enabled()) {
    MESSAGE("the pool is off (AddressSanitizer or DTT_BUFFER_POOL=off): nothing to check");
    return;
  }
  constexpr size_t n = 5000, size = 4096;
  const size_t cap = gossip::pooled_capacity(size);
  auto before = gossip::buffer_pool_counters();
  {
    std::vector<shared_buffer> held;
    for (size_t i = 0; i < n; ++i)
      held.push_back(shared_buffer::allocate(size));
  } // all freed on this thread
  auto after = gossip::buffer_pool_counters();
  size_t kept_at_most = std::max<size_t>(8, gossip::pool_limits::per_thread_bytes / cap)
                        + gossip::pool_limits::depot_bytes / cap;
  MESSAGE("returned " << after.returned - before.returned << " of " << n
                      << " (kept at most " << kept_at_most << ")");
  CHECK(after.returned - before.returned + kept_at_most >= n);
  // Sizes over the largest class are never kept.
  auto big_before = gossip::buffer_pool_counters();
  { auto b = shared_buffer::allocate(gossip::pool_limits::largest_pooled + 1); }
  CHECK(gossip::buffer_pool_counters().returned == big_before.returned + 1);
}

TEST_CASE("buffer pool: the counters sum every thread's, live or exited") {
  // Each thread counts its own allocations (no shared counter on the hot path): the sum must
  // still see those of a thread that exited and of one that is still running.
  constexpr size_t n = 300, size = 700;
  auto before = gossip::buffer_pool_counters();
  std::thread([&] {
    for (size_t i = 0; i < n; ++i)
      (void)shared_buffer::allocate(size);
  }).join();
  auto after_exit = gossip::buffer_pool_counters();
  CHECK(after_exit.fresh + after_exit.reused - before.fresh - before.reused == n);
  std::mutex mu;
  std::condition_variable cv;
  bool allocated = false, done = false;
  std::thread live([&] {
    for (size_t i = 0; i < n; ++i)
      (void)shared_buffer::allocate(size);
    std::unique_lock<std::mutex> lock(mu);
    allocated = true;
    cv.notify_all();
    cv.wait_for(lock, std::chrono::seconds(10), [&] { return done; });
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    CHECK(cv.wait_for(lock, std::chrono::seconds(10), [&] { return allocated; }));
  }
  auto while_live = gossip::buffer_pool_counters(); // the thread has not exited yet
  {
    std::lock_guard<std::mutex> lock(mu);
    done = true;
  }
  cv.notify_all();
  live.join();
  CHECK(while_live.fresh + while_live.reused - after_exit.fresh - after_exit.reused == n);
  auto at_end = gossip::buffer_pool_counters();
  CHECK(at_end.fresh + at_end.reused == while_live.fresh + while_live.reused);
}

TEST_CASE("payload_buffer: written in place, shared as a payload and into the gossip layer") {
  dtt::payload_buffer b(1100);
  REQUIRE(b.size() == 1100);
  REQUIRE(b.data() != nullptr);
  for (size_t i = 0; i < b.size(); ++i)
    b.data()[i] = static_cast<uint8_t>(i * 7);
  const uint8_t* where = b.data();
  dtt::payload p = std::move(b).share();
  CHECK(b.size() == 0); // NOLINT(bugprone-use-after-move): share() empties it
  CHECK(b.data() == nullptr);
  REQUIRE(p.size() == 1100);
  CHECK(p.data() == where); // no copy
  CHECK(p[1099] == static_cast<uint8_t>(1099 * 7));
  // The gossip layer takes the same block (what a broadcast keeps in its Graft cache).
  auto s = gossip::shared_bytes::of(p);
  CHECK(s.data() == where);
  CHECK(s.size() == 1100);
  p = dtt::payload{}; // the application lets go: the block lives on in `s`
  CHECK(s.view()[10] == 70);
  auto back = s.to_payload();
  CHECK(back.data() == where);
  // A slice (a received payload is a slice of its frame) keeps its offset.
  auto frame = shared_buffer::copy_of(byte_view(bytes(50, 9)));
  gossip::shared_bytes slice(frame, 10, 20);
  auto again = gossip::shared_bytes::of(slice.to_payload());
  CHECK(again.data() == frame.data() + 10);
  CHECK(again.size() == 20);
  CHECK(gossip::shared_bytes::of(dtt::payload{}).empty());
  dtt::payload_buffer none(0);
  CHECK(std::move(none).share().empty());
}
