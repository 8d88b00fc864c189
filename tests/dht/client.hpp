#pragma once
// A read-only client udp_node for the loopback tests (doctest assertions; tests only).

#include "dht/testnet.hpp"
#include "dht/udp_node.hpp"
#include "io_thread.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <memory>

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

} // namespace dtt::test
