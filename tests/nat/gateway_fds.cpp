// nat/gateway.cpp on a host without a default gateway: discovery fails, and leaves no
// descriptor behind (libnatpmp's initnatpmp returns without closing its socket when it finds
// no gateway; the 1-hour soak of issue 17 showed dttd gaining one UDP socket per retry).
#include "nat/gateway.hpp"

#include <doctest/doctest.h>

#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>

namespace {

size_t open_fds() {
  size_t n = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator("/proc/self/fd"))
    ++n;
  return n;
}

} // namespace

TEST_CASE("discovery without a default gateway fails and leaks no descriptor") {
  // A child in a network namespace of its own: no interface up, no route (needs root).
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (unshare(CLONE_NEWNET) != 0)
      _exit(77);
    size_t before = open_fds();
    for (int i = 0; i < 20; ++i) {
      if (dtt::nat::discover_natpmp(std::chrono::milliseconds(50)))
        _exit(3);  // a gateway answered where there is none
      if (dtt::nat::discover_upnp(std::chrono::milliseconds(100)))
        _exit(4);
      if (dtt::nat::discover_pcp(std::chrono::milliseconds(50)))
        _exit(5);
    }
    size_t after = open_fds();
    _exit(after == before ? 0 : 10 + static_cast<int>(std::min<size_t>(after - before, 100)));
  }
  int st = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  pid_t r = 0;
  while ((r = waitpid(pid, &st, WNOHANG)) == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (r == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    FAIL("discovery did not return within 30 s");
  }
  REQUIRE(WIFEXITED(st));
  int code = WEXITSTATUS(st);
  if (code == 77) {
    MESSAGE("skipped: no permission to create a network namespace");
    return;
  }
  INFO("child exit code " << code << " (10 + n: n descriptors leaked over 20 tries)");
  CHECK(code == 0);
}
