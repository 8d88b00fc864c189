// The README's first command, end to end: `dtt demo` must find every node and deliver every
// message on loopback, and say so in its exit code.
#include "support/process.hpp"

#include <doctest/doctest.h>

#include <string>

TEST_CASE("dtt demo with 4 nodes joins them all and delivers every message") {
  auto r = dtt::test::run_command(std::string(DTT_CLI_PATH) + " demo --nodes 4 --deadline 60");
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(r.output.find("result: PASS") != std::string::npos);
}
