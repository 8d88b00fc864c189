#pragma once
// A read-only client udp_node for the loopback tests (doctest assertions; tests only).

#include "dht/testnet.hpp"
#include "dht/udp_node.hpp"
#include "io_thread.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <vector>

namespace dtt::test {

/// A read-only client udp_node on the io thread, bootstrapped from the first `seeds` nodes of
/// the testnet, started.
inline std::shared_ptr<dht::udp_node> make_client(io_thread& t, const dht::testnet& net,
                                                  size_t seeds) {
  dht::udp_node_options o;
  o.bind_address = "127.0.0.1";
  o.node.read_only = true;
  o.bootstrap = net.bootstrap();
  o.bootstrap.resize(std::min(seeds, o.bootstrap.size()));
  auto n = dht::udp_node::create(t.io, o);
  REQUIRE(n);
  auto node = *n;
  t.run([&] {
    node->start();
    return 0;
  });
  return node;
}

/// Puts `item` with `cas` from `node` on its io thread; the outcome, or nothing if the put did
/// not complete within `deadline`.
inline std::optional<dht::put_outcome> put_and_wait(io_thread& t, dht::udp_node& node,
                                                    const dht::mutable_item& item,
                                                    std::optional<int64_t> cas,
                                                    std::chrono::seconds deadline) {
  std::promise<dht::put_outcome> done;
  auto fut = done.get_future();
  t.run([&] {
    node.put_mutable(item, cas, [&](const dht::completion& c) { done.set_value(c.put); });
    return 0;
  });
  if (fut.wait_for(deadline) != std::future_status::ready)
    return std::nullopt;
  return fut.get();
}

/// What a get reported: the completion's item count and every item handed to the callback.
struct got_items {
  size_t count = 0;
  std::vector<dht::mutable_item> items;
};

/// Gets the mutable item (key, salt) from `node` on its io thread; nothing if the get did not
/// complete within `deadline`.
inline std::optional<got_items> get_and_wait(io_thread& t, dht::udp_node& node, const bytes32& key,
                                             const bytes& salt, std::chrono::seconds deadline) {
  std::promise<size_t> done;
  auto fut = done.get_future();
  got_items got;
  t.run([&] {
    node.get_mutable(
      key, salt, [&](const dht::mutable_item& it) { got.items.push_back(it); },
      [&](const dht::completion& c) { done.set_value(c.items); });
    return 0;
  });
  if (fut.wait_for(deadline) != std::future_status::ready)
    return std::nullopt;
  got.count = fut.get();
  return got;
}

/// Stops `node` on its io thread.
inline void stop_on(io_thread& t, dht::udp_node& node) {
  t.run([&] {
    node.stop();
    return 0;
  });
}

/// An Ed25519 key whose 32-byte seed is `b` repeated.
inline crypto::signing_key key_filled(uint8_t b) {
  bytes32 seed;
  seed.fill(b);
  return crypto::signing_key::from_seed(seed);
}

} // namespace dtt::test
