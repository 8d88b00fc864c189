// dttd stops within 2 s of SIGTERM or SIGINT whatever its standard input does (issue 17): an
// open pipe whose writer has gone silent after a line, a closed descriptor, /dev/null, a
// terminal (a tmux pane). A second signal ends it at once; SIGHUP reopens its log file; its
// neighbour hears that it leaves (HyParView Disconnect) before the links close.
// Loopback only (a closed loopback port or an in-process loopback DHT testnet); every process
// started here is stopped here by its PID.
#include "app/daemon.hpp"
#include "dht/subprocess.hpp"
#include "dht/testnet.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A node that never finds a peer and never gives up (bootstrap-timeout 0s): it runs until told.
std::string config_text(const std::string& extra = "") {
  return "[dttd]\nsecret=\"s\"\ntopic=\"signals\"\n" + extra
         + "[dttd.dht]\nbind=\"127.0.0.1\"\nbootstrap=[\"127.0.0.1:9\"]\nbootstrap-timeout=0s\n"
           "[dttd.gossip]\nbind=\"127.0.0.1\"\n";
}

enum class stdin_kind { silent_pipe, closed, dev_null, tty };

const char* name_of(stdin_kind k) {
  switch (k) {
    case stdin_kind::silent_pipe: return "open pipe, silent writer";
    case stdin_kind::closed: return "closed";
    case stdin_kind::dev_null: return "/dev/null";
    case stdin_kind::tty: return "tty (tmux)";
  }
  return "?";
}

