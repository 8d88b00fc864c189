#include "child.hpp"

#include <arpa/inet.h>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <netinet/in.h>
#include <sstream>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace dtt::hostile {

std::unique_ptr<child> child::spawn(const child_options& o, std::string* why) {
  auto fail = [&](const std::string& w) -> std::unique_ptr<child> {
    if (why)
      *why = w + ": " + std::strerror(errno);
    return nullptr;
  };
  if (o.argv.empty())
    return fail("no program");
  std::unique_ptr<child> c{new child()};
  static int counter = 0;
  c->stderr_path_ = o.stderr_path;
  if (c->stderr_path_.empty()) {
    c->stderr_path_ = "/tmp/dtt-hostile-" + std::to_string(getpid()) + "-"
                      + std::to_string(++counter) + ".stderr";
    c->remove_stderr_ = true;
  }
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0)
    return fail("pipe");
  if (pipe2(out, O_CLOEXEC) != 0) {
    close(in[0]);
    close(in[1]);
    return fail("pipe");
  }
  int err = open(c->stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (err < 0) {
    close(in[0]);
    close(in[1]);
    close(out[0]);
    close(out[1]);
    return fail("open " + c->stderr_path_);
  }
  // Everything the child needs is prepared before fork (the parent has threads).
  std::vector<char*> argv;
  for (auto& a : o.argv)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    close(in[0]);
    close(in[1]);
    close(out[0]);
    close(out[1]);
    close(err);
    return fail("fork");
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
      _exit(127);
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err, 2);
    for (auto& k : o.unset_env)
      unsetenv(k.c_str());
    for (auto& [k, v] : o.env)
      setenv(k.c_str(), v.c_str(), 1);
    signal(SIGPIPE, SIG_DFL);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(err);
  c->pid_ = pid;
  c->stdin_fd_ = in[1];
  c->stdout_fd_ = out[0];
  c->reader_ = std::thread([p = c.get()] { p->read_stdout(); });
  return c;
}

child::~child() {
  stop();
  if (reader_.joinable())
    reader_.join();
  if (stdout_fd_ >= 0)
    close(stdout_fd_);
  if (remove_stderr_)
    std::remove(stderr_path_.c_str());
}

void child::read_stdout() {
  std::string partial;
  char buf[4096];
  for (;;) {
    ssize_t n = read(stdout_fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    partial.append(buf, static_cast<size_t>(n));
    size_t pos;
    std::vector<std::string> fresh;
    while ((pos = partial.find('\n')) != std::string::npos) {
      fresh.push_back(partial.substr(0, pos));
      partial.erase(0, pos + 1);
    }
    if (!fresh.empty()) {
      std::lock_guard<std::mutex> g(m_);
      for (auto& l : fresh)
        lines_.push_back(std::move(l));
      cv_.notify_all();
    }
  }
  std::lock_guard<std::mutex> g(m_);
  stdout_done_ = true;
  cv_.notify_all();
}

bool child::running() {
  if (pid_ < 0)
    return false;
  int st = 0;
  pid_t r = waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = st;
    pid_ = -1;
    return false;
  }
  return r == 0;
}

bool child::write_stdin(const std::string& text) {
  if (stdin_fd_ < 0)
    return false;
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = write(stdin_fd_, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

void child::close_stdin() {
  if (stdin_fd_ >= 0)
    close(stdin_fd_);
  stdin_fd_ = -1;
}

std::optional<std::string>
child::wait_line(const std::function<bool(const std::string&)>& pred,
                 std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock<std::mutex> g(m_);
  size_t seen = 0;
  for (;;) {
    for (; seen < lines_.size(); ++seen)
      if (pred(lines_[seen]))
        return lines_[seen];
    if (stdout_done_)
      return std::nullopt;
    if (cv_.wait_until(g, deadline) == std::cv_status::timeout) {
      for (; seen < lines_.size(); ++seen)
        if (pred(lines_[seen]))
          return lines_[seen];
      return std::nullopt;
    }
  }
}

std::vector<std::string> child::lines() {
  std::lock_guard<std::mutex> g(m_);
  return lines_;
}

std::optional<std::string>
child::last_line(const std::function<bool(const std::string&)>& pred) {
  std::lock_guard<std::mutex> g(m_);
  for (auto it = lines_.rbegin(); it != lines_.rend(); ++it)
    if (pred(*it))
      return *it;
  return std::nullopt;
}

size_t child::stderr_bytes() const {
  struct stat st {};
  if (::stat(stderr_path_.c_str(), &st) != 0)
    return 0;
  return static_cast<size_t>(st.st_size);
}

std::string child::stderr_text() const {
  std::ifstream in(stderr_path_, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

int child::stop(std::chrono::milliseconds grace) {
  close_stdin();
  if (pid_ < 0)
    return status_;
  if (!running())
    return status_;
  kill(pid_, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!running())
      return status_;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid_, SIGKILL);
  int st = 0;
  if (waitpid(pid_, &st, 0) == pid_)
    status_ = st;
  pid_ = -1;
  return status_;
}

uint16_t free_tcp_port() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  uint16_t port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0
      && getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

} // namespace dtt::hostile
