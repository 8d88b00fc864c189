// dttd: runs one dtt node from a CAF INI config file (and --key=value flags), joins the
// configured topic, prints every event as one JSON line on stdout and broadcasts every line it
// reads on stdin. Stops on SIGINT/SIGTERM or at the end of stdin (with --dttd.exit-on-eof).
//
// Exit codes: 0 clean stop, 1 the node could not start (e.g. a port in use), 2 configuration
// (bad file or flag, bad key file, no bootstrap node answering).
#include "actors/endpoint_record.hpp"
#include "actors/key_file.hpp"
#include "actors/log.hpp"
#include "actors/runtime.hpp"
#include "app/dttd/daemon_stats.hpp"
#include "config/daemon_options.hpp"
#include "crypto/text.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <iostream>
#include <sstream>
#include <mutex>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

namespace {

using namespace dtt;
using clock_type = std::chrono::steady_clock;

std::atomic<bool> stop_requested{false};
/// Write end of the main thread's wake-up pipe (the signal handler, the input thread and the
/// event pump write a byte to it; the main thread sleeps in poll() on the read end).
int wake_fd = -1;

void wake_main() noexcept {
  char c = 0;
  if (wake_fd >= 0)
    (void)!::write(wake_fd, &c, 1); // non-blocking: a full pipe already wakes the reader
}

void on_signal(int) {
  int saved = errno;
  stop_requested = true;
  wake_main();
  errno = saved;
}

/// Events on their way from the topic to the main thread (bounded by event_pump).
struct event_handoff {
  std::mutex mtx;
  std::deque<gossip::event> events;
  bool paused = false; ///< the queue was full: the pump waits for a wake_atom
  std::string failure; ///< why the pump stopped, if it did
};

/// Events queued for the main thread before the pump waits (the topic keeps buffering,
/// [dtt] event-buffer, and reports `lagged` past it).
constexpr size_t max_handoff_events = 256;

/// Asks the topic for one event at a time without a timeout and hands each to the main thread:
/// an idle node has no periodic request, timer or wake-up for its events (issue 12; polling
/// with next(200ms) cost 5 requests and timers per second).
void ask_next(caf::event_based_actor* self, caf::actor topic, std::shared_ptr<event_handoff> h) {
  self->request(topic, caf::infinite, next_event_atom::value, caf::timespan::max())
    .then(
      [=](gossip::event& ev) {
        bool more;
        {
          std::lock_guard<std::mutex> g(h->mtx);
          h->events.push_back(std::move(ev));
          more = h->events.size() < max_handoff_events;
          h->paused = !more;
        }
        wake_main();
        if (more)
          ask_next(self, topic, h);
      },
      [=](caf::error& e) {
        {
          std::lock_guard<std::mutex> g(h->mtx);
          h->failure = self->system().render(e);
        }
        wake_main();
        self->quit(std::move(e));
      });
}

caf::behavior event_pump(caf::event_based_actor* self, caf::actor topic,
                         std::shared_ptr<event_handoff> h) {
  ask_next(self, topic, h);
  return {
    [=](wake_atom) { ask_next(self, topic, h); }, // the main thread emptied a full queue
  };
}

const auto dlog = log::in("dttd");

/// One line on stderr, as every refusal to start is written.
int fail(const std::string& line, int code = 2) {
  std::cerr << "dttd: " << line << std::endl;
  return code;
}

std::string kind_name(gossip::event::kind k) {
  switch (k) {
    case gossip::event::kind::neighbor_up: return "neighbor_up";
    case gossip::event::kind::neighbor_down: return "neighbor_down";
    case gossip::event::kind::received: return "received";
    case gossip::event::kind::lagged: return "lagged";
  }
  return "unknown";
}

/// The JSON line of one event: `content` when the bytes are UTF-8, `content_b64` otherwise
/// (nlohmann::json throws on invalid UTF-8 when dumping; a peer decides the bytes).
std::string event_line(const gossip::event& ev, daemon_stats& stats) {
  nlohmann::json j{{"event", kind_name(ev.k)}, {"peer", to_hex(ev.peer)}};
  if (ev.k == gossip::event::kind::received) {
    byte_view content(ev.content.data(), ev.content.size());
    if (is_utf8(content)) {
      j["content"] = std::string(ev.content.begin(), ev.content.end());
    } else {
      j["content_b64"] = to_base64(content);
      ++stats.binary_messages;
    }
  }
  return j.dump();
}

/// What the command line asks of dttd itself (the rest goes to CAF).
struct command_line {
  std::string config_file = "caf-application.ini"; // CAF's default
  bool config_file_given = false;
  bool dump_config = false;
  caf::actor_system_config::string_list caf_args;
};

command_line split_args(int argc, char** argv) {
  command_line c;
  const std::string cf = "--config-file=";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--dump-config") {
      c.dump_config = true; // ours: CAF's would print the secret
    } else if (a.compare(0, cf.size(), cf) == 0) {
      c.config_file = a.substr(cf.size());
      c.config_file_given = true;
    } else {
      c.caf_args.push_back(std::move(a));
    }
  }
  return c;
}