// Waits until `pred` holds or `timeout` passes (polling every 20 ms).
template <class Pred>
bool wait_for(Pred pred, std::chrono::milliseconds timeout) {
  auto deadline = steady::now() + timeout;
  while (steady::now() < deadline) {
    if (pred())
      return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

// One dttd with the stdin of `kind`, its stdout and stderr in files of `dir`. Forked here (all
// but tty) or run in a pane of a private tmux server (tty); the destructor kills whatever is
// left, by PID.
class daemon_under_test {
public:
  /// `stderr_fifo`: stderr goes to a FIFO that nobody reads (see block_stderr).
  daemon_under_test(const dtt::test::temp_dir& dir, stdin_kind kind,
                    const std::string& config_extra = "", bool env_log = true,
                    bool stderr_fifo = false)
    : dir_(dir), kind_(kind), env_log_(env_log) {
    auto cfg = dir.write("node.ini", config_text(config_extra));
    out_ = dir.path + "/out";
    err_ = dir.path + "/err";
    if (stderr_fifo) {
      REQUIRE(::mkfifo(err_.c_str(), 0600) == 0);
      fifo_r_ = ::open(err_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC); // so that the child's
      REQUIRE(fifo_r_ >= 0);                                            // open does not wait
    }
    if (kind == stdin_kind::tty)
      start_in_tmux(cfg);
    else
      fork_exec(cfg);
  }

  ~daemon_under_test() {
    if (pid_ > 0 && alive())
      ::kill(pid_, SIGKILL);
    reap(2s);
    if (pipe_w_ >= 0)
      ::close(pipe_w_);
    for (int fd : {fifo_r_, fifo_w_})
      if (fd >= 0)
        ::close(fd);
    if (tmux_pid_ > 0) {
      ::kill(tmux_pid_, SIGTERM);
      wait_for([&] { return ::kill(tmux_pid_, 0) != 0; }, 2s);
      ::kill(tmux_pid_, SIGKILL);
    }
  }

  pid_t pid() const { return pid_; }
  std::string out() const { return slurp(out_); }
  std::string err() const { return slurp(err_); }

  // True once dttd printed its "started" line.
  bool wait_started(std::chrono::milliseconds timeout) {
    return wait_for([&] { return out().find("\"event\":\"started\"") != std::string::npos; },
                    timeout);
  }

  // Writes to the pipe (silent_pipe only).
  void write_stdin(const std::string& s) {
    if (pipe_w_ >= 0)
      (void)!::write(pipe_w_, s.data(), s.size());
  }

  /// Fills the stderr FIFO (through a descriptor of our own, non-blocking), so that dttd's
  /// next log line blocks in write() for good: a stop that cannot finish.
  void block_stderr() {
    fifo_w_ = ::open(err_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    REQUIRE(fifo_w_ >= 0);
    std::string junk(4096, 'x');
    while (::write(fifo_w_, junk.data(), junk.size()) > 0) {
    }
  }

  bool alive() {
    if (pid_ <= 0)
      return false;
    if (forked_) {
      int st = 0;
      pid_t r = ::waitpid(pid_, &st, WNOHANG);
      if (r == pid_) {
        status_ = st;
        pid_ = -1;
        return false;
      }
      return r == 0;
    }
    // The tmux server reaps its pane's process when it gets to it: a zombie has exited.
    if (::kill(pid_, 0) != 0)
      return false;
    auto stat = slurp("/proc/" + std::to_string(pid_) + "/stat");
    auto paren = stat.rfind(')');
    return paren == std::string::npos || paren + 2 >= stat.size() || stat[paren + 2] != 'Z';
  }

  // Waits (at most `timeout`) for the process to end; true if it did.
  bool reap(std::chrono::milliseconds timeout) {
    return wait_for([&] { return !alive(); }, timeout);
  }

  // The exit status as waitpid gave it (forked processes only; -1 otherwise).
  int status() const { return status_; }

  // Sends `sig` and returns how long the process took to end (nullopt: not within `timeout`).
  std::optional<std::chrono::milliseconds> stop_time(int sig,
                                                     std::chrono::milliseconds timeout = 5s) {
    auto t0 = steady::now();
    ::kill(pid_, sig);
    if (!reap(timeout))
      return std::nullopt;
    return std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - t0);
  }

private:
  void fork_exec(const std::string& cfg) {
    int p[2] = {-1, -1};
    if (kind_ == stdin_kind::silent_pipe)
      REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
    std::string daemon = dtt::test::daemon_path();
    std::string cfg_arg = "--config-file=" + cfg;
    char* argv[] = {daemon.data(), cfg_arg.data(), nullptr};
    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent)
        ::_exit(127);
      switch (kind_) {
        case stdin_kind::silent_pipe: ::dup2(p[0], 0); break;
        case stdin_kind::closed: ::close(0); break;
        case stdin_kind::dev_null: {
          int n = ::open("/dev/null", O_RDONLY);
          ::dup2(n, 0);
          break;
        }
        case stdin_kind::tty: break;
      }
      int o = ::open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      int e = ::open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600); // a FIFO: no wait
      ::dup2(o, 1);
      ::dup2(e, 2);
      if (env_log_)
        ::setenv("DTT_LOG", "info", 1);
      else
        ::unsetenv("DTT_LOG");
      ::execv(argv[0], argv);
      ::_exit(127);
    }
    if (p[0] >= 0)
      ::close(p[0]);
    pipe_w_ = p[1];
    pid_ = pid;
    forked_ = true;
  }

  void start_in_tmux(const std::string& cfg) {
    socket_ = "dtt-test-" + std::to_string(::getpid());
    auto tmux = "tmux -L " + socket_ + " -f /dev/null ";
    // `exec`: the pane's process is dttd itself, its stdin the pane's terminal.
    auto cmd = tmux + "new-session -d -x 80 -y 24 'exec env DTT_LOG=info "
               + dtt::test::daemon_path() + " --config-file=" + cfg + " >" + out_ + " 2>" + err_
               + "'";
    REQUIRE(std::system(cmd.c_str()) == 0);
    auto read_number = [&](const std::string& format) -> pid_t {
      auto f = dir_.path + "/tmux-query";
      std::system((tmux + "display-message -p '" + format + "' >" + f + " 2>/dev/null").c_str());
      return static_cast<pid_t>(std::atol(slurp(f).c_str()));
    };
    tmux_pid_ = read_number("#{pid}");
    pid_ = read_number("#{pane_pid}");
    REQUIRE(tmux_pid_ > 0);
    REQUIRE(pid_ > 0);
    // The pane's process really reads a terminal.
    char link[256] = {};
    auto fd0 = "/proc/" + std::to_string(pid_) + "/fd/0";
    wait_for([&] { return ::readlink(fd0.c_str(), link, sizeof link - 1) > 0
                          && std::string(link).rfind("/dev/pts/", 0) == 0; }, 2s);
    REQUIRE(std::string(link).rfind("/dev/pts/", 0) == 0);
  }

  const dtt::test::temp_dir& dir_;
  stdin_kind kind_;
  bool env_log_;
  std::string out_, err_, socket_;
  pid_t pid_ = -1;
  pid_t tmux_pid_ = -1;
  int pipe_w_ = -1;
  int fifo_r_ = -1, fifo_w_ = -1;
  bool forked_ = false;
  int status_ = -1;
};

