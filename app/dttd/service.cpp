#include "app/dttd/service.hpp"


#include "app/dttd/page.hpp"

#include "dtt/cluster.hpp"

#include <caf/all.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <condition_variable>
#include <deque>
#include <dirent.h>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <unistd.h>

namespace dtt {

namespace {

using sys_clock = std::chrono::system_clock;
using steady = std::chrono::steady_clock;

// ---- Prometheus text exposition (format 0.0.4) ------------------------------------------------

// Families in the order first declared, each with its samples, so that a family's samples stay
// together whatever order the sources come in.
class metrics_writer {
public:
  using labels = std::vector<std::pair<std::string, std::string>>;

  void add(const std::string& name, const char* type, const char* help, const labels& ls,
           double value, const std::string& suffix = "") {
    auto it = index_.find(name);
    if (it == index_.end()) {
      it = index_.emplace(name, families_.size()).first;
      families_.push_back({name, type, help, {}});
    }
    std::string line = name + suffix;
    if (!ls.empty()) {
      line += '{';
      for (size_t i = 0; i < ls.size(); ++i)
        line += (i ? "," : "") + ls[i].first + "=\"" + escape(ls[i].second) + '"';
      line += '}';
    }
    families_[it->second].samples.push_back(line + ' ' + number(value));
  }
  void counter(const std::string& name, const char* help, double v, const labels& ls = {}) {
    add(name, "counter", help, ls, v);
  }
  void gauge(const std::string& name, const char* help, double v, const labels& ls = {}) {
    add(name, "gauge", help, ls, v);
  }
  std::string text() const {
    std::string out;
    for (auto& f : families_) {
      out += "# HELP " + f.name + " " + f.help + "\n# TYPE " + f.name + " " + f.type + "\n";
      for (auto& s : f.samples)
        out += s + "\n";
    }
    return out;
  }
  static std::string number(double v) {
    if (v == static_cast<double>(static_cast<int64_t>(v)) && std::abs(v) < 9e15)
      return std::to_string(static_cast<int64_t>(v));
    std::ostringstream s;
    s.precision(10);
    s << v;
    return s.str();
  }

private:
  static std::string escape(const std::string& v) {
    std::string out;
    for (char c : v) {
      if (c == '\\' || c == '"')
        out += '\\', out += c;
      else if (c == '\n')
        out += "\\n";
      else
        out += c;
    }
    return out;
  }
  struct family {
    std::string name;
    const char* type;
    const char* help;
    std::vector<std::string> samples;
  };
  std::vector<family> families_;
  std::map<std::string, size_t> index_;
};

// Time to a topic's first neighbour (seconds): from a fast loopback join to the DHT-driven
// bootstrap loop's minutes (PROTOCOL.md §6: one round per minute at most).
constexpr double first_neighbour_buckets[] = {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
constexpr size_t bucket_count = sizeof first_neighbour_buckets / sizeof(double);

struct histogram {
  uint64_t counts[bucket_count] = {};
  uint64_t count = 0;
  double sum = 0;
  void observe(double v) {
    for (size_t i = 0; i < bucket_count; ++i)
      if (v <= first_neighbour_buckets[i])
        ++counts[i];
    ++count;
    sum += v;
  }
};

// /proc/self figures for the standard process_* metrics.
struct process_figures {
  double cpu_seconds = 0;
  double rss_bytes = 0;
  double open_fds = 0;
  double max_fds = 0;
  double start_time = 0;
};

process_figures read_process() {
  process_figures p;
  long ticks = ::sysconf(_SC_CLK_TCK);
  long page = ::sysconf(_SC_PAGESIZE);
  std::ifstream stat("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  auto close = text.rfind(')'); // the command name may hold spaces and parentheses
  if (close != std::string::npos && ticks > 0) {
    std::istringstream in(text.substr(close + 2));
    std::vector<std::string> f;
    std::string x;
    while (in >> x && f.size() < 24)
      f.push_back(x);
    // Fields after the name, from field 3 (state): utime is field 14, stime 15, starttime
    // 22, rss 24 (proc(5)).
    if (f.size() >= 22) {
      p.cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / static_cast<double>(ticks);
      double boot = 0;
      std::ifstream st("/proc/stat");
      std::string key;
      while (st >> key)
        if (key == "btime") {
          st >> boot;
          break;
        }
      p.start_time = boot + std::stod(f[19]) / static_cast<double>(ticks);
    }
    if (f.size() >= 22 && page > 0)
      p.rss_bytes = std::stod(f[21]) * static_cast<double>(page);
  }
  if (auto* d = ::opendir("/proc/self/fd")) {
    size_t n = 0;
    while (auto* e = ::readdir(d))
      if (e->d_name[0] != '.')
        ++n;
    ::closedir(d);
    p.open_fds = static_cast<double>(n > 0 ? n - 1 : 0); // minus the one opendir holds
  }
  std::ifstream limits("/proc/self/limits");
  std::string line;
  while (std::getline(limits, line))
    if (line.rfind("Max open files", 0) == 0) {
      std::istringstream in(line.substr(14));
      in >> p.max_fds;
    }
  return p;
}

// ---- the topics ------------------------------------------------------------------------------

// The WebSockets of one topic: events are serialized once and queued on each.
struct fanout {
  std::mutex mu;
  std::vector<std::shared_ptr<http::websocket>> sockets;
  std::atomic<int64_t> joined_at_ms{-1}; // steady ms of the first neighbour, -1: not yet
};

std::string event_json(const std::string& topic_hex, const event& ev) {
  nlohmann::json j{{"event", to_string(ev.k)}, {"topic", topic_hex}};
  if (ev.k == event::kind::lagged) {
    j["dropped"] = ev.lagged;
  } else {
    j["peer"] = to_hex(ev.peer);
  }
  if (ev.k == event::kind::received) {
    j["content_b64"] = to_base64(ev.content);
    j["scope"] = ev.scope.k == delivery_scope::kind::neighbors ? "neighbors" : "swarm";
    j["round"] = ev.scope.round;
  }
  return j.dump();
}

// `ls` followed by `more`.
std::vector<std::pair<std::string, std::string>>
with(std::vector<std::pair<std::string, std::string>> ls,
     const std::vector<std::pair<std::string, std::string>>& more) {
  ls.insert(ls.end(), more.begin(), more.end());
  return ls;
}

// A neighbour in /status from the gossip actor's "topic/<hex>/neighbor/<id>/..." counters:
// address of its link, since when it is a neighbour in the topic, the link's bytes (a link
// carries every topic shared with the peer). Missing figures are null.
nlohmann::json neighbor_json(const std::map<std::string, uint64_t>& gossip,
                             const std::string& topic_prefix, const std::string& id) {
  auto np = topic_prefix + "neighbor/" + id + "/";
  auto get = [&](const char* k) -> nlohmann::json {
    auto it = gossip.find(np + k);
    return it == gossip.end() ? nlohmann::json(nullptr) : nlohmann::json(it->second);
  };
  nlohmann::json j{{"id", id}, {"address", nullptr}, {"method", nullptr}, {"since", nullptr},
                   {"since_seconds", nullptr}, {"bytes_in", get("bytes_in")},
                   {"bytes_out", get("bytes_out")}};
  auto a = gossip.lower_bound(np + "address/");
  if (a != gossip.end() && a->first.rfind(np + "address/", 0) == 0)
    j["address"] = a->first.substr(np.size() + 8);
  auto m = gossip.lower_bound(np + "method/");
  if (m != gossip.end() && m->first.rfind(np + "method/", 0) == 0)
    j["method"] = m->first.substr(np.size() + 7);
  if (auto s = gossip.find(np + "since_unix_seconds"); s != gossip.end()) {
    auto since = sys_clock::time_point(std::chrono::seconds(s->second));
    j["since"] = log::utc_timestamp(since);
    j["since_seconds"] =
      std::chrono::duration_cast<std::chrono::seconds>(sys_clock::now() - since).count();
  }
  return j;
}

// The last bootstrap round in /status from the topic's stats (actors/topic_context.hpp), or
// null before the first round read records.
nlohmann::json last_bootstrap_json(const result<std::map<std::string, uint64_t>>& st) {
  if (!st)
    return nullptr;
  auto get = [&](const char* k) -> uint64_t {
    auto it = st->find(k);
    return it == st->end() ? 0 : it->second;
  };
  auto at = get("last_bootstrap_unix_seconds");
  if (at == 0)
    return nullptr;
  return {{"time", log::utc_timestamp(sys_clock::time_point(std::chrono::seconds(at)))},
          {"rounds", get("bootstrap_rounds")},
          {"reads_ok", get("last_bootstrap_reads_ok") == 1},
          {"records", get("last_bootstrap_records")},
          {"candidates", get("last_bootstrap_candidates")}};
}

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(steady::now().time_since_epoch())
    .count();
}

} // namespace

struct service::impl {
  struct topic_entry {
    std::string name;
    std::string hex;
    topic handle;
    bool configured = false;
    int64_t added_ms = 0;
    std::shared_ptr<fanout> fan;
    caf::actor fan_actor; // subscribed to the topic while a WebSocket is open
  };

