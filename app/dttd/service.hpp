#pragma once

// What dttd serves over HTTP: metrics, status, health and the local API (topics, broadcasts,
// events over a WebSocket). No Beast here: the server (http_server.hpp) calls these handlers.

#include "app/dttd/daemon_stats.hpp"
#include "app/dttd/http_server.hpp"
#include "dtt/all.hpp"

#include <caf/fwd.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace dtt {

class cluster;

/// What /status reports that the service cannot ask the node for.
struct service_info {
  std::string version;                 ///< dttd's version
  std::vector<std::string> advertise;  ///< [dttd.gossip] advertise
  config topic_config;                 ///< the tracker settings topics joined by the API get
  size_t max_topics = 64;              ///< topics at once (config and API)
};

/// The topics of one dttd and the HTTP handlers over them. Handlers run on the io thread and
/// hand anything that blocks (asking an actor) to one worker thread with a bounded queue (503
/// when it is full).
class service {
public:
  service(caf::actor_system& sys, runtime& rt, daemon_stats& stats, service_info info);
  /// Stops the worker (pending requests are answered 503) and every topic's event fan-out.
  ~service();
  service(const service&) = delete;
  service& operator=(const service&) = delete;

  /// Adds a topic joined by dttd; `configured` topics count for /healthz. Returns its id (hex).
  std::string add_topic(std::string name, topic t, bool configured);
  /// Shows `member` (dttd's [dttd.cluster] membership, alive until this service goes) in
  /// /status and /metrics; call before handlers().
  void set_cluster(std::string name, cluster* member);
  /// The handlers for http::server; `server_stats` reads the server's counters for /metrics.
  http::handlers handlers(std::function<http::server_stats()> server_stats);
  /// The metrics text (Prometheus exposition format 0.0.4). Blocks (asks actors).
  std::string metrics();
  /// The /status document. Blocks.
  std::string status_json();
  /// True once every configured topic has had a neighbour.
  bool healthy() const;

  struct impl;

private:
  std::shared_ptr<impl> impl_;
};

} // namespace dtt