void check_stops_within_2s(stdin_kind kind, int sig) {
  dtt::test::temp_dir dir;
  daemon_under_test d(dir, kind);
  REQUIRE(d.wait_started(20s));
  if (kind == stdin_kind::silent_pipe) {
    // A line read (stdin's buffer is in use), then the writer stays silent with its end open.
    d.write_stdin("a line before the silence\n");
    std::this_thread::sleep_for(300ms);
  } else {
    std::this_thread::sleep_for(200ms);
  }
  auto took = d.stop_time(sig);
  INFO("stdin: " << std::string(name_of(kind)) << "\nstderr:\n" << d.err());
  REQUIRE(took.has_value());
  MESSAGE("dttd stop time on " << std::string(sig == SIGTERM ? "SIGTERM" : "SIGINT")
                               << ", stdin " << std::string(name_of(kind)) << ": "
                               << took->count() << " ms");
  CHECK(*took < 2s);
  if (kind != stdin_kind::tty) {
    CHECK(WIFEXITED(d.status()));
    CHECK(WEXITSTATUS(d.status()) == 0);
  }
  auto err = d.err();
  CHECK(err.find("stopping on ") != std::string::npos);
  CHECK(err.find("info dttd: stopped in ") != std::string::npos);
}

} // namespace

TEST_CASE("SIGTERM stops dttd within 2 s while its stdin pipe stays open and silent") {
  check_stops_within_2s(stdin_kind::silent_pipe, SIGTERM);
}

TEST_CASE("SIGINT stops dttd within 2 s while its stdin pipe stays open and silent") {
  check_stops_within_2s(stdin_kind::silent_pipe, SIGINT);
}

TEST_CASE("SIGTERM stops dttd within 2 s with its stdin closed") {
  check_stops_within_2s(stdin_kind::closed, SIGTERM);
}

TEST_CASE("SIGTERM stops dttd within 2 s with its stdin on /dev/null") {
  check_stops_within_2s(stdin_kind::dev_null, SIGTERM);
}

TEST_CASE("SIGTERM stops dttd within 2 s with its stdin a terminal (tmux pane)") {
  if (std::system("command -v tmux >/dev/null 2>&1") != 0) {
    MESSAGE("tmux is not installed (scripts/install-deps.sh installs it): not run");
    return;
  }
  check_stops_within_2s(stdin_kind::tty, SIGTERM);
}

TEST_CASE("a second SIGTERM ends a stop that cannot finish at once, with 128 + the signal") {
  // Its stderr is a full FIFO, so the first signal's stop blocks on its first log line; the
  // second signal ends the process. The exit code tells which ended it: 0 after a complete
  // stop, 1 from the stop deadline (5 s), 143 from the second signal.
  dtt::test::temp_dir dir;
  daemon_under_test d(dir, stdin_kind::silent_pipe, "", true, /*stderr_fifo=*/true);
  REQUIRE(d.wait_started(20s));
  d.block_stderr();
  ::kill(d.pid(), SIGTERM);
  CHECK_FALSE(d.reap(500ms)); // the stop is stuck
  auto took = d.stop_time(SIGTERM, 2s);
  REQUIRE(took.has_value());
  MESSAGE("second SIGTERM to exit: " << took->count() << " ms");
  CHECK(*took < 500ms);
  REQUIRE(WIFEXITED(d.status()));
  CHECK(WEXITSTATUS(d.status()) == 128 + SIGTERM);
}

TEST_CASE("a stop that cannot finish ends by itself after 5 s with exit code 1") {
  dtt::test::temp_dir dir;
  daemon_under_test d(dir, stdin_kind::silent_pipe, "", true, /*stderr_fifo=*/true);
  REQUIRE(d.wait_started(20s));
  d.block_stderr();
  auto took = d.stop_time(SIGTERM, 8s);
  REQUIRE(took.has_value());
  MESSAGE("stuck stop ended after " << took->count() << " ms");
  CHECK(*took >= 4500ms);
  REQUIRE(WIFEXITED(d.status()));
  CHECK(WEXITSTATUS(d.status()) == 1);
}