/// CAF's error text with every command-line value replaced: CAF quotes the whole argument, and
/// a mistyped `--dttd.secret=...` must not print the secret.
std::string without_values(std::string text, const caf::actor_system_config::string_list& args) {
  for (auto& a : args) {
    auto eq = a.find('=');
    if (eq == std::string::npos)
      continue;
    auto masked = a.substr(0, eq + 1) + "<value>";
    for (auto at = text.find(a); at != std::string::npos; at = text.find(a, at + masked.size()))
      text.replace(at, a.size(), masked);
  }
  return text;
}

/// Reads the config file (bounded); "" when the default file does not exist.
result<std::string> read_config_file(const command_line& c) {
  std::ifstream in(c.config_file, std::ios::binary);
  if (!in) {
    if (!c.config_file_given)
      return std::string{};
    return error{errc::io_error, "cannot read config file " + c.config_file + ": "
                                   + std::strerror(errno)};
  }
  std::string text(max_config_file_size + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  return text;
}

/// Polls the DHT actor's counters until a node answered (true) or `timeout` passed (false).
class bootstrap_watch {
public:
  bootstrap_watch(caf::actor_system& sys, dht_actor dht, duration timeout)
    : self_(sys), dht_(std::move(dht)), timeout_(timeout), start_(clock_type::now()) {}

  /// Checks at most every 250 ms; answered() is true once any node has answered.
  void poll() {
    if (answered_ || timeout_.count() == 0 || clock_type::now() < next_)
      return;
    next_ = clock_type::now() + std::chrono::milliseconds(250);
    self_->request(dht_, std::chrono::seconds(1), dht_stats_atom::value)
      .receive(
        [&](const std::map<std::string, uint64_t>& s) {
          auto it = s.find("responses_in");
          answered_ = it != s.end() && it->second > 0;
        },
        [&](caf::error&) {});
    if (answered_)
      dlog.info("DHT: a bootstrap node answered after {} ms",
                std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now()
                                                                      - start_)
                  .count());
  }
  bool answered() const noexcept { return answered_ || timeout_.count() == 0; }
  bool expired() const noexcept { return !answered() && clock_type::now() - start_ >= timeout_; }

private:
  caf::scoped_actor self_;
  dht_actor dht_;
  duration timeout_;
  clock_type::time_point start_;
  clock_type::time_point next_{};
  bool answered_ = false;
};

std::string joined(const std::vector<std::string>& xs) {
  std::string out;
  for (auto& x : xs)
    out += (out.empty() ? "" : ", ") + x;
  return out;
}

