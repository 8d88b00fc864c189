// dttd: runs one dtt node from a CAF INI config file (and --key=value flags), joins the
// configured topic, prints every event as one JSON line on stdout and broadcasts every line it
// reads on stdin. Stops on SIGINT/SIGTERM (within about a second, whatever stdin does; a second
// signal exits at once) or at the end of stdin (with --dttd.exit-on-eof). SIGHUP reopens the
// log file and applies the config file's log-level again.
//
// Exit codes: 0 clean stop, 1 the node could not start (e.g. a port in use), 2 configuration
// (bad file or flag, bad key file, no bootstrap node answering), 128 + signal number when a
// second SIGINT/SIGTERM cut the stop short.
#include "dtt/all.hpp"
#include "app/dttd/daemon_stats.hpp"
#include "app/dttd/http_server.hpp"
#include "app/dttd/service.hpp"
#include "app/dttd/line_reader.hpp"
#include "app/dttd/log_file.hpp"
#include "config/daemon_options.hpp"

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <sys/stat.h>
#include <poll.h>
#include <unistd.h>

namespace {

using namespace dtt;
using clock_type = std::chrono::steady_clock;

std::atomic<bool> stop_requested{false};
std::atomic<bool> reload_requested{false};
std::atomic<int> stop_signal{0};
/// False when dttd was started with fd 0 closed (its stdin then counts as ended).
bool stdin_open = true;
/// The largest `[dttd] clock-offset`, in seconds (a day: beyond it the setting is a mistake).
constexpr int64_t max_clock_offset = 86400;

/// Write end of the main thread's wake-up pipe (the signal handler and the input thread write a
/// byte to it; the main thread sleeps in poll() on the read end).
int wake_fd = -1;

/// How long a stop may take before dttd exits anyway (the stop itself takes ~0.2 s: topics,
/// then the DHT and gossip actors; a stdout nobody reads could block the event thread).
constexpr auto stop_deadline = std::chrono::seconds(5);

/// Longest stdin line kept: 16 times the default max message size (PROTOCOL.md §8.2: 4096);
/// a longer line is dropped (a broadcast of it would be refused anyway).
constexpr size_t max_input_line = 16 * 4096;

void wake_main() noexcept {
  char c = 0;
  if (wake_fd >= 0)
    (void)!::write(wake_fd, &c, 1); // non-blocking: a full pipe already wakes the reader
}

void on_stop_signal(int sig) {
  int saved = errno;
  if (stop_requested.exchange(true))
    ::_exit(128 + sig); // the second signal: the operator does not want to wait
  stop_signal = sig;
  wake_main();
  errno = saved;
}

void on_hangup(int) {
  int saved = errno;
  reload_requested = true;
  wake_main();
  errno = saved;
}

void install_signal_handlers() {
  struct sigaction sa {};
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sa.sa_handler = on_stop_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sa.sa_handler = on_hangup;
  sigaction(SIGHUP, &sa, nullptr);
}

/// A closed fd 0, 1 or 2 gets /dev/null, so that no pipe or socket opened later takes its
/// number (reading "stdin" would then read our own wake-up pipe). Returns false when fd 0 was
/// closed (dttd then treats stdin as ended).
bool ensure_standard_fds() {
  bool stdin_open = true;
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) != -1 || errno != EBADF)
      continue;
    if (fd == 0)
      stdin_open = false;
    int n = ::open("/dev/null", O_RDWR);
    if (n >= 0 && n != fd) { // cannot happen (lowest free number), but never leak it
      ::dup2(n, fd);
      ::close(n);
    }
  }
  return stdin_open;
}

const auto dlog = log::in("dttd");

/// One line on stderr, as every refusal to start is written.
int fail(const std::string& line, int code = 2) {
  std::cerr << "dttd: " << line << std::endl;
  return code;
}

