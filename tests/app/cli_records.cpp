// Runs the dtt binary as a user would and checks its JSON against the shared vectors.
#include "support/process.hpp"
#include "support/vectors.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>

namespace {

dtt::test::command_result run_cli(const std::string& args) {
  return dtt::test::run_command(std::string(DTT_CLI_PATH) + " " + args);
}

} // namespace

TEST_CASE("dtt derive prints the vector derivations") {
  auto v = dtt::test::load_shared_json("spec/vectors.json");
  auto r = run_cli("derive --topic my-iroh-gossip-topic --secret my-initial-secret --minute "
                   + std::to_string(v["unix_minute"].get<uint64_t>()));
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.output);
  CHECK(j["topic_hash"] == v["topic_id"]);
  CHECK(j["initial_secret_hash"] == v["initial_secret_hash"]);
  CHECK(j["signing_pubkey"] == v["dht_signing_pubkey"]);
  CHECK(j["salt"] == v["salt"]);
  CHECK(j["encryption_pubkey"] == v["encryption_ed25519_pubkey"]);
  CHECK(j["dht_target"] == v["bep44_target_sha1"]);
}

TEST_CASE("dtt record open decrypts the vector value and reports its content") {
  auto doc = dtt::test::load_shared_json("vectors/dtt_records.json");
  auto& rec = doc["records"][1];
  auto& in = rec["inputs"];
  auto r = run_cli("record open --topic '" + in["topic_name"].get<std::string>() + "' --secret '"
                   + in["secret"].get<std::string>() + "' --minute "
                   + std::to_string(in["unix_minute"].get<uint64_t>()) + " --hex "
                   + rec["encrypted_example"]["encrypted_record_hex"].get<std::string>());
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.output);
  CHECK(j["record_hex"] == rec["record_hex"]);
  CHECK(j["node_pubkey"] == rec["node_pubkey"]);
  CHECK(j["active_peers"] == in["peers"]);
  CHECK(j["last_message_hashes"] == in["hashes"]);
}

TEST_CASE("dtt record seal then open round-trips, and a wrong secret fails with one line") {
  std::string seed(64, '7');
  std::string peer(64, 'a');
  auto sealed = run_cli("record seal --topic t --secret s --minute 42 --node-seed " + seed
                        + " --peers " + peer);
  REQUIRE(sealed.exit_code == 0);
  auto j = nlohmann::json::parse(sealed.output);
  auto hex = j["encrypted_record_hex"].get<std::string>();
  CHECK(hex.size() == 2 * 604);
  auto opened = run_cli("record open --topic t --secret s --minute 42 --hex " + hex);
  REQUIRE(opened.exit_code == 0);
  auto o = nlohmann::json::parse(opened.output);
  CHECK(o["record_hex"] == j["record_hex"]);
  CHECK(o["active_peers"] == nlohmann::json::array({peer}));

  auto wrong = run_cli("record open --topic t --secret other --minute 42 --hex " + hex);
  CHECK(wrong.exit_code == 1);
  CHECK(wrong.output.find("decrypt_failed") != std::string::npos);
  CHECK(std::count(wrong.output.begin(), wrong.output.end(), '\n') == 1);
  auto bad_seed = run_cli("record seal --topic t --secret s --node-seed 12");
  CHECK(bad_seed.exit_code == 1);
  CHECK(bad_seed.output.find("--node-seed") != std::string::npos);
}