int run(int argc, char** argv) {
  auto cl = split_args(argc, argv);
  auto text = read_config_file(cl);
  if (!text)
    return fail(text.err().what);
  if (auto st = validate_daemon_config(*text, cl.config_file); !st)
    return fail(st.err().what);
  daemon_config cfg;
  std::istringstream ini(*text);
  if (auto err = cfg.parse(cl.caf_args, ini))
    return fail("bad configuration: " + without_values(caf::to_string(err), cl.caf_args));
  if (cfg.cli_helptext_printed)
    return 0;
  auto set = read_daemon_settings(cfg);

  // Logging: DTT_LOG wins over [dttd] log-level; either must be a level name.
  auto env_level = log::level_from_env();
  if (!env_level)
    return fail(env_level.err().what);
  auto level = *env_level;
  if (std::getenv("DTT_LOG") == nullptr && !set.log_level.empty()) {
    auto l = log::parse_level(set.log_level);
    if (!l)
      return fail("dttd.log-level: \"" + set.log_level
                  + "\" is not a log level (debug, info, warn, error, off)");
    level = *l;
  }
  log::set_threshold(level);

  if (cl.dump_config) {
    std::cout << dump_config(cfg) << std::flush;
    return 0;
  }
  if (set.secret.empty())
    return fail("dttd.secret is required");
  for (auto& b : set.dht_bootstrap) // flags are not in the file the validator read
    if (auto what = check_host_port(b); !what.empty())
      return fail("dttd.dht.bootstrap: \"" + b + "\" " + what);
  auto key = load_or_create_key_file(set.key_file);
  if (!key)
    return fail(key.err().what);
  auto tracker_cfg = load_config(cfg);
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_NONBLOCK | O_CLOEXEC) != 0)
    return fail(std::string("cannot create a pipe: ") + std::strerror(errno), 1);
  wake_fd = pipe_fds[1];
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  caf::actor_system sys{cfg};
  runtime_options ro;
  ro.dht.bind_address = set.dht_bind;
  ro.dht.port = set.dht_port;
  if (!set.dht_bootstrap.empty())
    ro.dht.bootstrap = set.dht_bootstrap;
  ro.dht.read_only = !set.dht_server;
  ro.state_dir = set.state_dir;
  ro.gossip.transport.bind = {set.gossip_bind, set.gossip_port};
  if (!set.advertise.empty()) {
    std::string addrs_text; // the endpoint record's own syntax and checks
    for (auto& a : set.advertise)
      addrs_text += (addrs_text.empty() ? "" : " ") + a;
    auto addrs = decode_endpoint_record(byte_view::of(addrs_text));
    if (!addrs)
      return fail("dttd.gossip.advertise: " + addrs.err().message());
    ro.advertise = std::move(*addrs);
  }
  if (set.dht_bootstrap.empty())
    dlog.warn("no [dttd.dht] bootstrap configured: joining the public mainline DHT through {}",
              joined(ro.dht.bootstrap));
  dlog.info("DHT on {}:{} ({}), bootstrapping from {} address(es); gossip on {}:{}",
            ro.dht.bind_address, ro.dht.port, ro.dht.read_only ? "client" : "server",
            ro.dht.bootstrap.size(), set.gossip_bind, set.gossip_port);
  auto rt = runtime::start(sys, *key, ro);
  if (!rt)
    return fail(rt.err().message(), 1);
  auto& node = (*rt)->node();
  std::cout << nlohmann::json{{"event", "started"}, {"id", to_hex(node.id())}}.dump() << std::endl;
  auto t = std::make_unique<topic>(node.join_no_wait(set.topic, byte_view::of(set.secret),
                                                     tracker_cfg));
  daemon_stats stats;
  std::atomic<bool> input_done{false};
  std::thread input([&] {
    std::string line;
    while (!stop_requested && std::getline(std::cin, line)) {
      try {
        // Back-pressure (errc::busy): wait for the links to drain instead of dropping the
        // line; reading stdin pauses meanwhile.
        auto st = t->broadcast(bytes(line.begin(), line.end()));
        for (int ms = 1; !st && st.err().code == errc::busy && !stop_requested;
             ms = std::min(ms * 2, 200)) {
          std::this_thread::sleep_for(std::chrono::milliseconds(ms));
          st = t->broadcast(bytes(line.begin(), line.end()));
        }
        if (!st) {
          ++stats.broadcast_failures;
          log::warn_limited("dttd.broadcast", "broadcast failed: {}", st.err().message());
        }
      } catch (const std::exception& e) {
        ++stats.input_errors;
        log::warn_limited("dttd.input_error", "input line dropped: {}", e.what());
      }
    }
    input_done = true;
    wake_main();
  });
  bootstrap_watch watch(sys, (*rt)->dht(), set.bootstrap_timeout);
  auto handoff = std::make_shared<event_handoff>();
  auto pump = sys.spawn(event_pump, t->handle(), handoff);
  int code = 0;
  std::deque<gossip::event> batch;
  bool pump_failed = false;
  while (!stop_requested && !(set.exit_on_eof && input_done)) {
    log::flush_suppressed();
    watch.poll();
    if (watch.expired()) {
      code = fail(fmt::format("no DHT bootstrap node answered within {} ms ({}); check [dttd.dht] "
                              "bootstrap and the network",
                              set.bootstrap_timeout.count(), joined(ro.dht.bootstrap)));
      break;
    }
    bool resume = false;
    {
      std::lock_guard<std::mutex> g(handoff->mtx);
      batch.swap(handoff->events);
      resume = handoff->paused;
      handoff->paused = false;
      if (!handoff->failure.empty() && !pump_failed) {
        pump_failed = true;
        dlog.error("events stopped: {}", handoff->failure);
      }
    }
    if (resume)
      caf::anon_send(pump, wake_atom::value);
    for (auto& ev : batch) {
      try {
        auto line = event_line(ev, stats);
        std::cout << line << std::endl;
        ++stats.events_printed;
      } catch (const std::exception& e) {
        ++stats.event_errors;
        log::warn_limited("dttd.event_error", "event dropped: {}", e.what());
      }
    }
    bool had_events = !batch.empty();
    batch.clear();
    if (had_events)
      continue; // look again before sleeping: more may have come meanwhile
    // Sleep until an event, a signal or the end of stdin; a plain thread's timeout (no actor
    // message) for the bootstrap watch (250 ms until a DHT node answered) and for the log's
    // suppressed-line summaries (1 s).
    pollfd pfd{pipe_fds[0], POLLIN, 0};
    ::poll(&pfd, 1, watch.answered() ? 1000 : 250);
    char drain[64];
    while (::read(pipe_fds[0], drain, sizeof drain) > 0) {
    }
  }
  stop_requested = true;
  caf::anon_send_exit(pump, caf::exit_reason::user_shutdown);
  {
    // The pump holds a reference to the topic: let it go before the topic is dropped.
    caf::scoped_actor self{sys};
    self->wait_for(pump);
  }
  pump = nullptr;
  if (input.joinable())
    input.detach(); // blocked in getline; the process is exiting
  t.reset();
  rt->reset();
  log::flush_suppressed();
  auto summary = stats.summary(log::suppressed_total());
  if (stats.event_errors + stats.input_errors > 0)
    dlog.warn("stopped: {}", summary);
  else
    dlog.info("stopped: {}", summary);
  return code;
}

} // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    return fail(std::string("stopped by an unexpected error: ") + e.what(), 1);
  }
}
