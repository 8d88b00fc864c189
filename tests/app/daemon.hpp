#pragma once

// A dttd child process for tests: its stdout read line by line with a deadline, its stderr in a
// file, stopped by its PID (SIGTERM, then SIGKILL) when the test ends.
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <csignal>
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

namespace dtt::test {

/// The dttd under test: DTT_TEST_DAEMON overrides the one built here (to run an attack against
/// another build, e.g. the code before a fix).
inline std::string daemon_path() {
  const char* p = std::getenv("DTT_TEST_DAEMON");
  return p != nullptr ? p : DTT_DAEMON_PATH;
}

/// A temporary directory removed (with its files) at the end of the test.
struct temp_dir {
  std::string path;
  temp_dir() {
    char tmpl[] = "/tmp/dtt-test-XXXXXX";
    path = ::mkdtemp(tmpl) != nullptr ? tmpl : "";
  }
  ~temp_dir() {
    if (!path.empty())
      std::system(("rm -rf '" + path + "'").c_str());
  }
  /// Writes `text` to `name` in the directory and returns its path.
  std::string write(const std::string& name, const std::string& text) const {
    auto p = path + "/" + name;
    std::ofstream(p) << text;
    return p;
  }
};

/// A running dttd.
class daemon_process {
public:
  /// Starts dttd with `args`; `env` ("NAME=value") is added to the environment.
  daemon_process(const std::vector<std::string>& args, const std::string& stderr_file,
                 const std::vector<std::string>& env = {"DTT_LOG=info"}) {
    // Everything the child needs is built before fork: the parent has threads, so the child
    // may only make async-signal-safe calls until exec.
    auto path = daemon_path();
    std::vector<char*> argv{const_cast<char*>(path.c_str())};
    for (auto& a : args)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (char** e = environ; *e != nullptr; ++e) {
      bool replaced = false;
      for (auto& x : env)
        replaced = replaced || std::string(*e).compare(0, x.find('=') + 1, x, 0,
                                                       x.find('=') + 1) == 0;
      if (!replaced)
        envp.push_back(*e);
    }
    for (auto& e : env)
      envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    int out[2];
    if (::pipe(out) != 0)
      return;
    pid_ = ::fork();
    if (pid_ == 0) {
      int devnull = ::open("/dev/null", O_RDONLY);
      int err = ::open(stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(devnull, 0);
      ::dup2(out[1], 1);
      ::dup2(err, 2);
      ::close(out[0]);
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
    ::close(out[1]);
    fd_ = out[0];
  }
  ~daemon_process() {
    stop(std::chrono::seconds(10));
    if (fd_ >= 0)
      ::close(fd_);
  }
  daemon_process(const daemon_process&) = delete;
  daemon_process& operator=(const daemon_process&) = delete;

  /// The next stdout line, or nullopt at the deadline or at the end of output.
  std::optional<std::string> next_line(std::chrono::steady_clock::time_point deadline) {
    for (;;) {
      auto nl = buf_.find('\n');
      if (nl != std::string::npos) {
        auto line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || fd_ < 0)
        return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
        continue;
      char chunk[65536];
      auto n = ::read(fd_, chunk, sizeof chunk);
      if (n <= 0)
        return std::nullopt;
      buf_.append(chunk, static_cast<size_t>(n));
    }
  }

  /// True while the process runs.
  bool running() {
    if (pid_ <= 0 || exited_)
      return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      status_ = status;
      return false;
    }
    return true;
  }

  /// Sends SIGTERM, waits up to `grace`, then SIGKILL. Returns the exit code, or -1 when it
  /// died of a signal.
  int stop(std::chrono::milliseconds grace) {
    if (running()) {
      ::kill(pid_, SIGTERM);
      auto deadline = std::chrono::steady_clock::now() + grace;
      while (running() && std::chrono::steady_clock::now() < deadline)
        ::usleep(20000);
      if (running()) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status_, 0);
        exited_ = true;
      }
    }
    return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
  }

private:
  pid_t pid_ = -1;
  int fd_ = -1;
  bool exited_ = false;
  int status_ = 0;
  std::string buf_;
};

} // namespace dtt::test
