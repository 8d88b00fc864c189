#include "app/cli/record_commands.hpp"

#include "crypto/bep44.hpp"
#include "crypto/clock.hpp"
#include "crypto/encrypted_record.hpp"

#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>

namespace dtt::app {

namespace {

using nlohmann::json;
using namespace dtt::crypto;

/// Thrown by a command for a clean "one line on stderr, exit 1".
struct cli_failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct common_options {
  std::string topic;
  std::string secret;
  int64_t minute = -1;

  uint64_t resolved_minute() const {
    if (minute >= 0)
      return static_cast<uint64_t>(minute);
    return *unix_minute(system_wall_clock());
  }
};

void add_common(CLI::App* cmd, common_options& o) {
  cmd->add_option("--topic", o.topic, "topic name (hashed with SHA-512)")->required();
  cmd->add_option("--secret", o.secret, "initial secret shared by the topic's members")->required();
  cmd->add_option("--minute", o.minute, "unix minute (default: the current minute)")
    ->check(CLI::NonNegativeNumber);
}

bytes32 parse_hex32(const std::string& what, const std::string& hex) {
  auto b = array_from_hex<32>(hex);
  if (!b)
    throw cli_failure(what + " must be 64 hex digits");
  return *b;
}

std::vector<bytes32> parse_hex32_list(const std::string& what,
                                      const std::vector<std::string>& items) {
  std::vector<bytes32> out;
  for (auto& s : items)
    out.push_back(parse_hex32(what, s));
  if (out.size() > 5)
    throw cli_failure(what + ": at most 5 entries fit in a record");
  return out;
}

json hex_list(const std::vector<bytes32>& xs) {
  json out = json::array();
  for (auto& x : xs)
    out.push_back(to_hex(x));
  return out;
}

void print(const json& j) { std::cout << j.dump(2) << std::endl; }

void run_derive(const common_options& o) {
  auto topic = topic_id::from_name(o.topic);
  auto m = o.resolved_minute();
  auto ish = initial_secret_hash(byte_view::of(o.secret));
  auto dht_key = signing_keypair(topic, m);
  auto s = salt(topic, m);
  auto enc = encryption_keypair(topic, rotation_handle{}, ish, m);
  print({{"topic_hash", to_hex(topic.hash())},
         {"initial_secret_hash", to_hex(ish)},
         {"unix_minute", m},
         {"signing_pubkey", to_hex(dht_key.public_key_bytes())},
         {"salt", to_hex(s)},
         {"encryption_pubkey", to_hex(enc.public_key_bytes())},
         {"dht_target", to_hex(bep44::mutable_target(dht_key.public_key_bytes(), s))}});
}

struct seal_options {
  std::string node_seed;
  std::vector<std::string> peers;
  std::vector<std::string> hashes;
};

void run_seal(const common_options& o, const seal_options& so) {
  auto topic = topic_id::from_name(o.topic);
  auto m = o.resolved_minute();
  auto node = signing_key::from_seed(parse_hex32("--node-seed", so.node_seed));
  auto content = gossip_record_content::make(parse_hex32_list("--peers", so.peers),
                                             parse_hex32_list("--hashes", so.hashes));
  auto rec = record::sign(topic.hash(), m, content.encode(), node);
  auto enc = encryption_keypair(topic, rotation_handle{},
                                initial_secret_hash(byte_view::of(o.secret)), m);
  auto sealed = encrypted_record::seal(rec, enc.public_key_bytes());
  if (!sealed)
    throw cli_failure("seal failed: " + sealed.err().message());
  auto wire = sealed->to_bytes();
  if (!wire)
    throw cli_failure("seal failed: " + wire.err().message());
  auto dht_key = signing_keypair(topic, m);
  auto s = salt(topic, m);
  constexpr int64_t seq = INT64_MAX; // PROTOCOL.md §4.2: every writer uses seq = i64::MAX
  auto sig = dht_key.sign(bep44::signable_for_string(s, seq, *wire));
  print({{"record_hex", to_hex(rec.to_bytes())},
         {"encrypted_record_hex", to_hex(*wire)},
         {"unix_minute", m},
         {"node_pubkey", to_hex(node.public_key_bytes())},
         {"dht_public_key", to_hex(dht_key.public_key_bytes())},
         {"salt", to_hex(s)},
         {"dht_target", to_hex(bep44::mutable_target(dht_key.public_key_bytes(), s))},
         {"dht_seq", seq},
         {"dht_put_signature", to_hex(sig)}});
}

void run_open(const common_options& o, const std::string& hex) {
  auto topic = topic_id::from_name(o.topic);
  auto m = o.resolved_minute();
  auto value = from_hex(hex);
  if (!value)
    throw cli_failure("--hex is not valid hex");
  auto enc = encryption_keypair(topic, rotation_handle{},
                                initial_secret_hash(byte_view::of(o.secret)), m);
  auto rec = open_record(*value, topic, m, enc);
  if (!rec)
    throw cli_failure("open failed: " + rec.err().message());
  json out = {{"record_hex", to_hex(rec->to_bytes())},
              {"node_pubkey", to_hex(rec->pub_key())},
              {"unix_minute", rec->unix_minute()}};
  if (auto c = rec->gossip_content()) {
    out["active_peers"] = hex_list(c->peers());
    out["last_message_hashes"] = hex_list(c->hashes());
  } else {
    out["content_error"] = c.err().message();
  }
  print(out);
}

template <class F>
void guarded(F f) {
  try {
    f();
  } catch (const cli_failure& e) {
    std::cerr << "dtt: " << e.what() << std::endl;
    std::exit(1);
  }
}

} // namespace

void add_record_commands(CLI::App& app) {
  auto derive_opts = std::make_shared<common_options>();
  auto derive = app.add_subcommand("derive", "print the per-minute keys, salt and DHT target");
  add_common(derive, *derive_opts);
  derive->callback([derive_opts] { guarded([&] { run_derive(*derive_opts); }); });

  auto record = app.add_subcommand("record", "seal or open a DHT record");
  record->require_subcommand(1);

  auto seal_common = std::make_shared<common_options>();
  auto seal_opts = std::make_shared<seal_options>();
  auto seal = record->add_subcommand("seal", "sign and encrypt a record; print the DHT put");
  add_common(seal, *seal_common);
  seal->add_option("--node-seed", seal_opts->node_seed, "node Ed25519 seed, 64 hex digits")
    ->required();
  seal->add_option("--peers", seal_opts->peers, "active peers (hex public keys)")
    ->delimiter(',');
  seal->add_option("--hashes", seal_opts->hashes, "last message hashes (hex)")->delimiter(',');
  seal->callback([seal_common, seal_opts] { guarded([&] { run_seal(*seal_common, *seal_opts); }); });

  auto open_common = std::make_shared<common_options>();
  auto open_hex = std::make_shared<std::string>();
  auto open = record->add_subcommand("open", "decrypt and verify a DHT value");
  add_common(open, *open_common);
  open->add_option("--hex", *open_hex, "the DHT value (encrypted record), hex")->required();
  open->callback([open_common, open_hex] { guarded([&] { run_open(*open_common, *open_hex); }); });
}

} // namespace dtt::app