  caf::actor_system* sys;
  runtime* rt;
  daemon_stats* stats;
  service_info info;
  std::string cluster_name;
  cluster* member = nullptr; // [dttd.cluster]; set before the handlers run
  sys_clock::time_point started = sys_clock::now();
  std::function<http::server_stats()> server_stats;

  mutable std::mutex mu; // guards topics and first_neighbour
  std::map<std::string, topic_entry> topics;
  histogram first_neighbour;

  // One worker thread for everything that blocks; a bounded queue.
  static constexpr size_t max_jobs = 64;
  std::mutex jobs_mu;
  std::condition_variable jobs_cv;
  std::deque<std::function<void()>> jobs;
  bool stopping = false;
  std::thread worker;
  std::atomic<uint64_t> jobs_refused{0};

  bool enqueue(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> guard(jobs_mu);
      if (stopping || jobs.size() >= max_jobs)
        return false;
      jobs.push_back(std::move(job));
    }
    jobs_cv.notify_one();
    return true;
  }

  void run_jobs() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(jobs_mu);
        jobs_cv.wait(lock, [&] { return stopping || !jobs.empty(); });
        if (jobs.empty())
          return;
        job = std::move(jobs.front());
        jobs.pop_front();
      }
      try {
        job();
      } catch (...) {
        // A job answers its request itself; the responder answers 500 if it is dropped.
      }
    }
  }

  std::optional<topic_entry> find(const std::string& hex) {
    std::lock_guard<std::mutex> guard(mu);
    auto it = topics.find(hex);
    if (it == topics.end())
      return std::nullopt;
    return it->second;
  }

  void observe_joined(const std::string& hex) {
    std::lock_guard<std::mutex> guard(mu);
    auto it = topics.find(hex);
    if (it == topics.end() || it->second.fan->joined_at_ms >= 0)
      return;
    auto now = steady_ms();
    it->second.fan->joined_at_ms = now;
    first_neighbour.observe(static_cast<double>(now - it->second.added_ms) / 1000.0);
  }
};

service::service(caf::actor_system& sys, runtime& rt, daemon_stats& stats, service_info info)
  : impl_(std::make_shared<impl>()) {
  impl_->sys = &sys;
  impl_->rt = &rt;
  impl_->stats = &stats;
  impl_->info = std::move(info);
  impl_->worker = std::thread([p = impl_.get()] { p->run_jobs(); });
}

service::~service() {
  {
    std::lock_guard<std::mutex> guard(impl_->jobs_mu);
    impl_->stopping = true;
    impl_->jobs.clear(); // their responders answer 500 as they are destroyed
  }
  impl_->jobs_cv.notify_all();
  impl_->worker.join();
  std::lock_guard<std::mutex> guard(impl_->mu);
  for (auto& [hex, e] : impl_->topics) {
    // The fan-out actor ends on a CAF thread whenever it likes: it must not hold the last
    // reference to a WebSocket (its socket belongs to the io_context, which stops soon).
    {
      std::lock_guard<std::mutex> g2(e.fan->mu);
      e.fan->sockets.clear();
    }
    caf::anon_send_exit(e.fan_actor, caf::exit_reason::user_shutdown);
  }
  impl_->topics.clear();
}

