// dttd reads its settings from a CAF INI file (nested sections included), says what it runs on,
// refuses a config without a secret, and stops at the end of stdin when told to.
#include "app/daemon.hpp"
#include "support/process.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace {

dtt::test::command_result run(const std::string& args, const std::string& env = "DTT_LOG=info") {
  return dtt::test::run_command(env + " timeout 60 " + dtt::test::daemon_path() + " " + args
                                + " </dev/null");
}

size_t lines_of(const std::string& s) { return std::count(s.begin(), s.end(), '\n'); }

// Every line that is not a JSON event is a log line: timestamp, level, component.
bool all_log_lines_well_formed(const std::string& output) {
  std::regex shape(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (debug|info|warn|error) [a-z]+: .*)");
  std::istringstream in(output);
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) {
    if (line.rfind("{\"event\"", 0) == 0)
      continue;
    if (!std::regex_match(line, shape))
      return false;
    ++n;
  }
  return n > 0;
}

// A dttd config in a temp dir with a closed loopback bootstrap port (nothing leaves the host).
const std::string loopback = "[dttd.dht]\nbind=\"127.0.0.1\"\nbootstrap=[\"127.0.0.1:9\"]\n"
                             "[dttd.gossip]\nbind=\"127.0.0.1\"\n";

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
  CHECK(all_log_lines_well_formed(r.output));
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

TEST_CASE("dttd refuses each kind of bad configuration with one line naming file, line and key") {
  struct bad_case {
    std::string text;
    std::string expected; // after "dttd: <file>:"
  };
  const std::vector<bad_case> cases{
    {"[dttd]\nsecret=\"s\"\n[dttd.dht]\nport=\"abc\"\n",
     "4: dttd.dht.port: \"abc\" is not an integer"},
    {"[dttd]\nsecret=\"s\"\n[dttd.dht]\nport=70000\n",
     "4: dttd.dht.port: 70000 is out of range (0..65535)"},
    {"[dttd]\nsecret=\"s\"\n[dttd.gossip]\nport=-1\n",
     "4: dttd.gossip.port: -1 is out of range (0..65535)"},
    {"[dttd]\nsecret=\"s\"\nsecrte=\"x\"\n", "3: dttd.secrte: unknown key"},
    {"[dttd]\nsecret=\"s\"\n[dtt]\njoin-timeout=5\n", "4: dtt.join-timeout: 5 has no unit"},
    {"[dttd]\nsecret=\"s\"\n[dttd.dht]\nbind=\"127.0.0.1\"\n[dttd.dht]\n"
     "bootstrap=[\"127.0.0.1:9\"]\n",
     "5: [dttd.dht]: section repeated (first on line 3)"},
    {"[dttd]\nsecret=\"s\"\n[dttd.dht]\nbootstrap=[\"127.0.0.1:99999\"]\n",
     "4: dttd.dht.bootstrap: \"127.0.0.1:99999\" port 99999 is out of range (1..65535)"},
    // The value of a secret key is never echoed, not even in an error line.
    {"[dttd]\nsecret=123\n", "2: dttd.secret: must be a quoted string: secret=\"...\""},
    {"[dttd]\nsecret=\"s\"\nlog-level=\"loud\"\n", "3: dttd.log-level: \"loud\" is not a log level"},
  };
  dtt::test::temp_dir dir;
  for (auto& c : cases) {
    auto path = dir.write("bad.ini", c.text);
    auto r = run("--config-file=" + path);
    INFO(c.text);
    INFO(r.output);
    CHECK(r.exit_code == 2);
    CHECK(lines_of(r.output) == 1);
    CHECK(r.output.rfind("dttd: " + path + ":" + c.expected, 0) == 0);
  }
}

TEST_CASE("an invalid DTT_LOG or log-level flag is one error line and exit code 2") {
  dtt::test::temp_dir dir;
  auto path = dir.write("ok.ini", "[dttd]\nsecret=\"s\"\n" + loopback);
  auto r = run("--config-file=" + path, "DTT_LOG=verbose");
  CHECK(r.exit_code == 2);
  CHECK(r.output == "dttd: DTT_LOG=\"verbose\" is not a log level (debug, info, warn, error, "
                    "off)\n");
  r = run("--config-file=" + path + " --dttd.log-level=loud", "env -u DTT_LOG");
  CHECK(r.exit_code == 2);
  CHECK(r.output == "dttd: dttd.log-level: \"loud\" is not a log level (debug, info, warn, "
                    "error, off)\n");
}

