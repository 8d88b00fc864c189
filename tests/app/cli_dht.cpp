// `dtt dht put` / `dtt dht get` against an in-process loopback testnet.
#include "dht/testnet.hpp"
#include "support/process.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <sstream>
#include <string>

namespace {

dtt::test::command_result run_cli(const std::string& args) {
  return dtt::test::run_command(std::string(DTT_CLI_PATH) + " " + args);
}

std::vector<nlohmann::json> json_lines(const std::string& out) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(out);
  for (std::string l; std::getline(in, l);)
    if (!l.empty() && l[0] == '{')
      lines.push_back(nlohmann::json::parse(l));
  return lines;
}

} // namespace

TEST_CASE("dtt dht put stores a mutable item on a testnet and dtt dht get reads it back") {
  dtt::dht::testnet_options o;
  o.nodes = 12;
  dtt::dht::testnet net(o);
  auto st = net.start();
  REQUIRE_MESSAGE(st, (st ? "" : st.err().message()));
  auto boot = net.bootstrap()[0] + "," + net.bootstrap()[1];
  std::string seed(64, 'a');

  auto put = run_cli("dht put --bind 127.0.0.1 --bootstrap " + boot + " --seed " + seed
                     + " --salt cli-salt --value 'hello from the cli' --timeout 10");
  INFO(put.output);
  REQUIRE(put.exit_code == 0);
  auto p = json_lines(put.output);
  REQUIRE(p.size() == 1);
  CHECK(p[0]["ok"] == true);
  CHECK(p[0]["stored"].get<int>() >= 4);
  CHECK(p[0]["seq"].get<int64_t>() == INT64_MAX);
  auto key = p[0]["public_key"].get<std::string>();

  auto get = run_cli("dht get --bind 127.0.0.1 --bootstrap " + boot + " --key " + key
                     + " --salt cli-salt --timeout 10");
  INFO(get.output);
  REQUIRE(get.exit_code == 0);
  auto items = json_lines(get.output);
  REQUIRE(!items.empty());
  for (auto& it : items) {
    CHECK(it["value_hex"] == dtt::to_hex(dtt::byte_view::of(std::string("hello from the cli"))));
    CHECK(it["seq"].get<int64_t>() == INT64_MAX);
  }

  // A lower seq than the stored one is refused (BEP 44 error 302): exit code 2.
  auto older = run_cli("dht put --bind 127.0.0.1 --bootstrap " + boot + " --seed " + seed
                       + " --salt cli-salt --value older --seq 1 --timeout 10");
  INFO(older.output);
  CHECK(older.exit_code == 2);
  auto none = run_cli("dht get --bind 127.0.0.1 --bootstrap " + boot + " --key " + key
                      + " --salt other-salt --timeout 10");
  CHECK(none.exit_code == 2);
  net.stop();
}