std::string service::add_topic(std::string name, topic t, bool configured) {
  auto id = t.id();
  auto hex = to_hex(id);
  auto fan = std::make_shared<fanout>();
  std::weak_ptr<impl> weak = impl_;
  // The fan-out actor: asks the topic for its first neighbour (the histogram, /healthz) and,
  // while subscribed, passes each event to the WebSockets.
  auto handle = caf::actor_cast<caf::actor>(t.handle());
  auto actor = impl_->sys->spawn([fan, hex, weak, handle](caf::event_based_actor* self)
                                   -> caf::behavior {
    self->request(handle, caf::infinite, await_joined_atom::value)
      .then(
        [=](bool) {
          if (auto p = weak.lock())
            p->observe_joined(hex);
        },
        [](caf::error&) {});
    return {
      [=](event_atom, const bytes32&, const event& ev) {
        if (ev.k == event::kind::neighbor_up && fan->joined_at_ms < 0)
          if (auto p = weak.lock())
            p->observe_joined(hex);
        auto line = event_json(hex, ev);
        std::lock_guard<std::mutex> guard(fan->mu);
        for (auto& ws : fan->sockets)
          ws->send_text(line); // a full queue drops it; the client gets a lagged line later
      },
      [](const std::vector<endpoint_id>&) {}, // subscribe's reply
    };
  });
  std::lock_guard<std::mutex> guard(impl_->mu);
  auto& e = impl_->topics[hex];
  if (e.fan_actor) // joined twice: the new handle replaces the old one
    caf::anon_send_exit(e.fan_actor, caf::exit_reason::user_shutdown);
  e = impl::topic_entry{std::move(name), hex, std::move(t), configured, steady_ms(), fan, actor};
  return hex;
}

void service::set_cluster(std::string name, cluster* member) {
  impl_->cluster_name = std::move(name);
  impl_->member = member;
}

bool service::healthy() const {
  std::lock_guard<std::mutex> guard(impl_->mu);
  for (auto& [hex, e] : impl_->topics)
    if (e.configured && e.fan->joined_at_ms < 0)
      return false;
  return true;
}