TEST_CASE("[dttd] log-level sets the threshold") {
  dtt::test::temp_dir dir;
  auto path = dir.write("ok.ini", "[dttd]\nsecret=\"s\"\nexit-on-eof=true\nlog-level=\"info\"\n"
                                    + loopback);
  auto r = run("--config-file=" + path, "env -u DTT_LOG");
  CHECK(r.exit_code == 0);
  CHECK(r.output.find(" info dttd: DHT on 127.0.0.1:0") != std::string::npos);
  path = dir.write("ok.ini", "[dttd]\nsecret=\"s\"\nexit-on-eof=true\nlog-level=\"warn\"\n"
                               + loopback);
  r = run("--config-file=" + path, "env -u DTT_LOG");
  CHECK(r.exit_code == 0);
  CHECK(r.output.find(" info ") == std::string::npos);
}

TEST_CASE("--dump-config masks the topic secret") {
  dtt::test::temp_dir dir;
  auto path = dir.write("ok.ini", "[dttd]\nsecret=\"hunter2-in-file\"\n" + loopback);
  auto r = run("--config-file=" + path + " --dump-config");
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(r.output.find("hunter2") == std::string::npos);
  CHECK(r.output.find("secret=\"<hidden>\"") != std::string::npos);
  CHECK(r.output.find("bootstrap=[\"127.0.0.1:9\"]") != std::string::npos);
  r = run("--config-file=" + path + " --dttd.secret=flag-secret-xyz --dump-config");
  CHECK(r.exit_code == 0);
  CHECK(r.output.find("flag-secret-xyz") == std::string::npos);
}

TEST_CASE("dttd creates its key file 0600 and refuses one that others can read") {
  dtt::test::temp_dir dir;
  auto key = dir.path + "/node.key";
  auto path = dir.write("ok.ini", "[dttd]\nsecret=\"s\"\nexit-on-eof=true\nkey-file=\"" + key
                                    + "\"\n" + loopback);
  auto r = run("--config-file=" + path, "umask 022; DTT_LOG=warn");
  INFO(r.output);
  CHECK(r.exit_code == 0);
  struct stat st {};
  REQUIRE(::stat(key.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  ::chmod(key.c_str(), 0644);
  r = run("--config-file=" + path);
  CHECK(r.exit_code == 2);
  CHECK(r.output == "dttd: UNPROTECTED KEY FILE: " + key + " has mode 0644, so group or others "
                    "can use it; it must be readable by its owner only (chmod 600 " + key + ")\n");
}

TEST_CASE("dttd exits 2 with one line when no bootstrap node answers in time") {
  // 127.0.0.1:1 is closed: nothing answers, nothing leaves the host.
  dtt::test::temp_dir dir;
  auto path = dir.write("ok.ini", "[dttd]\nsecret=\"s\"\n[dttd.dht]\nbind=\"127.0.0.1\"\n"
                                  "bootstrap=[\"127.0.0.1:1\"]\nbootstrap-timeout=2s\n"
                                  "[dttd.gossip]\nbind=\"127.0.0.1\"\n");
  auto t0 = std::chrono::steady_clock::now();
  auto r = run("--config-file=" + path, "DTT_LOG=warn");
  auto took = std::chrono::steady_clock::now() - t0;
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK(took < std::chrono::seconds(15));
  CHECK(r.output.find("dttd: no DHT bootstrap node answered within 2000 ms (127.0.0.1:1); "
                      "check [dttd.dht] bootstrap and the network\n")
        != std::string::npos);
}

TEST_CASE("without a bootstrap, the start-up log names the public routers at the default level") {
  // The DHT bind address is not an address, so dttd stops before it opens a socket: this test
  // never reaches the public routers.
  dtt::test::temp_dir dir;
  auto path = dir.write("ok.ini", "[dttd]\nsecret=\"s\"\n[dttd.dht]\nbind=\"not-an-address\"\n");
  auto r = run("--config-file=" + path, "env -u DTT_LOG");
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK(r.output.find(" warn dttd: no [dttd.dht] bootstrap configured: joining the public "
                      "mainline DHT through router.bittorrent.com:6881, ")
        != std::string::npos);
  CHECK(r.output.find("dttd: io_error: DHT node: ") != std::string::npos);
}

TEST_CASE("the topic secret never appears in dttd's output, even at debug level") {
  dtt::test::temp_dir dir;
  auto path = dir.write("ok.ini", "[dttd]\nsecret=\"s3cret-never-logged\"\nexit-on-eof=true\n"
                                    + loopback);
  auto r = run("--config-file=" + path, "DTT_LOG=debug");
  CHECK(r.exit_code == 0);
  CHECK(r.output.find("\"event\":\"started\"") != std::string::npos);
  CHECK(r.output.find("s3cret-never-logged") == std::string::npos);
  r = run("--config-file=" + path + " --dttd.secrte=s3cret-never-logged");
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("s3cret-never-logged") == std::string::npos);
}
