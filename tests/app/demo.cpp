// The README's first command, end to end: `dtt demo` must find every node and deliver every
// message on loopback, and say so in its exit code.
#include <doctest/doctest.h>

#include <array>
#include <cstdio>
#include <string>
#include <sys/wait.h>

TEST_CASE("dtt demo with 4 nodes joins them all and delivers every message") {
  std::string cmd = std::string(DTT_CLI_PATH) + " demo --nodes 4 --deadline 60 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0)
    out.append(buf.data(), n);
  int status = pclose(p);
  INFO(out);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(out.find("result: PASS") != std::string::npos);
}
