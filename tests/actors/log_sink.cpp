// The transport's log sink goes through dtt's one writer (crypto/log.hpp): same line format,
// same threshold, no DTT_LOG parsing of its own (issue 11, finding 7: transport lines had no
// timestamp).
#include "crypto/log.hpp"
#include "gossip/transport/log.hpp"

#include <doctest/doctest.h>

#include <regex>
#include <vector>

using namespace dtt;

TEST_CASE("transport log lines carry the writer's timestamp, level and component") {
  std::vector<std::string> lines;
  auto old_threshold = log::threshold();
  log::set_sink([&](std::string_view l) { lines.emplace_back(l); });
  log::set_threshold(log::level::info);
  auto sink = net::stderr_log_sink();
  sink(net::log_level::warn, "peer 1a2b closed: frame over the limit\nforged line");
  sink(net::log_level::info, "link up");
  sink(net::log_level::debug, "not shown at info");
  log::set_threshold(log::level::off);
  sink(net::log_level::warn, "not shown when off");
  log::set_sink({});
  log::set_threshold(old_threshold);
  REQUIRE(lines.size() == 2);
  std::regex shape(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z warn net: peer 1a2b closed: frame )"
                   R"(over the limit\\x0aforged line\n)");
  CHECK(std::regex_match(lines[0], shape));
  CHECK(lines[1].find("Z info net: link up\n") != std::string::npos);
}