std::string service::metrics() {
  auto& p = *impl_;
  metrics_writer w;
  using L = metrics_writer::labels;
  w.gauge("dtt_build_info", "dttd's version (always 1)", 1, {{"version", p.info.version}});

  // Port mapping (issue 15).
  {
    auto reach = p.rt->reachability();
    for (auto [name, v] : {std::pair<const char*, uint64_t>{"mapped", reach.mapped},
                           {"renewed", reach.renewed},
                           {"failed", reach.failed},
                           {"removed", reach.removed}})
      w.counter("dtt_nat_port_mappings_total", "port mapping attempts by outcome (nat/)",
                static_cast<double>(v), {{"result", name}});
    w.gauge("dtt_nat_port_mappings", "port mappings in force",
            static_cast<double>(reach.mappings.size()));
    w.gauge("dtt_nat_pinholes", "IPv6 pinholes open in the router's firewall (UPnP IGD2)",
            static_cast<double>(reach.pinholes.size()));
  }

  // DHT node counters (dht/node.cpp's names).
  if (auto dht = p.rt->dht_stats()) {
    static const std::map<std::string, std::pair<std::string, L>> counters{
      {"packets_in", {"dtt_dht_packets_total", {{"direction", "in"}}}},
      {"packets_out", {"dtt_dht_packets_total", {{"direction", "out"}}}},
      {"bytes_in", {"dtt_dht_bytes_total", {{"direction", "in"}}}},
      {"bytes_out", {"dtt_dht_bytes_total", {{"direction", "out"}}}},
      {"responses_in", {"dtt_dht_responses_total", {}}},
      {"timeouts", {"dtt_dht_timeouts_total", {}}},
      {"bad_packets", {"dtt_dht_packets_dropped_total", {{"reason", "bad_packet"}}}},
      {"unknown_tid", {"dtt_dht_packets_dropped_total", {{"reason", "unknown_tid"}}}},
      {"responses_after_timeout",
       {"dtt_dht_packets_dropped_total", {{"reason", "after_timeout"}}}},
      {"id_mismatch", {"dtt_dht_packets_dropped_total", {{"reason", "id_mismatch"}}}},
      {"rate_limited", {"dtt_dht_packets_dropped_total", {{"reason", "rate_limited"}}}},
      {"dropped_read_only", {"dtt_dht_packets_dropped_total", {{"reason", "read_only"}}}},
      {"commands_refused", {"dtt_dht_packets_dropped_total", {{"reason", "command_limit"}}}},
      {"puts_stored", {"dtt_dht_puts_total", {{"result", "stored"}}}},
      {"puts_rejected", {"dtt_dht_puts_total", {{"result", "rejected"}}}},
      {"invalid_items", {"dtt_dht_invalid_items_total", {}}},
      {"verify_pings", {"dtt_dht_verify_pings_total", {}}},
      {"send_failures", {"dtt_dht_send_failures_total", {}}},
      {"resolve_failures", {"dtt_dht_resolve_failures_total", {}}},
    };
    static const std::map<std::string, std::string> gauges{
      {"table_size", "dtt_dht_routing_table_nodes"},
      {"table6_size", "dtt_dht_routing_table6_nodes"},  // the IPv6 table alone (BEP 32)
      {"table_buckets", "dtt_dht_routing_table_buckets"},
      {"table_replacements", "dtt_dht_routing_table_replacements"},
      {"stored_items", "dtt_dht_stored_items"},
      {"in_flight", "dtt_dht_requests_in_flight"},
      {"commands", "dtt_dht_lookups_running"},
      {"verify_in_flight", "dtt_dht_verify_pings_in_flight"},
      {"external_address_known", "dtt_dht_external_address_known"},
      {"pending_requests", "dtt_dht_actor_pending_requests"},
    };
    // Totals whose parts by kind or code are exported instead (a family's samples must not
    // mix a total with its parts).
    static const std::set<std::string> totals{"queries_in", "queries_out", "errors_in",
                                              "errors_sent"};
    // "<prefix><label value>" keys: queries by kind, KRPC errors by code (dht/node.hpp).
    struct by_label {
      const char* prefix;
      const char* name;
      const char* help;
      const char* direction;
      const char* label;
    };
    static const by_label parts[] = {
      {"queries_in_", "dtt_dht_queries_total", "KRPC queries by direction and kind", "in",
       "kind"},
      {"queries_out_", "dtt_dht_queries_total", "KRPC queries by direction and kind", "out",
       "kind"},
      {"errors_in_", "dtt_dht_krpc_errors_total", "KRPC error replies by direction and code",
       "in", "code"},
      {"errors_out_", "dtt_dht_krpc_errors_total", "KRPC error replies by direction and code",
       "out", "code"},
    };
    for (auto& [key, v] : *dht) {
      auto d = static_cast<double>(v);
      if (totals.count(key))
        continue;
      auto part = std::find_if(std::begin(parts), std::end(parts), [&](const by_label& b) {
        return key.rfind(b.prefix, 0) == 0;
      });
      if (part != std::end(parts))
        w.counter(part->name, part->help, d,
                  {{"direction", part->direction},
                   {part->label, key.substr(std::strlen(part->prefix))}});
      else if (auto c = counters.find(key); c != counters.end())
        w.counter(c->second.first, "DHT node counter (dht/node.cpp)", d, c->second.second);
      else if (auto g = gauges.find(key); g != gauges.end())
        w.gauge(g->second, "DHT node state (dht/node.cpp)", d);
      else if (key.rfind("actor_", 0) == 0)
        w.counter("dtt_dht_actor_requests_total", "requests to the DHT actor by kind", d,
                  {{"kind", key.substr(6)}});
      else if (key.rfind("refused_", 0) == 0)
        w.counter("dtt_dht_refused_total", "DHT node counter (dht/node.cpp)", d,
                  {{"reason", key.substr(8)}});
      else
        w.counter("dtt_dht_other_total", "DHT node counters without a name of their own", d,
                  {{"name", key}});
    }
  }

  // Gossip actor and transport.
  std::map<std::string, std::string> name_of; // topic hex -> name
  {
    std::lock_guard<std::mutex> guard(p.mu);
    for (auto& [hex, e] : p.topics)
      name_of[hex] = e.name;
  }
  if (auto g = p.rt->gossip_stats()) {
    static const std::map<std::string, std::pair<std::string, L>> counters{
      {"bytes_in", {"dtt_gossip_bytes_total", {{"direction", "in"}}}},
      {"bytes_out", {"dtt_gossip_bytes_total", {{"direction", "out"}}}},
      {"messages_in", {"dtt_transport_messages_total", {{"direction", "in"}}}},
      {"messages_out", {"dtt_transport_messages_total", {{"direction", "out"}}}},
      {"proofs_accepted", {"dtt_transport_admission_total", {{"result", "accepted"}}}},
      {"proofs_refused", {"dtt_transport_admission_total", {{"result", "refused"}}}},
      {"proofs_unknown_topic", {"dtt_transport_admission_total", {{"result", "unknown_topic"}}}},
      {"proofs_unanswered", {"dtt_transport_admission_total", {{"result", "unanswered"}}}},
      {"links_without_topic", {"dtt_transport_admission_total", {{"result", "no_topic"}}}},
      {"early_messages", {"dtt_transport_admission_total", {{"result", "early_message"}}}},
      {"refused_ip_handshakes",
       {"dtt_transport_connections_refused_total", {{"reason", "ip_handshakes"}}}},
      {"refused_ip_links", {"dtt_transport_connections_refused_total", {{"reason", "ip_links"}}}},
      {"refused_total_limits",
       {"dtt_transport_connections_refused_total", {{"reason", "node_limits"}}}},
      {"slow_peers_dropped", {"dtt_transport_links_closed_total", {{"reason", "slow_peer"}}}},
      {"duplicates_retired", {"dtt_transport_links_closed_total", {{"reason", "duplicate"}}}},
      {"links_renewed", {"dtt_transport_links_closed_total", {{"reason", "renewed"}}}},
      {"messages_not_member", {"dtt_transport_messages_dropped_total", {{"reason", "left_topic"}}}},
      {"reversal_requests_sent", {"dtt_transport_reversal_requests_total", {{"result", "sent"}}}},
      {"reversal_requests_relayed",
       {"dtt_transport_reversal_requests_total", {{"result", "relayed"}}}},
      {"reversed_dials", {"dtt_transport_reversed_dials_total", {}}},
      {"dials", {"dtt_transport_dials_total", {}}},
      {"dials_held_back", {"dtt_transport_dials_held_back_total", {}}},
      {"links_reversed", {"dtt_transport_links_reversed_total", {}}},
      {"reversal_waits_expired",
       {"dtt_transport_reversal_requests_total", {{"result", "no_link"}}}},
      {"punch_hints_sent", {"dtt_transport_punch_total", {{"step", "hint_sent"}}}},
      {"punch_primers", {"dtt_transport_punch_total", {{"step", "primed"}}}},
      {"links_punched", {"dtt_transport_punch_total", {{"step", "linked"}}}},
      {"relay_requests_sent", {"dtt_transport_relay_requests_total", {{"result", "sent"}}}},
      {"relay_requests_carried",
       {"dtt_transport_relay_requests_total", {{"result", "carried"}}}},
      {"relay_requests_refused",
       {"dtt_transport_relay_requests_total", {{"result", "refused"}}}},
      {"links_relayed", {"dtt_transport_links_relayed_total", {}}},
      {"relay_over_budget", {"dtt_transport_relayed_closed_total", {{"reason", "over_budget"}}}},
      {"relay_bytes", {"dtt_transport_relay_bytes_total", {}}},
      {"frames_undecodable", {"dtt_gossip_frames_refused_total", {{"reason", "undecodable"}}}},
      {"busy_refusals", {"dtt_gossip_broadcasts_busy_total", {}}},
      {"broadcasts", {"dtt_gossip_broadcasts_total", {}}},
      {"frames_received", {"dtt_gossip_frames_received_total", {}}},
      {"buffer_pool_fresh", {"dtt_buffer_pool_blocks_total", {{"source", "fresh"}}}},
      {"buffer_pool_reused", {"dtt_buffer_pool_blocks_total", {{"source", "reused"}}}},
      {"buffer_pool_returned", {"dtt_buffer_pool_returned_total", {}}},
      {"events_to_actors", {"dtt_gossip_events_delivered_total", {{"to", "actors"}}}},
      {"events_to_sinks", {"dtt_gossip_events_delivered_total", {{"to", "sinks"}}}},
      {"actor_messages_broadcast", {"dtt_gossip_actor_messages_total", {{"kind", "broadcast"}}}},
      {"actor_messages_net", {"dtt_gossip_actor_messages_total", {{"kind", "net"}}}},
      {"actor_messages_timer", {"dtt_gossip_actor_messages_total", {{"kind", "timer"}}}},
      {"actor_messages_control", {"dtt_gossip_actor_messages_total", {{"kind", "control"}}}},
    };
    static const std::map<std::string, std::pair<std::string, L>> gauges{
      {"links", {"dtt_transport_connections", {{"state", "established"}}}},
      {"pending_handshakes", {"dtt_transport_connections", {{"state", "handshake"}}}},
      {"refused_held", {"dtt_transport_connections", {{"state", "refused_held"}}}},
      {"relayed_carried", {"dtt_transport_connections", {{"state", "relaying"}}}},
      {"peers", {"dtt_transport_peers", {}}},
      {"broadcasts_waiting", {"dtt_gossip_broadcasts_waiting", {}}},
      {"topics", {"dtt_gossip_topics", {}}},
    };
    struct topic_metric {
      const char* name;
      const char* type;
      const char* help;
    };
    static const std::map<std::string, topic_metric> per_topic{
      {"active", {"dtt_gossip_active_view_peers", "gauge", "HyParView active view size"}},
      {"passive", {"dtt_gossip_passive_view_peers", "gauge", "HyParView passive view size"}},
      {"payload_in",
       {"dtt_gossip_payload_messages_received_total", "counter",
        "PlumTree Gossip messages received, duplicates included"}},
      {"control_in",
       {"dtt_gossip_control_messages_received_total", "counter",
        "PlumTree Prune, Graft and IHave received"}},
      {"membership_in",
       {"dtt_gossip_membership_messages_received_total", "counter",
        "HyParView messages received"}},
      {"repeated_grafts",
       {"dtt_gossip_repeated_grafts_total", "counter",
        "Grafts for a payload already sent to that peer"}},
      {"duplicates",
       {"dtt_gossip_duplicates_total", "counter",
        "PlumTree Gossip messages already seen (each answered with a Prune)"}},
      {"backlog_messages",
       {"dtt_gossip_send_backlog_messages", "gauge",
        "messages queued for the active peers and not yet written"}},
      {"backlog_bytes",
       {"dtt_gossip_send_backlog_bytes", "gauge",
        "bytes queued for the active peers and not yet written"}},
    };
    for (auto& [key, v] : *g) {
      auto d = static_cast<double>(v);
      if (auto c = counters.find(key); c != counters.end()) {
        w.counter(c->second.first, "gossip transport counter", d, c->second.second);
      } else if (auto ga = gauges.find(key); ga != gauges.end()) {
        w.gauge(ga->second.first, "gossip transport state", d, ga->second.second);
      } else if (key.rfind("handshake_failures/", 0) == 0) {
        w.counter("dtt_transport_handshake_failures_total",
                  "gossip links that failed before they were established, by reason", d,
                  {{"reason", key.substr(19)}});
      } else if (key.rfind("reversal_requests_refused/", 0) == 0
                 || key.rfind("reversal_notices_refused/", 0) == 0) {
        bool request = key.rfind("reversal_requests", 0) == 0;
        w.counter("dtt_transport_reversal_refused_total",
                  "connection reversal requests (relay side) and notices (dialing side) "
                  "refused, by reason",
                  d, {{"frame", request ? "request" : "notice"},
                      {"reason", key.substr(key.find('/') + 1)}});
      } else if (key.rfind("flood_refused/", 0) == 0) {
        w.counter("dtt_gossip_frames_refused_total",
                  "gossip frames refused (the peer is disconnected)", d,
                  {{"reason", "flood"}, {"kind", key.substr(14)}});
      } else if (key.rfind("topic/", 0) == 0) {
        auto slash = key.find('/', 6);
        if (slash == std::string::npos)
          continue;
        auto hex = key.substr(6, slash - 6);
        auto rest = key.substr(slash + 1);
        L ls{{"topic", name_of.count(hex) ? name_of[hex] : ""}, {"topic_id", hex}};
        // Messages by kind (gossip/proto.hpp message_counters): "received/Graft", ...
        auto kind_slash = rest.find('/');
        if (kind_slash != std::string::npos && rest.compare(0, 9, "neighbor/") != 0) {
          auto what = rest.substr(0, kind_slash);
          auto kind = rest.substr(kind_slash + 1);
          if (what == "flood_refused") {
            w.counter("dtt_gossip_flood_refusals_total",
                      "control messages over their flood budget, by kind (the peer is "
                      "disconnected)",
                      d, with(ls, {{"kind", kind}}));
          } else if (what == "received" || what == "sent") {
            auto direction = what == "received" ? "in" : "out";
            w.counter("dtt_gossip_messages_total",
                      "gossip protocol messages handled (in) and sent (out), by kind", d,
                      with(ls, {{"direction", direction}, {"kind", kind}}));
          }
          continue;
        }
        auto m = per_topic.find(rest);
        if (m == per_topic.end())
          continue;  // neighbor/...: ids and addresses are for /status, never labels
        w.add(m->second.name, m->second.type, m->second.help, ls, d);
      }
    }
  }

  // The tracker's counters per topic.
  std::vector<impl::topic_entry> entries;
  {
    std::lock_guard<std::mutex> guard(p.mu);
    for (auto& [hex, e] : p.topics)
      entries.push_back(e);
  }
  struct tracker_metric {
    const char* name;
    const char* help;
    L labels;
  };
  // The tracker's counters (actors/record_publisher.hpp, actors/topic_context.hpp).
  static const std::map<std::string, tracker_metric> tracker_counters{
    {"records_published",
     {"dtt_tracker_records_published_total", "records put on enough DHT nodes", {}}},
    {"records_fetched",
     {"dtt_tracker_records_fetched_total", "valid records read from the DHT", {}}},
    {"record_puts_failed",
     {"dtt_tracker_record_publish_failures_total", "records not published, by reason",
      {{"reason", "put_failed"}}}},
    {"records_skipped_full",
     {"dtt_tracker_record_publish_failures_total", "records not published, by reason",
      {{"reason", "minute_full"}}}},
    {"bootstrap_rounds",
     {"dtt_tracker_bootstrap_rounds_total", "bootstrap discovery rounds started", {}}},
    {"merges_bubble",
     {"dtt_tracker_merges_total", "merge ticks that joined peers, by kind", {{"kind", "bubble"}}}},
    {"merges_overlap",
     {"dtt_tracker_merges_total", "merge ticks that joined peers, by kind",
      {{"kind", "overlap"}}}},
    {"merge_peers_bubble",
     {"dtt_tracker_merge_peers_total", "peers joined by merges, by kind", {{"kind", "bubble"}}}},
    {"merge_peers_overlap",
     {"dtt_tracker_merge_peers_total", "peers joined by merges, by kind",
      {{"kind", "overlap"}}}},
  };
  for (auto& e : entries) {
    L ls{{"topic", e.name}, {"topic_id", e.hex}};
    w.gauge("dtt_topic_joined", "1 once the topic has had a neighbour", e.fan->joined_at_ms >= 0 ? 1 : 0,
            ls);
    auto st = e.handle.stats();
    if (!st)
      continue;
    for (auto& [key, v] : *st) {
      auto d = static_cast<double>(v);
      if (key.rfind("rejected_", 0) == 0 || key == "duplicate_records") {
        auto reason = key == "duplicate_records" ? std::string("duplicate") : key.substr(9);
        w.counter("dtt_tracker_records_rejected_total", "DHT records dropped by reason", d,
                  with(ls, {{"reason", reason}}));
      } else if (auto c = tracker_counters.find(key); c != tracker_counters.end()) {
        w.counter(c->second.name, c->second.help, d, with(ls, c->second.labels));
      } else if (key == "last_bootstrap_unix_seconds") {
        if (v > 0)
          w.gauge("dtt_tracker_last_bootstrap_timestamp_seconds",
                  "start of the last bootstrap round that read records (unix time)", d, ls);
      } else if (key == "pending_puts") {
        w.gauge("dtt_tracker_pending_puts", "record puts in progress", d, ls);
      } else if (key == "workers") {
        w.gauge("dtt_tracker_workers", "tracker worker actors of the topic", d, ls);
      }
    }
  }
  {
    std::lock_guard<std::mutex> guard(p.mu);
    auto& hist = p.first_neighbour;
    const char* help = "time from joining a topic to its first neighbour";
    for (size_t i = 0; i < bucket_count; ++i)
      w.add("dtt_topic_first_neighbour_seconds", "histogram", help,
            {{"le", metrics_writer::number(first_neighbour_buckets[i])}},
            static_cast<double>(hist.counts[i]), "_bucket");
    w.add("dtt_topic_first_neighbour_seconds", "histogram", help, {{"le", "+Inf"}},
          static_cast<double>(hist.count), "_bucket");
    w.add("dtt_topic_first_neighbour_seconds", "histogram", help, {}, hist.sum, "_sum");
    w.add("dtt_topic_first_neighbour_seconds", "histogram", help, {},
          static_cast<double>(hist.count), "_count");
  }

  // HTTP server and daemon.
  if (p.server_stats) {
    auto s = p.server_stats();
    w.counter("dtt_http_requests_total", "HTTP requests read", static_cast<double>(s.requests));
    const char* refused = "HTTP requests and connections refused by reason";
    w.counter("dtt_http_refused_total", refused, static_cast<double>(s.bad_requests),
              {{"reason", "bad_request"}});
    w.counter("dtt_http_refused_total", refused, static_cast<double>(s.unauthorized),
              {{"reason", "unauthorized"}});
    w.counter("dtt_http_refused_total", refused, static_cast<double>(s.timeouts),
              {{"reason", "timeout"}});
    w.counter("dtt_http_refused_total", refused, static_cast<double>(s.refused_connections),
              {{"reason", "connection_limit"}});
    w.counter("dtt_http_refused_total", refused, static_cast<double>(p.jobs_refused.load()),
              {{"reason", "worker_busy"}});
    w.gauge("dtt_http_connections", "open HTTP connections by kind",
            static_cast<double>(s.connections), {{"kind", "http"}});
    w.gauge("dtt_http_connections", "open HTTP connections by kind",
            static_cast<double>(s.websockets), {{"kind", "websocket"}});
    w.counter("dtt_http_websocket_dropped_messages_total",
              "WebSocket event messages dropped on a full queue",
              static_cast<double>(s.ws_dropped));
  }
  if (p.member) {
    auto ms = p.member->members();
    w.gauge("dtt_cluster_members", "live members of [dttd.cluster], this daemon included",
            ms ? static_cast<double>(ms->size()) : 0, {{"cluster", p.cluster_name}});
  }
  auto& ds = *p.stats;
  w.counter("dtt_daemon_events_printed_total", "event lines written on stdout",
            static_cast<double>(ds.events_printed.load()));
  w.counter("dtt_daemon_errors_total", "dttd lines dropped by reason",
            static_cast<double>(ds.event_errors.load()), {{"reason", "event"}});
  w.counter("dtt_daemon_errors_total", "dttd lines dropped by reason",
            static_cast<double>(ds.input_errors.load()), {{"reason", "input"}});
  w.counter("dtt_daemon_errors_total", "dttd lines dropped by reason",
            static_cast<double>(ds.broadcast_failures.load()), {{"reason", "broadcast"}});

  auto proc = read_process();
  w.counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
            proc.cpu_seconds);
  w.gauge("process_resident_memory_bytes", "Resident memory size in bytes.", proc.rss_bytes);
  w.gauge("process_open_fds", "Number of open file descriptors.", proc.open_fds);
  w.gauge("process_max_fds", "Maximum number of open file descriptors.", proc.max_fds);
  w.gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
          proc.start_time);
  return w.text();
}

