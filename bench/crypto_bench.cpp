// Record-layer throughput: seal (sign + two HPKE layers), open (decrypt both layers + verify)
// and verify alone, in operations per second on this machine.
#include "crypto/encrypted_record.hpp"
#include "crypto/hash.hpp"

#include <fmt/core.h>

#include <chrono>

using namespace dtt;
using namespace dtt::crypto;

namespace {

template <class F>
double ops_per_second(F&& f, double seconds = 1.0) {
  using clock = std::chrono::steady_clock;
  auto start = clock::now();
  size_t n = 0;
  while (std::chrono::duration<double>(clock::now() - start).count() < seconds) {
    for (int i = 0; i < 16; ++i)
      f();
    n += 16;
  }
  return n / std::chrono::duration<double>(clock::now() - start).count();
}

} // namespace

int main() {
  auto topic = topic_id::from_name("bench-topic");
  uint64_t minute = 29500000;
  auto node = signing_key::from_seed(bytes32{1});
  auto ish = initial_secret_hash(byte_view::of("bench-secret"));
  auto enc = encryption_keypair(topic, rotation_handle{}, ish, minute);
  auto content = gossip_record_content::make({bytes32{2}, bytes32{3}}, {bytes32{4}}).encode();
  auto rec = record::sign(topic.hash(), minute, content, node);
  auto value = *encrypted_record::seal(rec, enc.public_key_bytes())->to_bytes();

  size_t sink = 0;
  double sign_rate = ops_per_second([&] { sink += record::sign(topic.hash(), minute, content, node).sig()[0]; });
  double seal_rate = ops_per_second([&] {
    auto r = record::sign(topic.hash(), minute, content, node);
    sink += encrypted_record::seal(r, enc.public_key_bytes())->encrypted_key_bytes()[9];
  });
  double open_rate = ops_per_second([&] { sink += open_record(value, topic, minute, enc).ok(); });
  double verify_rate = ops_per_second([&] { sink += rec.verify(topic.hash(), minute).ok(); });
  double derive_rate = ops_per_second([&] {
    sink += encryption_keypair(topic, rotation_handle{}, ish, minute).public_key_bytes()[0];
  });

  fmt::print("record layer, 456-byte record / 604-byte DHT value, one core\n");
  fmt::print("{:<34} {:>12.0f} ops/s\n", "sign record", sign_rate);
  fmt::print("{:<34} {:>12.0f} ops/s\n", "seal (sign + 2x HPKE)", seal_rate);
  fmt::print("{:<34} {:>12.0f} ops/s\n", "open (2x HPKE open + verify)", open_rate);
  fmt::print("{:<34} {:>12.0f} ops/s\n", "verify (strict Ed25519)", verify_rate);
  fmt::print("{:<34} {:>12.0f} ops/s\n", "derive encryption keypair", derive_rate);

  // The gossip layer hashes every payload it sends and every one it receives (message id =
  // SHA-256 of the content, gossip/plumtree.hpp): a floor under the CPU cost of a broadcast.
  // BLAKE2b-256 (libsodium), the id before dtt-gossip/3, for comparison.
  fmt::print("\ngossip message id, one core\n");
  for (size_t size : {size_t(100), size_t(1024)}) {
    bytes payload(size, 0x5a);
    auto row = [&](const char* name, bytes32 (*hash)(byte_view)) {
      double rate = ops_per_second([&] {
        payload[0] = static_cast<uint8_t>(sink);
        sink += hash(payload)[0];
      });
      fmt::print("{:<34} {:>12.0f} ops/s {:>8.2f} us {:>8.0f} MB/s\n",
                 fmt::format("{} of {} B", name, size), rate, 1e6 / rate,
                 rate * double(size) / 1e6);
    };
    row("SHA-256 (OpenSSL, the id)", &sha256);
    row("BLAKE2b-256 (libsodium)", &blake2b_256);
  }
  return sink == 42 ? 1 : 0;
}
