// The message path of issue 12, counted on the real thing: two runtimes on a loopback DHT
// testnet, one topic, a stream of broadcasts through the public API (topic::broadcast on one
// side, topic::next on the other). Counted while the stream runs:
// - actor messages: the gossip actors' own counters (every message they handle, by kind), the
//   topic actors' (every message of their interface), and one reply per broadcast to the
//   caller's blocking request;
// - payload copies: every heap allocation of the whole process whose size is that of a payload
//   or of its frame (this executable replaces the global operator new to see them). Copies into
//   buffers that are reused (the transport's write and read buffers, as on a bare TLS link) do
//   not show there; every copy into a new buffer does.
// This is its own executable because of the operator new replacement.
#include "actors/runtime.hpp"
#include "dht/testnet.hpp"
#include "dtt/all.hpp"
#include "messages/gossip.hpp"

#include <caf/all.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <cstring>
#include <map>
#include <string>
#include <cstdlib>
#include <new>
#include <thread>

using namespace std::chrono_literals;

namespace {

// Sizes of the payloads streamed (distinct from anything else the process allocates: checked
// by the idle window below) and of their Gossip frames (73-byte envelope, wire.hpp).
constexpr size_t payload_size = 3001;
constexpr size_t frame_size = payload_size + 73;

// Pooled buffers (gossip/buffer.hpp) would hide the frames' allocations: off, so that every
// frame is one allocation of its size plus the block header (set before the first buffer).
const bool pool_off = [] { return ::setenv("DTT_BUFFER_POOL", "off", 1) == 0; }();
constexpr size_t frame_block_size = frame_size + dtt::gossip::shared_buffer::overhead;

std::atomic<bool> armed{false};
std::atomic<uint64_t> payload_allocs{0};
std::atomic<uint64_t> frame_allocs{0};

void note(size_t n) noexcept {
  if (!armed.load(std::memory_order_relaxed))
    return;
  if (n == payload_size)
    payload_allocs.fetch_add(1, std::memory_order_relaxed);
  else if (n == frame_size || n == frame_block_size)
    frame_allocs.fetch_add(1, std::memory_order_relaxed);
}

} // namespace

void* operator new(size_t n) {
  note(n);
  if (void* p = std::malloc(n ? n : 1))
    return p;
  throw std::bad_alloc{};
}
void* operator new[](size_t n) {
  note(n);
  if (void* p = std::malloc(n ? n : 1))
    return p;
  throw std::bad_alloc{};
}
// The nothrow forms too (std::stable_sort's temporary buffer uses them): every allocation of
// this process comes from malloc, so the replaced deletes match (AddressSanitizer checks that).
void* operator new(size_t n, const std::nothrow_t&) noexcept {
  note(n);
  return std::malloc(n ? n : 1);
}
void* operator new[](size_t n, const std::nothrow_t&) noexcept {
  note(n);
  return std::malloc(n ? n : 1);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }

namespace {

using counters = std::map<std::string, uint64_t>;

counters gossip_stats(caf::actor_system& sys, dtt::runtime& rt) {
  caf::scoped_actor self{sys};
  counters out;
  self->request(rt.internal().gossip, 5s, dtt::gossip_stats_atom::value)
    .receive([&](counters& c) { out = std::move(c); },
             [&](caf::error& e) { FAIL("gossip stats: " << sys.render(e)); });
  return out;
}

counters topic_stats(caf::actor_system& sys, const dtt::topic& t) {
  caf::scoped_actor self{sys};
  counters out;
  self->request(caf::actor_cast<caf::actor>(t.handle()), 5s, dtt::stats_atom::value)
    .receive([&](counters& c) { out = std::move(c); },
             [&](caf::error& e) { FAIL("topic stats: " << sys.render(e)); });
  return out;
}

uint64_t delta(const counters& a, const counters& b, const std::string& key) {
  auto i = a.find(key), j = b.find(key);
  REQUIRE_MESSAGE(j != b.end(), "no counter " << key);
  return j->second - (i == a.end() ? 0 : i->second);
}

// Actor messages a gossip actor handled on the message path (periodic timer wake-ups are not
// per message: counted apart).
uint64_t actor_messages(const counters& a, const counters& b) {
  return delta(a, b, "actor_messages_broadcast") + delta(a, b, "actor_messages_net")
         + delta(a, b, "actor_messages_control");
}

} // namespace