std::string service::status_json() {
  auto& p = *impl_;
  nlohmann::json j;
  j["version"] = p.info.version;
  j["id"] = to_hex(p.rt->id());
  j["uptime_seconds"] =
    std::chrono::duration_cast<std::chrono::seconds>(sys_clock::now() - p.started).count();
  auto addrs = nlohmann::json::array();
  if (auto a = p.rt->local_addresses())
    for (auto& x : *a)
      addrs.push_back(to_string(x));
  j["listening"] = addrs;
  // Issue 15: what the DHT's responders see and what the router mapped.
  auto reach = p.rt->reachability();
  auto maps = nlohmann::json::array();
  for (auto& m : reach.mappings) {
    maps.push_back({{"protocol", m.protocol}, {"internal_port", m.internal_port},
                    {"external", m.external.ip + ":" + std::to_string(m.external.port)},
                    {"method", m.method}, {"lease_seconds", m.lease_seconds}});
  }
  auto holes = nlohmann::json::array();
  for (auto& h : reach.pinholes)
    holes.push_back({{"protocol", h.protocol}, {"address", to_string(h.address)},
                     {"method", h.method}, {"lease_seconds", h.lease_seconds}});
  if (p.info.advertise.empty()) {
    auto adv = nlohmann::json::array();
    if (auto a = p.rt->advertised_addresses())
      for (auto& x : *a)
        adv.push_back(to_string(x));
    j["advertised"] = adv;
  } else {
    j["advertised"] = p.info.advertise;
  }
  j["reachability"] = {{"external_ip", reach.external_ip},
                       {"dht_external_port", reach.dht_external_port},
                       {"port_mapping", reach.port_mapping},
                       {"gateway", reach.gateway},
                       {"mappings", maps},
                       {"pinholes", holes},
                       {"last_error", reach.last_error},
                       {"mapped", reach.mapped},
                       {"renewed", reach.renewed},
                       {"failed", reach.failed},
                       {"removed", reach.removed}};
  nlohmann::json dht = nlohmann::json::object();
  if (auto d = p.rt->dht_stats())
    for (auto key : {"table_size", "stored_items", "responses_in", "timeouts", "queries_out",
                     "in_flight"})
      if (auto it = d->find(key); it != d->end())
        dht[key] = it->second;
  j["dht"] = dht;
  std::map<std::string, uint64_t> gossip;
  if (auto g = p.rt->gossip_stats())
    gossip = std::move(*g);
  std::vector<impl::topic_entry> entries;
  {
    std::lock_guard<std::mutex> guard(p.mu);
    for (auto& [hex, e] : p.topics)
      entries.push_back(e);
  }
  auto topics = nlohmann::json::array();
  auto now = steady_ms();
  for (auto& e : entries) {
    nlohmann::json t{{"id", e.hex}, {"name", e.name}, {"configured", e.configured}};
    auto joined_at = e.fan->joined_at_ms.load();
    auto nbrs = e.handle.neighbors();
    bool has = nbrs && !nbrs->empty();
    t["state"] = has ? "joined" : (joined_at >= 0 ? "isolated" : "bootstrapping");
    t["joined_after_seconds"] =
      joined_at >= 0 ? nlohmann::json(static_cast<double>(joined_at - e.added_ms) / 1000.0)
                     : nlohmann::json(nullptr);
    t["since_join_seconds"] = static_cast<double>(now - e.added_ms) / 1000.0;
    auto prefix = "topic/" + e.hex + "/";
    auto list = nlohmann::json::array();
    if (nbrs)
      for (auto& n : *nbrs)
        list.push_back(neighbor_json(gossip, prefix, to_hex(n)));
    t["neighbors"] = list;
    auto get = [&](const char* k) -> uint64_t {
      auto it = gossip.find(prefix + k);
      return it == gossip.end() ? 0 : it->second;
    };
    t["passive_view_size"] = get("passive");
    t["send_backlog_messages"] = get("backlog_messages");
    t["last_bootstrap"] = last_bootstrap_json(e.handle.stats());
    topics.push_back(std::move(t));
  }
  j["topics"] = topics;
  if (p.member) {
    nlohmann::json c{{"name", p.cluster_name}, {"port", p.member->port()},
                     {"id", to_hex(p.member->id())}};
    auto members = nlohmann::json::array();
    if (auto ms = p.member->members()) {
      for (auto& m : *ms) {
        auto addrs = nlohmann::json::array();
        for (auto& a : m.addresses)
          addrs.push_back(to_string(a));
        members.push_back({{"id", to_hex(m.id)}, {"incarnation", m.incarnation},
                           {"node", m.node}, {"addresses", addrs}, {"names", m.names},
                           {"self", m.self}});
      }
    } else {
      c["error"] = ms.err().message();
    }
    c["members"] = members;
    j["cluster"] = c;
  }
  return j.dump();
}

