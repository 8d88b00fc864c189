#pragma once
// An io_context on its own thread for client udp_nodes in loopback tests; stops and joins on
// destruction.

#include "dht/testnet.hpp"
#include "dht/udp_node.hpp"

#include <doctest/doctest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <future>
#include <memory>
#include <thread>

namespace dtt::test {

struct io_thread {
  boost::asio::io_context io{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{
    io.get_executor()};
  std::thread thread{[this] { io.run(); }};
  ~io_thread() {
    work.reset();
    io.stop();
    thread.join();
  }
  /// Runs f on the io thread and returns its result.
  template <class F>
  auto run(F f) -> decltype(f()) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto fut = task.get_future();
    boost::asio::post(io, [&task] { task(); });
    return fut.get();
  }
};

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
