#pragma once

// The decisions of the tracker workers (PROTOCOL.md §4.4–§6.5) as plain functions, free of CAF,
// so that they are tested exactly and the actors stay thin.
#include "config/config.hpp"
#include "crypto/encrypted_record.hpp"
#include "crypto/keys.hpp"
#include "crypto/membership.hpp"
#include "dht/item.hpp"
#include "gossip/types.hpp"

#include <random>
#include <vector>

namespace dtt::tracker {

using gossip::endpoint_id;

/// BEP 44 seq and cas used for every record put (PROTOCOL.md §4.2).
inline constexpr int64_t record_seq = INT64_MAX;

/// Everything a node needs to read and write the records of one topic.
struct topic_keys {
  crypto::topic_id topic;
  crypto::signing_key node_key;
  bytes32 initial_secret_hash;
  crypto::rotation_handle rotation;
  /// The gossip topic id and membership key (docs/ADMISSION.md), from topic and secret.
  crypto::topic_membership membership;

  topic_keys(crypto::topic_id t, crypto::signing_key k, byte_view initial_secret,
             crypto::rotation_handle r = {});
};

/// The DHT address of one minute's records: BEP 44 key and salt.
struct minute_slot {
  crypto::public_key dht_key;
  bytes32 salt;
};

/// Key and salt for `minute` (§1.4, §1.5).
minute_slot slot_for(const topic_keys& keys, uint64_t minute);

/// §4.4 steps 2–3: decrypt and verify every item for `minute`, drop our own and failures,
/// keep the first record per publisher. `dropped` (optional) counts the failures.
std::vector<crypto::record> records_from_items(const topic_keys& keys, uint64_t minute,
                                               const std::vector<dht::mutable_item>& items,
                                               size_t* dropped = nullptr);

/// Signs a gossip-record-content record for `minute` with the node key (§2.2, §6.3).
crypto::record make_record(const topic_keys& keys, uint64_t minute,
                           const std::vector<endpoint_id>& active_peers,
                           const std::vector<bytes32>& message_hashes);

/// §4.5 step 3: encrypts a record for its own minute and signs the BEP 44 item.
result<dht::mutable_item> make_item(const topic_keys& keys, const crypto::record& r,
                                    crypto::random_source& rng = crypto::os_random());

/// Union of record lists, de-duplicated by publisher (first seen wins).
std::vector<crypto::record> merge_records(std::vector<crypto::record> a,
                                          const std::vector<crypto::record>& b);

/// §6.2 step 5: publishers and their non-zero active peers, minus ourselves, valid keys only,
/// de-duplicated (in first-seen order).
std::vector<endpoint_id> bootstrap_candidates(const std::vector<crypto::record>& records,
                                              const endpoint_id& self);

/// §6.4: join candidates of bubble merge, or empty when it should not act
/// (enough neighbours or no records). Shuffled and cut to `max_join_peers`.
std::vector<endpoint_id> bubble_merge_candidates(const std::vector<crypto::record>& records,
                                                 const std::vector<endpoint_id>& neighbors,
                                                 const endpoint_id& self,
                                                 const bubble_merge_config& cfg,
                                                 std::mt19937_64& rng);

/// §6.5: join candidates of message-overlap merge (publishers of records whose non-empty hash
/// lists share nothing with ours, and their peers, minus neighbours and us). Shuffled and cut.
std::vector<endpoint_id> overlap_merge_candidates(const std::vector<crypto::record>& records,
                                                  const std::vector<bytes32>& local_hashes,
                                                  const std::vector<endpoint_id>& neighbors,
                                                  const endpoint_id& self,
                                                  size_t max_join_peers, std::mt19937_64& rng);

/// base + uniform[0, max_jitter) (§5 "Jitter everywhere"); zero jitter adds nothing.
duration jittered(duration base, duration max_jitter, std::mt19937_64& rng);

/// The FIFO of the last five message hashes (§6.6): H512_32(content), oldest first.
class message_hash_window {
public:
  void push(byte_view content);
  const std::vector<bytes32>& hashes() const noexcept { return hashes_; }

private:
  std::vector<bytes32> hashes_;
};

} // namespace dtt::tracker
