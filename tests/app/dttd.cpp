// dttd reads its settings from a CAF INI file (nested sections included), says what it runs on,
// refuses a config without a secret, and stops at the end of stdin when told to.
#include "support/process.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <unistd.h>

namespace {

dtt::test::command_result run(const std::string& args) {
  return dtt::test::run_command("DTT_LOG=info timeout 60 " + std::string(DTT_DAEMON_PATH) + " "
                                + args + " </dev/null");
}

std::string write_config(const std::string& text) {
  std::string path = "/tmp/dtt-dttd-test-" + std::to_string(getpid()) + ".ini";
  std::ofstream(path) << text;
  return path;
}

} // namespace

TEST_CASE("dttd applies an INI config with nested sections and stops at the end of stdin") {
  // The bootstrap address is a closed loopback port: nothing answers, nothing leaves the host.
  auto path = write_config("[dttd]\ntopic=\"cfg-test\"\nsecret=\"s3cret\"\nexit-on-eof=true\n"
                           "[dttd.dht]\nbind=\"127.0.0.1\"\nbootstrap=[\"127.0.0.1:9\"]\n"
                           "[dttd.gossip]\nbind=\"127.0.0.1\"\n");
  auto r = run("--config-file=" + path);
  std::remove(path.c_str());
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(r.output.find("DHT on 127.0.0.1:0 (client), bootstrapping from 1 address(es); "
                      "gossip on 127.0.0.1:0")
        != std::string::npos);
  CHECK(r.output.find("\"event\":\"started\"") != std::string::npos);
}

TEST_CASE("dttd without a secret exits 2 with one clear line") {
  auto path = write_config("[dttd]\ntopic=\"cfg-test\"\n[dttd.dht]\nbootstrap=[\"127.0.0.1:9\"]\n");
  auto r = run("--config-file=" + path);
  std::remove(path.c_str());
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK(r.output == "dttd: dttd.secret is required\n");
}

TEST_CASE("dttd refuses a malformed advertised address with one clear line") {
  auto path = write_config("[dttd]\nsecret=\"s\"\n[dttd.dht]\nbootstrap=[\"127.0.0.1:9\"]\n"
                           "[dttd.gossip]\nadvertise=[\"not-an-address\"]\n");
  auto r = run("--config-file=" + path);
  std::remove(path.c_str());
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK(r.output.rfind("dttd: dttd.gossip.advertise: ", 0) == 0);
  CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
}
