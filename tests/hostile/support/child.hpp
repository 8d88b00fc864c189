#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

/// Processes started by the hostile-peer suite and its measurement program.
namespace dtt::hostile {

/// How to start a child process.
struct child_options {
  std::vector<std::string> argv;                            ///< argv[0] is the program path
  std::vector<std::pair<std::string, std::string>> env;    ///< set (or overridden) in the child
  std::vector<std::string> unset_env;                       ///< removed from the child's env
  /// The child's stderr goes to this file (created/truncated), so that its size is the log
  /// volume; empty: a fresh file under /tmp that the child object removes.
  std::string stderr_path;
};

/// A child process with a stdin pipe, its stdout read line by line on a thread, and its stderr
/// in a file. The child gets SIGKILL if this process dies (PR_SET_PDEATHSIG); the destructor
/// stops it (SIGTERM, then SIGKILL after a grace period) by its PID and reaps it.
class child {
public:
  /// Forks and execs; nullptr (with `why` set) if that fails.
  static std::unique_ptr<child> spawn(const child_options& o, std::string* why = nullptr);
  ~child();
  child(const child&) = delete;
  child& operator=(const child&) = delete;

  /// The child's PID (until it is reaped).
  pid_t pid() const noexcept { return pid_; }
  /// True while the child has not exited.
  bool running();
  /// Writes to the child's stdin; false if the pipe is closed.
  bool write_stdin(const std::string& text);
  /// Closes the child's stdin.
  void close_stdin();
  /// Waits (at most `timeout`) for a stdout line for which `pred` is true, looking at every
  /// line since the child started; returns it, or nothing at the deadline or when stdout ends.
  std::optional<std::string> wait_line(const std::function<bool(const std::string&)>& pred,
                                       std::chrono::milliseconds timeout);
  /// Every complete stdout line so far.
  std::vector<std::string> lines();
  /// The last complete stdout line matching `pred`, if any.
  std::optional<std::string> last_line(const std::function<bool(const std::string&)>& pred);
  /// Where stderr goes, and its current size in bytes.
  const std::string& stderr_path() const noexcept { return stderr_path_; }
  size_t stderr_bytes() const;
  /// The whole stderr file.
  std::string stderr_text() const;
  /// SIGTERM, wait up to `grace`, then SIGKILL; reaps the child. Returns its exit status as
  /// waitpid gives it (or -1 if it was already reaped). Idempotent.
  int stop(std::chrono::milliseconds grace = std::chrono::milliseconds(5000));

private:
  child() = default;
  void read_stdout();

  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  bool remove_stderr_ = false;
  std::string stderr_path_;
  std::thread reader_;
  std::mutex m_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
  bool stdout_done_ = false;
  int status_ = -1;
};

/// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
uint16_t free_tcp_port();

} // namespace dtt::hostile