TEST_CASE("message path: at most 3 actor messages and 1 payload copy per message, app to app") {
  dtt::system_config cfg;
  caf::actor_system sys{cfg};
  dtt::dht::testnet net{[] {
    dtt::dht::testnet_options o;
    o.nodes = 8;
    return o;
  }()};
  auto st = net.start();
  REQUIRE_MESSAGE(st, (st ? "" : st.err().message()));
  auto start = [&] {
    auto rt = dtt::runtime::start(sys, dtt::node_key::generate(),
                                  dtt::options::loopback(net.bootstrap()));
    REQUIRE_MESSAGE(rt, (rt ? "" : rt.err().message()));
    return std::move(*rt);
  };
  auto rt_a = start();
  auto rt_b = start();
  dtt::config c;
  c.join_timeout = 30s;
  c.event_buffer = 4096;
  auto name = "message-path-" + std::to_string(::getpid());
  auto ta = rt_a->join_no_wait(name, "message-path-secret", c);
  auto tb = rt_b->join_no_wait(name, "message-path-secret", c);
  REQUIRE(ta);
  REQUIRE(tb);
  // Both see each other before the stream starts (no neighbour events in the window).
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto na = ta.neighbors();
    auto nb = tb.neighbors();
    if (na && nb && !na->empty() && !nb->empty())
      break;
    std::this_thread::sleep_for(50ms);
  }
  REQUIRE(!ta.neighbors()->empty());
  REQUIRE(!tb.neighbors()->empty());
  // Drain what b has seen so far (neighbour events).
  for (int i = 0; i < 1000 && tb.next(100ms); ++i) {
  }

  constexpr uint64_t n = 300;
  std::vector<dtt::bytes> payloads;
  for (uint64_t i = 0; i < n; ++i) {
    dtt::bytes p(payload_size, static_cast<uint8_t>(i));
    std::memcpy(p.data(), &i, sizeof i);
    payloads.push_back(std::move(p));
  }

  // An idle window first: nothing else in the process allocates these sizes by itself.
  armed = true;
  std::this_thread::sleep_for(300ms);
  armed = false;
  REQUIRE(payload_allocs.load() == 0);
  REQUIRE(frame_allocs.load() == 0);

  auto ga0 = gossip_stats(sys, *rt_a), gb0 = gossip_stats(sys, *rt_b);
  auto ta0 = topic_stats(sys, ta), tb0 = topic_stats(sys, tb);

  armed = true;
  uint64_t received = 0;
  std::thread reader([&] {
    auto end = std::chrono::steady_clock::now() + 30s;
    while (received < n && std::chrono::steady_clock::now() < end) {
      auto ev = tb.next(200ms);
      if (ev && ev->k == dtt::event::kind::received && ev->content.size() == payload_size)
        ++received;
    }
  });
  for (auto& p : payloads)
    REQUIRE(ta.broadcast(std::move(p), 10s));
  reader.join();
  armed = false;
  REQUIRE(received == n);

  auto ga1 = gossip_stats(sys, *rt_a), gb1 = gossip_stats(sys, *rt_b);
  auto ta1 = topic_stats(sys, ta), tb1 = topic_stats(sys, tb);

  // The path: caller -> gossip actor (a) -> io thread | io thread -> gossip actor (b) -> buffer.
  CHECK(delta(ga0, ga1, "actor_messages_broadcast") == n);
  CHECK(delta(ga0, ga1, "broadcasts") == n);
  CHECK(delta(gb0, gb1, "frames_received") >= n);
  // Neither topic actor, nor any actor subscriber (the tracker's receiver takes neighbour
  // events only), is on it.
  CHECK(delta(ta0, ta1, "actor_messages") == 0);
  CHECK(delta(tb0, tb1, "actor_messages") == 0);
  CHECK(delta(gb0, gb1, "events_to_actors") == 0);
  CHECK(delta(gb0, gb1, "events_to_sinks") == n);
  // Every actor message the two nodes handled, plus one reply per broadcast.
  uint64_t messages = actor_messages(ga0, ga1) + actor_messages(gb0, gb1) + n;
  MESSAGE("actor messages per message: " << double(messages) / n << " (gossip a "
                                         << actor_messages(ga0, ga1) << ", gossip b "
                                         << actor_messages(gb0, gb1) << ", replies " << n
                                         << ")");
  CHECK(messages <= 3 * n);
  // Timer wake-ups (PlumTree's cache eviction tick, HyParView's shuffle) are periodic, not per
  // message: a handful in a window of about a second.
  CHECK(delta(ga0, ga1, "actor_messages_timer") + delta(gb0, gb1, "actor_messages_timer") <= 20);

  // Copies into new buffers: the frame the sender encodes and the frame the receiver's decoder
  // cuts from the TLS stream (a bare TLS link makes that one too). Decoding, the Graft cache,
  // the tracker's recent-message hashes and the application's event (dtt::payload) share the
  // received frame: the gossip layer copies a payload once, into its frame.
  MESSAGE("allocations of a frame: " << frame_allocs.load() << ", of a payload: "
                                     << payload_allocs.load() << " for " << n << " messages");
  REQUIRE(pool_off);
  REQUIRE_FALSE(dtt::gossip::buffer_pool_enabled());
  CHECK(frame_allocs.load() >= n); // the receiver's decoder makes one per frame: they are seen
  CHECK(frame_allocs.load() <= 2 * n);
  CHECK(payload_allocs.load() == 0);
  uint64_t gossip_copies = frame_allocs.load() + payload_allocs.load() - n; // minus the TLS frame
  CHECK(gossip_copies <= n);

  rt_a.reset(); // stops the topics (the handles outlive it)
  rt_b.reset();
  net.stop();
}
