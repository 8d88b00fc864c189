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

/// BEP 44 seq and cas used for every record put (PROTOCOL.md §4.2); hardened records use the
/// unix time instead (item_seq).
inline constexpr int64_t record_seq = INT64_MAX;

/// Everything a node needs to read and write the records of one topic.
struct topic_keys {
  crypto::topic_id topic;
  crypto::signing_key node_key;
  bytes32 initial_secret_hash;
  crypto::rotation_handle rotation;
  /// Hardened slots (docs/HARDENED.md): key and salt derived from the secret too, seq = unix
  /// time. Not readable by distributed-topic-tracker.
  bool hardened = false;
  /// The gossip topic id and membership key (docs/ADMISSION.md), from topic and secret.
  crypto::topic_membership membership;

  topic_keys(crypto::topic_id t, crypto::signing_key k, byte_view initial_secret,
             crypto::rotation_handle r = {}, bool hardened_slots = false);
};

/// Why records read from the DHT were dropped (where the tracker drops them), cumulated: a
/// flood of junk shows here. Counters for an operator (metrics later).
struct record_rejections {
  uint64_t malformed = 0;     ///< not an EncryptedRecord, or its inner Record does not parse
  uint64_t undecryptable = 0; ///< not sealed to this minute's key (junk, or another secret)
  uint64_t bad_signature = 0; ///< the record's signature or publisher key is invalid
  uint64_t wrong_topic = 0;   ///< a record of another topic, under our key
  uint64_t stale = 0;         ///< a record of another minute (a replay, or a skewed clock)
  uint64_t duplicate = 0;     ///< a further record of a publisher already read (not an error)

  /// Every rejection except duplicates.
  uint64_t total() const noexcept;
  /// Adds another set of counters.
  record_rejections& operator+=(const record_rejections& o) noexcept;
  /// Counts one failure of crypto::open_record by its error code.
  void count(errc e) noexcept;
};

/// The DHT address of one minute's records: BEP 44 key and salt.
struct minute_slot {
  crypto::public_key dht_key;
  bytes32 salt;
};

/// Key and salt for `minute` (§1.4, §1.5; hardened: docs/HARDENED.md).
minute_slot slot_for(const topic_keys& keys, uint64_t minute);

/// BEP 44 seq of a record item written at `unix_seconds`: record_seq (i64::MAX, §4.2), or in
/// hardened mode the unix time clamped to [1, 2^53].
int64_t item_seq(const topic_keys& keys, int64_t unix_seconds) noexcept;

/// BEP 44 cas of a record put: record_seq (§4.2), or none (-1) in hardened mode.
int64_t item_cas(const topic_keys& keys) noexcept;

/// §4.4 steps 2–3: decrypt and verify every item for `minute`, drop our own and failures,
/// keep one record per publisher: the first, unless a later item of that publisher has a
/// strictly greater BEP 44 seq (only hardened items differ). `dropped` (optional) counts the
/// failures; `why` (optional) adds them by reason.
std::vector<crypto::record> records_from_items(const topic_keys& keys, uint64_t minute,
                                               const std::vector<dht::mutable_item>& items,
                                               size_t* dropped = nullptr,
                                               record_rejections* why = nullptr);

/// Signs a gossip-record-content record for `minute` with the node key (§2.2, §6.3).
crypto::record make_record(const topic_keys& keys, uint64_t minute,
                           const std::vector<endpoint_id>& active_peers,
                           const std::vector<bytes32>& message_hashes);

/// §4.5 step 3: encrypts a record for its own minute and signs the BEP 44 item, with
/// seq = item_seq(keys, unix_seconds) (hardened: 0 takes the start of the record's minute).
result<dht::mutable_item> make_item(const topic_keys& keys, const crypto::record& r,
                                    crypto::random_source& rng = crypto::os_random(),
                                    int64_t unix_seconds = 0);

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