/// The JSON line of one event: `content` when the bytes are UTF-8, `content_b64` otherwise
/// (nlohmann::json throws on invalid UTF-8 when dumping; a peer decides the bytes).
std::string event_line(const event& ev, daemon_stats& stats) {
  nlohmann::json j{{"event", to_string(ev.k)}};
  if (ev.k == event::kind::lagged)
    j["dropped"] = ev.lagged; // events lost because stdout was read too slowly
  else
    j["peer"] = to_hex(ev.peer);
  if (ev.k == event::kind::received) {
    if (is_utf8(ev.content)) {
      j["content"] = std::string(ev.content.begin(), ev.content.end());
    } else {
      j["content_b64"] = to_base64(ev.content);
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
  bool version = false;
  bool help = false;
  caf::actor_system_config::string_list caf_args;
};

command_line split_args(int argc, char** argv) {
  command_line c;
  const std::string cf = "--config-file=";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--version") {
      c.version = true;
    } else if (a == "--help" || a == "-h") {
      c.help = true;
    } else if (a == "--caf-help") {
      c.caf_args.push_back("--help"); // CAF's full option list
    } else if (a == "--dump-config") {
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
  bootstrap_watch(runtime& rt, duration timeout)
    : rt_(&rt), timeout_(timeout), start_(clock_type::now()) {}

  /// Checks at most every 250 ms; answered() is true once any node has answered.
  void poll() {
    if (answered_ || timeout_.count() == 0 || clock_type::now() < next_)
      return;
    next_ = clock_type::now() + std::chrono::milliseconds(250);
    if (auto s = rt_->dht_stats()) {
      auto it = s->find("responses_in");
      answered_ = it != s->end() && it->second > 0;
    }
    if (answered_)
      dlog.info("DHT: a bootstrap node answered after {} ms",
                std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now()
                                                                      - start_)
                  .count());
  }
  bool answered() const noexcept { return answered_ || timeout_.count() == 0; }
  bool expired() const noexcept { return !answered() && clock_type::now() - start_ >= timeout_; }

private:
  runtime* rt_;
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

/// The log threshold: DTT_LOG wins over [dttd] log-level; either must be a level name.
result<log::level> log_level_of(const daemon_settings& set) {
  auto env_level = log::level_from_env();
  if (!env_level)
    return env_level.err();
  if (std::getenv("DTT_LOG") != nullptr || set.log_level.empty())
    return *env_level;
  auto l = log::parse_level(set.log_level);
  if (!l)
    return error{errc::invalid_argument, "dttd.log-level: \"" + set.log_level
                                           + "\" is not a log level (debug, info, warn, error, off)"};
  return *l;
}

/// SIGHUP: reopens the log file and applies the config file's log-level again (DTT_LOG and
/// command-line flags still win). Nothing else is reloaded: every other key needs a restart.
void reload(const command_line& cl, std::optional<log_file>& logs) {
  if (logs) {
    if (auto st = logs->reopen(); !st)
      dlog.warn("SIGHUP: {} (still writing to the old file)", st.err().what);
  }
  auto text = read_config_file(cl);
  if (!text) {
    dlog.warn("SIGHUP: {}; log level unchanged", text.err().what);
    return;
  }
  if (auto st = validate_daemon_config(*text, cl.config_file); !st) {
    dlog.warn("SIGHUP: {}; log level unchanged", st.err().what);
    return;
  }
  daemon_config cfg;
  std::istringstream ini(*text);
  if (auto err = cfg.parse(cl.caf_args, ini)) {
    dlog.warn("SIGHUP: bad configuration; log level unchanged");
    return;
  }
  auto level = log_level_of(read_daemon_settings(cfg));
  if (!level) {
    dlog.warn("SIGHUP: {}; log level unchanged", level.err().what);
    return;
  }
  // Said before the new level applies, so that the line is written at the old one.
  dlog.info("SIGHUP: log {}, level {}", logs ? "file " + logs->path() + " reopened" : "on stderr",
            log::to_string(*level));
  log::set_threshold(*level);
}

/// Ends the process if a stop takes longer than stop_deadline (cancelled when it completes).
class stop_watchdog {
public:
  stop_watchdog()
    : thread_([this] {
        std::unique_lock<std::mutex> g(m_);
        if (!cv_.wait_for(g, stop_deadline, [this] { return done_; })) {
          // The line is written from another thread: a log that blocks (a full stderr) may be
          // what holds the stop up, and must not hold up the exit too.
          std::thread([] {
            dlog.error("stop took longer than {} s: exiting without finishing it",
                       stop_deadline.count());
          }).detach();
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
          ::_exit(1);
        }
      }) {}
  ~stop_watchdog() {
    {
      std::lock_guard<std::mutex> g(m_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

private:
  std::mutex m_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

int run(int argc, char** argv) {
  auto cl = split_args(argc, argv);
  if (cl.version) {
    std::cout << "dttd " << DTT_VERSION << std::endl;
    return 0;
  }
  if (cl.help) {
    std::cout << daemon_help() << std::flush;
    return 0;
  }
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
  auto level = log_level_of(set);
  if (!level)
    return fail(level.err().what);
  log::set_threshold(*level);

  if (cl.dump_config) {
    std::cout << dump_config(cfg) << std::flush;
    return 0;
  }
  if (set.secret.empty())
    return fail("dttd.secret is required");
  for (auto& b : set.dht_bootstrap) // flags are not in the file the validator read
    if (auto what = check_host_port(b); !what.empty())
      return fail("dttd.dht.bootstrap: \"" + b + "\" " + what);
  for (size_t i = 0; i < set.extra_topics.size(); ++i) {
    auto& x = set.extra_topics[i];
    if (!x.name.empty() && x.secret.empty())
      return fail("dttd.topic" + std::to_string(i + 2) + ".secret is required with a name");
    if (x.name.empty() && !x.secret.empty())
      return fail("dttd.topic" + std::to_string(i + 2) + ".name is required with a secret");
  }
  if (!set.cluster_name.empty() && set.cluster_secret.empty())
    return fail("dttd.cluster.secret is required with a name");
  if (set.cluster_name.empty() && !set.cluster_secret.empty())
    return fail("dttd.cluster.name is required with a secret");
  std::string cluster_dir = set.cluster_dir;
  if (!set.cluster_name.empty() && cluster_dir.empty()) {
    if (set.state_dir.empty())
      return fail("dttd.cluster needs a directory for its TLS credentials: set dttd.cluster.dir "
                  "or dttd.state-dir");
    cluster_dir = set.state_dir + "/cluster";
    // The state directory is otherwise created on the first peer-cache write; the cluster's
    // credentials go under it now.
    if (::mkdir(set.state_dir.c_str(), 0700) != 0 && errno != EEXIST)
      return fail("dttd.state-dir: cannot create " + set.state_dir + ": " + std::strerror(errno));
  }
  if (set.http_enable && !http::is_loopback(set.http_bind) && set.http_token.empty())
    return fail("dttd.http.bind: \"" + set.http_bind
                + "\" is not a loopback address: set dttd.http.token (clients then send "
                  "Authorization: Bearer <token>)");
  auto key = node_key::load_or_create(set.key_file);
  if (!key)
    return fail(key.err().what);
  auto tracker_cfg = load_config(cfg);
  if (set.clock_offset < -max_clock_offset || set.clock_offset > max_clock_offset)
    return fail("dttd.clock-offset: " + std::to_string(set.clock_offset)
                + " is out of range (-86400..86400 seconds)");
  std::optional<log_file> logs;
  if (!set.log_file.empty()) {
    auto f = log_file::open(set.log_file);
    if (!f)
      return fail(f.err().what);
    logs.emplace(std::move(*f));
  }
  // Two pipes: `wake` (the main thread sleeps on it; drained) and `stop` (written once when the
  // stop begins, never drained, so that the input thread sees it whenever it looks).
  int wake_fds[2], stop_fds[2];
  if (::pipe2(wake_fds, O_NONBLOCK | O_CLOEXEC) != 0 || ::pipe2(stop_fds, O_CLOEXEC) != 0)
    return fail(std::string("cannot create a pipe: ") + std::strerror(errno), 1);
  wake_fd = wake_fds[1];
  install_signal_handlers();
  if (set.clock_offset != 0)
    dlog.info("clock offset {} s: minutes and record times use the system clock {} {} s",
              set.clock_offset, set.clock_offset > 0 ? "plus" : "minus",
              std::abs(set.clock_offset));

  // A cluster member's middleman needs CAF's openssl module and its credentials before the
  // actor system exists (include/dtt/cluster.hpp).
  if (!set.cluster_name.empty())
    if (auto st = prepare_cluster(cfg, set.cluster_name, set.cluster_secret, cluster_dir); !st)
      return fail("dttd.cluster: " + st.err().message());
  std::optional<stop_watchdog> watchdog; // destroyed after the actor system, so it covers it
  caf::actor_system sys{cfg};
  options ro;
  ro.dht.bind = set.dht_bind;
  ro.dht.bind6 = set.dht_bind6;
  ro.dht.port = set.dht_port;
  ro.dht.bootstrap = set.dht_bootstrap;
  ro.dht.server = set.dht_server;
  ro.nat.port_mapping = set.port_mapping;
  ro.nat.hole_punching = set.hole_punching;
  ro.nat.relay = set.relay;
  ro.nat.relay_for_others = set.relay_for_others;
  ro.state_dir = set.state_dir;
  // The routing-table cache (issue 13: on by default with a state dir): a restarted daemon
  // starts from the nodes it knew instead of only its bootstrap routers.
  if (!set.state_dir.empty())
    ro.dht.routing_table_file = set.state_dir + "/dht-routing-table";
  ro.clock_offset = std::chrono::seconds(set.clock_offset);
  ro.gossip.bind = set.gossip_bind;
  ro.gossip.bind6 = set.gossip_bind6;
  ro.gossip.port = set.gossip_port;
  ro.gossip.keepalive_interval = set.keepalive_interval;
  ro.gossip.idle_timeout = set.idle_timeout;
  if (set.active_view < static_cast<int64_t>(min_active_view)
      || set.active_view > static_cast<int64_t>(max_active_view))
    return fail("dttd.gossip.active-view: " + std::to_string(set.active_view) + " is not "
                + std::to_string(min_active_view) + " to " + std::to_string(max_active_view));
  ro.gossip.active_view = static_cast<size_t>(set.active_view);
  if (!set.advertise.empty()) {
    std::string addrs_text;
    for (auto& a : set.advertise)
      addrs_text += (addrs_text.empty() ? "" : " ") + a;
    auto addrs = parse_addresses(addrs_text);
    if (!addrs)
      return fail("dttd.gossip.advertise: " + addrs.err().message());
    ro.gossip.advertise = std::move(*addrs);
  }
  auto bootstrap = ro.dht.bootstrap.empty() ? mainline_routers() : ro.dht.bootstrap;
  if (set.dht_bootstrap.empty())
    dlog.warn("no [dttd.dht] bootstrap configured: joining the public mainline DHT through {}",
              joined(bootstrap));
  dlog.info("DHT on {}:{}{} ({}), bootstrapping from {} address(es); gossip on {}:{}{}",
            ro.dht.bind, ro.dht.port, set.dht_bind6.empty() ? "" : " and [" + set.dht_bind6 + "]",
            ro.dht.server ? "server" : "client", bootstrap.size(), set.gossip_bind,
            set.gossip_port, set.gossip_bind6.empty() ? "" : " and [" + set.gossip_bind6 + "]");
  auto rt = runtime::start(sys, *key, ro);
  if (!rt)
    return fail(rt.err().message(), 1);
  auto t = std::make_unique<topic>((*rt)->join_no_wait(set.topic, set.secret, tracker_cfg));
  // More topics from [dttd.topicN]: their events go to the HTTP API's WebSockets (stdout
  // carries the [dttd] topic's only, as before).
  std::vector<std::pair<std::string, topic>> extra;
  for (auto& x : set.extra_topics)
    if (!x.name.empty())
      extra.emplace_back(x.name, (*rt)->join_no_wait(x.name, x.secret, tracker_cfg));
  // [dttd.cluster]: a member that publishes nothing; /status and /metrics show the cluster.
  std::unique_ptr<cluster> member;
  if (!set.cluster_name.empty()) {
    cluster_options co;
    co.bind = set.cluster_bind;
    co.port = set.cluster_port;
    co.topic = cluster_options::topic_from(tracker_cfg); // the cluster's first merge tick
    auto c = cluster::join(**rt, set.cluster_name, set.cluster_secret, co);
    if (!c)
      return fail("dttd.cluster: " + c.err().message(), 1);
    member = std::move(*c);
    dlog.info("cluster \"{}\": member {} with its middleman on {}:{}", set.cluster_name,
              to_hex(member->id()).substr(0, 12), set.cluster_bind, member->port());
  }
  daemon_stats stats;
  // The HTTP server runs on the runtime's io thread (DESIGN.md: one event loop for sockets);
  // what blocks goes to the service's worker thread.
  std::unique_ptr<service> svc;
  std::unique_ptr<http::server> web;
  std::atomic<http::server*> web_ptr{nullptr}; // read by /metrics on the service's worker
  nlohmann::json started{{"event", "started"}, {"id", to_hex((*rt)->id())}};
  if (set.http_enable) {
    service_info info;
    info.version = DTT_VERSION;
    info.advertise = set.advertise;
    info.topic_config = tracker_cfg;
    svc = std::make_unique<service>(sys, **rt, stats, std::move(info));
    svc->add_topic(set.topic, *t, true);
    if (member)
      svc->set_cluster(set.cluster_name, member.get());
    for (auto& [name, handle] : extra)
      svc->add_topic(name, handle, true);
    http::server_options so;
    so.bind = set.http_bind;
    so.port = set.http_port;
    so.token = set.http_token;
    so.public_paths = {"/"}; // the live page: it reads the token from its URL's #token=...
    so.max_connections = set.http_max_connections;
    auto h = svc->handlers([&web_ptr] {
      auto* w = web_ptr.load();
      return w ? w->stats() : http::server_stats{};
    });
    auto s = http::server::start((*rt)->io_context(), so, std::move(h));
    if (!s)
      return fail(s.err().message(), 1);
    web = std::move(*s);
    web_ptr = web.get();
    auto a = web->local_address();
    started["http"] = to_string(a);
  }
  if (member)
    started["cluster_port"] = member->port();
  std::cout << started.dump() << std::endl;
  std::atomic<bool> input_done{!stdin_open};
  std::thread input([&] {
    if (!stdin_open)
      return;
    line_reader lines(
      max_input_line,
      [&](std::string&& line) {
        if (stop_requested)
          return;
        try {
          // Back-pressure: the broadcast waits for room (250 ms at a time, so that a stop
          // request is seen soon) instead of dropping the line; reading stdin pauses meanwhile.
          auto wait = std::chrono::milliseconds(250);
          auto st = t->broadcast(bytes(line.begin(), line.end()), wait);
          while (!st && st.err().code == errc::busy && !stop_requested)
            st = t->broadcast(bytes(line.begin(), line.end()), wait);
          if (!st && !stop_requested) {
            ++stats.broadcast_failures;
            log::warn_limited("dttd.broadcast", "broadcast failed: {}", st.err().message());
          }
        } catch (const std::exception& e) {
          ++stats.input_errors;
          log::warn_limited("dttd.input_error", "input line dropped: {}", e.what());
        }
      },
      [&] {
        ++stats.input_errors;
        log::warn_limited("dttd.input_error", "input line longer than {} bytes dropped",
                          max_input_line);
      });
    if (read_lines(STDIN_FILENO, stop_fds[0], lines) == input_end::eof) {
      input_done = true;
      wake_main();
    }
  });
  // Events: one thread blocked in next() with no timeout (the gossip actor fills the topic's
  // buffer and wakes it; an idle node has no periodic request or timer for its events). It
  // ends when the topic stops (errc::closed), which the runtime's stop below causes.
  std::thread events([&stats, topic_copy = *t] () mutable {
    for (;;) {
      auto ev = topic_copy.next(std::chrono::milliseconds(0));
      if (!ev) {
        if (ev.err().code == errc::closed)
          return;
        continue;
      }
      try {
        auto line = event_line(*ev, stats);
        std::cout << line << std::endl;
        ++stats.events_printed;
      } catch (const std::exception& e) {
        ++stats.event_errors;
        log::warn_limited("dttd.event_error", "event dropped: {}", e.what());
      }
    }
  });
  bootstrap_watch watch(**rt, set.bootstrap_timeout);
  int code = 0;
  while (!stop_requested && !(set.exit_on_eof && input_done)) {
    if (reload_requested.exchange(false))
      reload(cl, logs);
    log::flush_suppressed();
    watch.poll();
    if (watch.expired()) {
      code = fail(fmt::format("no DHT bootstrap node answered within {} ms ({}); check [dttd.dht] "
                              "bootstrap and the network",
                              set.bootstrap_timeout.count(), joined(bootstrap)));
      break;
    }
    // Sleep until a signal or the end of stdin; a plain timeout (no actor message) for the
    // bootstrap watch (250 ms until a DHT node answered) and the log's suppressed-line
    // summaries (1 s).
    pollfd pfd{wake_fds[0], POLLIN, 0};
    ::poll(&pfd, 1, watch.answered() ? 1000 : 250);
    char drain[64];
    while (::read(wake_fds[0], drain, sizeof drain) > 0) {
    }
  }
  auto stop_start = clock_type::now();
  bool by_signal = stop_requested.exchange(true);
  watchdog.emplace();
  if (by_signal)
    dlog.info("stopping on {}", stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
  {
    char c = 0;
    (void)!::write(stop_fds[1], &c, 1); // the input thread returns from poll()
  }
  input.join(); // at most one 250 ms broadcast wait
  if (web)
    web->stop(); // before the service its handlers call
  svc.reset();
  member.reset(); // says goodbye to the cluster while the runtime still runs
  extra.clear();
  // Stopping the topic tells its neighbours (the gossip layer sends Disconnect when it leaves
  // the topic; the runtime waits for that before it shuts the transport). The peer cache needs
  // no flush: each write is whole and atomic (actors/peer_cache.hpp).
  t.reset();
  rt->reset(); // stops the topic: the event thread's next() returns errc::closed
  events.join();
  log::flush_suppressed();
  auto summary = stats.summary(log::suppressed_total());
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now()
                                                                    - stop_start);
  if (stats.event_errors + stats.input_errors > 0)
    dlog.warn("stopped in {} ms: {}", took.count(), summary);
  else
    dlog.info("stopped in {} ms: {}", took.count(), summary);
  std::cout << std::flush;
  return code;
}

} // namespace

int main(int argc, char** argv) {
  stdin_open = ensure_standard_fds(); // before anything opens a descriptor
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    return fail(std::string("stopped by an unexpected error: ") + e.what(), 1);
  }
}
