#include "app/cli/record_commands.hpp"

#include "actors/tracker_logic.hpp"

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
  static_assert(max_record_peers == max_message_hashes);
  if (out.size() > max_record_peers)
    throw cli_failure(what + ": at most " + std::to_string(max_record_peers)
                      + " entries fit in a record");
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
  // The node key plays no part in these derivations.
  tracker::topic_keys keys{topic, signing_key::from_seed(bytes32{}), byte_view::of(o.secret)};
  auto slot = tracker::slot_for(keys, m);
  auto enc = encryption_keypair(topic, keys.rotation, keys.initial_secret_hash, m);
  print({{"topic_hash", to_hex(topic.hash())},
         {"initial_secret_hash", to_hex(keys.initial_secret_hash)},
         {"unix_minute", m},
         {"signing_pubkey", to_hex(slot.dht_key)},
         {"salt", to_hex(slot.salt)},
         {"encryption_pubkey", to_hex(enc.public_key_bytes())},
         {"dht_target", to_hex(bep44::mutable_target(slot.dht_key, slot.salt))}});
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
  auto item = tracker::make_item(tracker::topic_keys{topic, node, byte_view::of(o.secret)}, rec);
  if (!item)
    throw cli_failure("seal failed: " + item.err().message());
  print({{"record_hex", to_hex(rec.to_bytes())},
         {"encrypted_record_hex", to_hex(item->value)},
         {"unix_minute", m},
         {"node_pubkey", to_hex(node.public_key_bytes())},
         {"dht_public_key", to_hex(item->key)},
         {"salt", to_hex(item->salt)},
         {"dht_target", to_hex(item->target())},
         {"dht_seq", item->seq},
         {"dht_put_signature", to_hex(item->signature)}});
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
