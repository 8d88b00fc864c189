// Fuzz target: the DHT routing-table cache file (dht/routing_table.hpp load()/save()), which a
// node reads at start-up from its state directory.
//
// Checked besides "no crash, no sanitizer report":
// - load() accepts only a bencoded dict whose "nodes"/"nodes6" (if present) are strings of
//   whole 26/38-byte records, at most 4096 of each; IPv4 entries come first, then IPv6; the
//   records left out are exactly those that name no node (port 0, an unspecified address, an
//   IPv4-mapped address in "nodes6": parse_compact_nodes);
// - when none was left out, the entries re-encode (compact node info, BEP 5/32) to the strings
//   they came from, and a file of exactly {nodes, nodes6} re-encodes byte for byte;
// - a table fed with the loaded entries saves a file that load() reads back as exactly the
//   table's entries (save/load round trip), and bounded by k per bucket.
#include "check.hpp"
#include "dht/bencode.hpp"
#include "dht/routing_table.hpp"

#include <algorithm>
#include <cstdint>

using namespace dtt;
using namespace dtt::dht;
using dtt::fuzz::require;

namespace {

constexpr const char* target = "fuzz_routing_table";

bool same_set(std::vector<node_entry> a, std::vector<node_entry> b) {
  auto less = [](const node_entry& x, const node_entry& y) {
    return x.id != y.id ? x.id < y.id : x.ep < y.ep;
  };
  std::sort(a.begin(), a.end(), less);
  std::sort(b.begin(), b.end(), less);
  return a == b;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  byte_view in(data, size);
  auto nodes = routing_table::load(in);
  if (!nodes)
    return 0;

  bencode::limits lim;
  lim.max_input = lim.max_string = 1 << 20;
  auto root = bencode::decode(in, lim);
  require(root && root->is_dict(), target, "load() accepted something that is not a dict");
  auto* v4 = root->find("nodes");
  auto* v6 = root->find("nodes6");
  size_t left_out4 = 0, left_out6 = 0;
  auto p4 = v4 ? parse_compact_nodes(v4->as_bytes(), 4, 4096, &left_out4)
               : result<std::vector<node_entry>>(std::vector<node_entry>{});
  auto p6 = v6 ? parse_compact_nodes(v6->as_bytes(), 6, 4096, &left_out6)
               : result<std::vector<node_entry>>(std::vector<node_entry>{});
  require(p4.ok() && p6.ok(), target, "load() accepted a nodes string parse_compact_nodes refuses");
  size_t n4 = p4->size(), n6 = p6->size();
  require(n4 + left_out4 <= 4096 && n6 + left_out6 <= 4096, target,
          "more than 4096 nodes of one family loaded");
  require(nodes->size() == n4 + n6, target, "load() lost or invented entries");
  for (auto& n : *nodes)
    require(n.ep.port != 0 && !is_v4_mapped(n.ep), target, "load() kept a record naming no node");
  bool whole = left_out4 == 0 && left_out6 == 0;
  for (size_t i = 0; i < nodes->size(); ++i)
    require((*nodes)[i].ep.family == (i < n4 ? 4 : 6), target, "entries out of family order");

  auto c4 = compact_nodes(*nodes, 4);
  auto c6 = compact_nodes(*nodes, 6);
  require(!whole || c4 == (v4 ? bytes(v4->as_bytes().begin(), v4->as_bytes().end()) : bytes{}),
          target, "IPv4 entries do not re-encode to their string");
  require(!whole || c6 == (v6 ? bytes(v6->as_bytes().begin(), v6->as_bytes().end()) : bytes{}),
          target, "IPv6 entries do not re-encode to their string");
  if (whole && v4 && v6 && root->as_dict().size() == 2) {
    auto file = bencode::value::dict();
    file.set("nodes", bencode::value::string(c4));
    file.set("nodes6", bencode::value::string(c6));
    require(bencode::encode(file) == in.to_bytes(), target,
            "a {nodes, nodes6} file does not re-encode byte for byte");
  }

  node_id own;
  own.fill(0);
  if (!nodes->empty())
    own = (*nodes)[0].id; // a table around the first id makes the other entries split buckets
  own[19] ^= 1;
  routing_table table(own);
  auto now = time_point{} + std::chrono::hours(1);
  for (auto& n : *nodes)
    table.heard_from(n, now, true);
  require(table.size() <= table.bucket_count() * 8, target, "a bucket holds more than k nodes");
  auto saved = table.save();
  auto back = routing_table::load(saved);
  require(back.ok(), target, "load() refuses what save() wrote");
  require(same_set(*back, table.all()), target, "load(save(t)) != t.all()");
  return 0;
}