namespace {

http::response text(unsigned status, std::string body) {
  http::response r;
  r.status = status;
  r.body = std::move(body) + "\n";
  return r;
}

http::response json(unsigned status, const nlohmann::json& body) {
  http::response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = body.dump() + "\n";
  return r;
}

// "/v1/topics/<64 hex>[/rest]" -> {hex, rest}; nullopt when it does not fit.
std::optional<std::pair<std::string, std::string>> topic_path(const std::string& path) {
  const std::string prefix = "/v1/topics/";
  if (path.compare(0, prefix.size(), prefix) != 0)
    return std::nullopt;
  auto rest = path.substr(prefix.size());
  auto slash = rest.find('/');
  auto hex = rest.substr(0, slash);
  if (hex.size() != 64 || hex.find_first_not_of("0123456789abcdef") != std::string::npos)
    return std::nullopt;
  return std::make_pair(hex, slash == std::string::npos ? "" : rest.substr(slash));
}

} // namespace

http::handlers service::handlers(std::function<http::server_stats()> server_stats) {
  impl_->server_stats = std::move(server_stats);
  std::weak_ptr<impl> weak = impl_;
  service* self = this;
  http::handlers h;
  h.on_request = [weak, self](http::request req, http::responder reply) {
    auto p = weak.lock();
    if (!p)
      return reply(text(503, "stopping"));
    auto path = req.target.substr(0, req.target.find('?'));
    auto job = [p, self, req = std::move(req), path, reply]() mutable {
      auto& m = req.method;
      if (path == "/") {
        if (m != "GET")
          return reply(text(405, "GET only"));
        http::response r;
        r.content_type = "text/html; charset=utf-8";
        r.body = live_page_html;
        return reply(std::move(r));
      }
      if (path == "/metrics") {
        if (m != "GET")
          return reply(text(405, "GET only"));
        http::response r;
        r.content_type = "text/plain; version=0.0.4; charset=utf-8";
        r.body = self->metrics();
        return reply(std::move(r));
      }
      if (path == "/status") {
        if (m != "GET")
          return reply(text(405, "GET only"));
        http::response r;
        r.content_type = "application/json";
        r.body = self->status_json() + "\n";
        return reply(std::move(r));
      }
      if (path == "/healthz") {
        bool ok = self->healthy();
        return reply(text(ok ? 200 : 503, ok ? "ok" : "joining"));
      }
      if (path == "/v1/topics") {
        if (m == "GET") {
          auto list = nlohmann::json::array();
          std::lock_guard<std::mutex> guard(p->mu);
          for (auto& [hex, e] : p->topics)
            list.push_back({{"id", hex}, {"name", e.name}, {"configured", e.configured}});
          return reply(json(200, list));
        }
        if (m != "POST")
          return reply(text(405, "GET or POST"));
        auto body = nlohmann::json::parse(req.body, nullptr, false);
        if (body.is_discarded() || !body.is_object() || !body.contains("name")
            || !body.contains("secret") || !body["name"].is_string()
            || !body["secret"].is_string())
          return reply(text(400, R"(expected {"name": "...", "secret": "..."})"));
        auto name = body["name"].get<std::string>();
        auto secret = body["secret"].get<std::string>();
        if (name.empty() || name.size() > 1024 || secret.empty() || secret.size() > 1024)
          return reply(text(400, "name and secret: 1 to 1024 bytes"));
        {
          std::lock_guard<std::mutex> guard(p->mu);
          if (p->topics.size() >= p->info.max_topics)
            return reply(text(403, "topic limit reached"));
        }
        auto t = p->rt->join_no_wait(name, secret, p->info.topic_config);
        auto id = t.id();
        auto hex = to_hex(id);
        if (p->find(hex))
          return reply(json(200, {{"id", hex}, {"name", name}, {"existing", true}}));
        self->add_topic(name, std::move(t), false);
        auto r = json(201, {{"id", hex}, {"name", name}});
        r.headers.emplace_back("Location", "/v1/topics/" + hex);
        return reply(std::move(r));
      }
      auto tp = topic_path(path);
      if (!tp)
        return reply(text(404, "not found"));
      auto entry = p->find(tp->first);
      if (!entry)
        return reply(text(404, "no such topic"));
      if (tp->second.empty()) {
        if (m == "DELETE") {
          caf::actor fan;
          {
            std::lock_guard<std::mutex> guard(p->mu);
            auto it = p->topics.find(tp->first);
            if (it != p->topics.end()) {
              fan = it->second.fan_actor;
              std::lock_guard<std::mutex> g2(it->second.fan->mu);
              for (auto& ws : it->second.fan->sockets)
                ws->close();
              it->second.fan->sockets.clear();
              p->topics.erase(it);
            }
          }
          if (fan)
            caf::anon_send_exit(fan, caf::exit_reason::user_shutdown);
          entry.reset(); // the last handle: the topic stops
          http::response r;
          r.status = 204;
          return reply(std::move(r));
        }
        if (m == "GET")
          return reply(json(200, {{"id", entry->hex}, {"name", entry->name}}));
        return reply(text(405, "GET or DELETE"));
      }
      if (tp->second == "/messages") {
        if (m != "POST")
          return reply(text(405, "POST only"));
        auto st = entry->handle.broadcast(bytes(req.body.begin(), req.body.end()),
                                          std::chrono::milliseconds(0));
        if (st)
          return reply(json(202, {{"ok", true}}));
        switch (st.err().code) {
          case errc::busy: {
            auto r = text(429, "busy: a peer's send queue is half full; retry later");
            r.headers.emplace_back("Retry-After", "1");
            return reply(std::move(r));
          }
          case errc::too_large: return reply(text(413, st.err().message()));
          case errc::closed: return reply(text(410, st.err().message()));
          default: return reply(text(500, st.err().message()));
        }
      }
      if (tp->second == "/peers") {
        // An operator's join: {"peers": ["<64 hex endpoint id>", ...]}, at most 16. The topic
        // resolves their addresses through the DHT and dials them (or asks a common peer to
        // have them dial back).
        if (m != "POST")
          return reply(text(405, "POST only"));
        auto body = nlohmann::json::parse(req.body, nullptr, false);
        if (body.is_discarded() || !body.is_object() || !body.contains("peers")
            || !body["peers"].is_array())
          return reply(text(400, "expected {\"peers\": [\"<64 hex endpoint id>\", ...]}"));
        if (body["peers"].empty() || body["peers"].size() > 16)
          return reply(text(400, "1 to 16 peers per request"));
        std::vector<endpoint_id> ids;
        for (auto& v : body["peers"]) {
          auto id = v.is_string() ? endpoint_id_from_hex(v.get<std::string>()) : std::nullopt;
          if (!id)
            return reply(text(400, "a peer is not 64 hex digits"));
          ids.push_back(*id);
        }
        auto st = entry->handle.join_peers(ids);
        if (!st) {
          auto code = st.err().code;
          return reply(text(code == errc::closed ? 410 : code == errc::refused ? 422 : 500,
                            st.err().message()));
        }
        return reply(json(202, {{"ok", true}, {"peers", ids.size()}}));
      }
      if (tp->second == "/events")
        return reply(text(426, "a WebSocket upgrade is required"));
      return reply(text(404, "not found"));
    };
    if (!p->enqueue(std::move(job))) {
      ++p->jobs_refused;
      auto r = text(503, "busy");
      r.headers.emplace_back("Retry-After", "1");
      reply(std::move(r));
    }
  };
  h.on_upgrade = [weak](const http::request& req) {
    auto p = weak.lock();
    if (!p)
      return text(503, "stopping");
    auto path = req.target.substr(0, req.target.find('?'));
    auto tp = topic_path(path);
    if (req.method != "GET" || !tp || tp->second != "/events" || !p->find(tp->first))
      return text(404, "no such event stream");
    http::response r;
    r.status = 101;
    return r;
  };
  h.on_open = [weak](const http::request& req,
                     std::shared_ptr<http::websocket> ws) -> std::function<void()> {
    auto p = weak.lock();
    if (!p)
      return {};
    auto path = req.target.substr(0, req.target.find('?'));
    auto tp = topic_path(path);
    auto entry = tp ? p->find(tp->first) : std::nullopt;
    if (!entry) {
      ws->close();
      return {};
    }
    auto fan = entry->fan;
    auto topic_handle = caf::actor_cast<caf::actor>(entry->handle.handle());
    auto sub = caf::actor_cast<event_subscriber>(entry->fan_actor);
    bool first = false;
    {
      std::lock_guard<std::mutex> guard(fan->mu);
      first = fan->sockets.empty();
      fan->sockets.push_back(ws);
    }
    if (first)
      caf::send_as(entry->fan_actor, topic_handle, subscribe_atom::value, sub);
    std::weak_ptr<http::websocket> wws = ws;
    return [fan, wws, topic_handle, sub, fan_actor = entry->fan_actor] {
      bool last = false;
      {
        std::lock_guard<std::mutex> guard(fan->mu);
        auto w = wws.lock();
        auto& v = fan->sockets;
        v.erase(std::remove_if(v.begin(), v.end(),
                               [&](auto& s) { return s == w || !s->open(); }),
                v.end());
        last = v.empty();
      }
      if (last)
        caf::anon_send(topic_handle, unsubscribe_atom::value, sub);
    };
  };
  return h;
}

} // namespace dtt
