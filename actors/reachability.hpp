#pragma once

// What a runtime knows about how it can be reached (issue 15), gathered from two threads that
// are not actors: the io thread (the DHT's decided external address) and the port mapper's
// thread (mappings made or lost). The hub keeps the latest of both for readers (/status) and
// tells the directory, which publishes the endpoint record, through an io_bridge (weak: it
// never keeps the directory alive; what comes before the directory exists is held).

#include "actors/io_bridge.hpp"
#include "dht/node_id.hpp"
#include "dtt/runtime.hpp"
#include "nat/port_mapper.hpp"

#include <memory>
#include <mutex>
#include <optional>

namespace dtt {

/// Shared by the runtime's DHT callback, its port mapper and its readers. Thread-safe.
class reachability_hub {
public:
  /// The setting in force (for reachability_info::port_mapping).
  explicit reachability_hub(nat::mode wanted) : wanted_(wanted) {}
  /// Names the directory actor (once).
  void attach(const caf::actor_addr& directory) { bridge_.attach(directory); }
  /// The DHT decided our external address (io thread).
  void external_address(const dht::endpoint& ep);
  /// The port mapper's mappings changed (its thread).
  void mappings(const nat::mapper_state& st);
  /// The mapper, once started (its counters are read from it).
  void set_mapper(std::shared_ptr<nat::port_mapper> m);
  /// What is known now.
  reachability_info info() const;

private:
  nat::mode wanted_;
  io_bridge bridge_;
  mutable std::mutex mu_;
  std::optional<dht::endpoint> external_;
  std::shared_ptr<nat::port_mapper> mapper_;
};

} // namespace dtt