TEST_CASE("SIGHUP reopens the log file and applies the config file's log-level again") {
  dtt::test::temp_dir dir;
  auto log = dir.path + "/dttd.log";
  auto extra = [&](const std::string& level) {
    return "log-file=\"" + log + "\"\nlog-level=\"" + level + "\"\n";
  };
  daemon_under_test d(dir, stdin_kind::silent_pipe, extra("info"), /*env_log=*/false);
  REQUIRE(d.wait_started(20s));
  REQUIRE(wait_for([&] { return slurp(log).find(" info dttd: DHT on ") != std::string::npos; },
                   5s));
  // logrotate's way: move the file, then SIGHUP; the next lines go to a new file at the path.
  auto rotated = log + ".1";
  REQUIRE(std::rename(log.c_str(), rotated.c_str()) == 0);
  dir.write("node.ini", config_text(extra("warn")));
  ::kill(d.pid(), SIGHUP);
  CHECK(wait_for([&] { return slurp(log).find("SIGHUP: log file " + log + " reopened, level warn")
                              != std::string::npos; },
                 5s));
  struct stat st {};
  REQUIRE(::stat(log.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  CHECK(slurp(rotated).find("SIGHUP") == std::string::npos);
  auto took = d.stop_time(SIGTERM);
  REQUIRE(took.has_value());
  // The new level holds: the info line of the stop is not written.
  CHECK(slurp(log).find("stopped in ") == std::string::npos);
  CHECK(d.err().empty()); // every line went to the file
}

TEST_CASE("a dttd stopped by SIGTERM tells its neighbour it leaves before its links close") {
  // Two dttd on a loopback DHT testnet. When B stops, A must hear B's HyParView Disconnect
  // (A drops the neighbour, then closes the link itself) rather than find the link broken
  // ("read failed"), which is what A saw when B's gossip actor stopped before handling its
  // topic's unsubscribe.
  dtt::dht::testnet_options tno;
  tno.nodes = 6;
  dtt::dht::testnet net{tno};
  REQUIRE(net.start());
  std::string boot;
  for (auto& b : net.bootstrap())
    boot += (boot.empty() ? "\"" : ", \"") + b + "\"";
  dtt::test::temp_dir dir;
  auto ini = dir.write("n.ini", "[dttd]\ntopic=\"leave\"\nsecret=\"s\"\n[dttd.dht]\n"
                                "bind=\"127.0.0.1\"\nbootstrap=[" + boot + "]\n"
                                "[dttd.gossip]\nbind=\"127.0.0.1\"\n");
  auto start = [&](const std::string& name) {
    return std::make_unique<dtt::test::subprocess>(std::vector<std::string>{
      "/bin/sh", "-c",
      "exec env DTT_LOG=debug " + dtt::test::daemon_path() + " --config-file=" + ini + " 2>"
        + dir.path + "/" + name + ".err"});
  };
  auto a = start("a");
  auto b = start("b");
  auto up = [](dtt::test::subprocess& p) {
    auto deadline = steady::now() + 30s;
    while (steady::now() < deadline) {
      auto line = p.read_line(std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - steady::now()));
      if (!line)
        return false;
      if (line->find("\"event\":\"neighbor_up\"") != std::string::npos)
        return true;
    }
    return false;
  };
  REQUIRE(up(*a));
  REQUIRE(up(*b));
  b->send_signal(SIGTERM);
  auto st = b->stop(5s);
  CHECK(WIFEXITED(st));
  bool down = false;
  auto deadline = steady::now() + 5s;
  while (!down && steady::now() < deadline) {
    auto line = a->read_line(500ms);
    down = line && line->find("\"event\":\"neighbor_down\"") != std::string::npos;
  }
  CHECK(down);
  std::this_thread::sleep_for(300ms);
  auto log = slurp(dir.path + "/a.err");
  INFO(log);
  auto gone = log.find("the last neighbour is gone");
  auto broken = log.find("closed: read failed");
  REQUIRE(gone != std::string::npos);
  CHECK(gone < broken); // npos when A never saw a broken link
  a->send_signal(SIGTERM);
  a->stop(5s);
  net.stop();
}
