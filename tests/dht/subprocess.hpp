#pragma once
// A child process with line-based stdin/stdout pipes, for tests and benchmarks that drive a
// helper script (tests/dht/libtorrent_peer.py). POSIX only. The destructor always reaps the
// child: it closes stdin, waits briefly, then kills it.

#include <chrono>
#include <csignal>
#include <optional>
#include <string>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace dtt::test {

class subprocess {
public:
  /// Starts argv[0] (a path) with the given arguments; stderr is inherited unless `quiet`.
  subprocess(const std::vector<std::string>& argv, bool quiet = true) {
    std::signal(SIGPIPE, SIG_IGN); // a dead child must fail write_line, not kill us
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0)
      return;
    if (::pipe2(out, O_CLOEXEC) != 0) {
      ::close(in[0]);
      ::close(in[1]);
      return;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    if (quiet)
      posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    std::vector<char*> args;
    for (auto& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = -1;
    int rc = posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(in[0]);
    ::close(out[1]);
    if (rc != 0) {
      ::close(in[1]);
      ::close(out[0]);
      return;
    }
    pid_ = pid;
    to_child_ = in[1];
    from_child_ = out[0];
  }

  ~subprocess() { stop(); }
  subprocess(const subprocess&) = delete;
  subprocess& operator=(const subprocess&) = delete;

  /// True if the child was started.
  bool running() const noexcept { return pid_ > 0; }

  /// True while the child has not exited (an exited child is reaped; stop() returns its
  /// status).
  bool alive() {
    if (pid_ <= 0 || exited_)
      return false;
    exited_ = ::waitpid(pid_, &status_, WNOHANG) == pid_;
    return !exited_;
  }

  /// Sends `sig` to the child (e.g. SIGTERM, then stop() to wait for it).
  void send_signal(int sig) {
    if (alive())
      ::kill(pid_, sig);
  }

  /// Writes one line (a newline is appended).
  bool write_line(const std::string& line) {
    if (to_child_ < 0)
      return false;
    std::string s = line + "\n";
    size_t off = 0;
    while (off < s.size()) {
      auto n = ::write(to_child_, s.data() + off, s.size() - off);
      if (n <= 0)
        return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }

  /// Reads one line (without the newline); nullopt on end of file or when `timeout` passes.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto nl = buf_.find('\n');
      if (nl != std::string::npos) {
        auto line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      if (from_child_ < 0)
        return std::nullopt;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        return std::nullopt;
      pollfd p{from_child_, POLLIN, 0};
      int r = ::poll(&p, 1, static_cast<int>(left.count()));
      if (r < 0)
        return std::nullopt;
      if (r == 0)
        continue;
      char chunk[4096];
      auto n = ::read(from_child_, chunk, sizeof chunk);
      if (n <= 0) {
        ::close(from_child_);
        from_child_ = -1;
        continue;
      }
      buf_.append(chunk, static_cast<size_t>(n));
    }
  }

  /// Closes stdin, waits up to `grace` for the child to exit, then kills it. Idempotent.
  /// Returns the exit status (as from waitpid), or -1.
  int stop(std::chrono::milliseconds grace = std::chrono::milliseconds(3000)) {
    if (to_child_ >= 0) {
      ::close(to_child_);
      to_child_ = -1;
    }
    int status = exited_ ? status_ : -1;
    if (pid_ > 0 && !exited_) {
      auto deadline = std::chrono::steady_clock::now() + grace;
      for (;;) {
        pid_t r = ::waitpid(pid_, &status, WNOHANG);
        if (r == pid_ || r < 0)
          break;
        if (std::chrono::steady_clock::now() > deadline) {
          ::kill(pid_, SIGKILL);
          ::waitpid(pid_, &status, 0);
          break;
        }
        ::usleep(10000);
      }
      pid_ = -1;
    }
    if (from_child_ >= 0) {
      ::close(from_child_);
      from_child_ = -1;
    }
    return status;
  }

private:
  pid_t pid_ = -1;
  bool exited_ = false;
  int status_ = -1;
  int to_child_ = -1;
  int from_child_ = -1;
  std::string buf_;
};

} // namespace dtt::test
