#include "actors/record_publisher.hpp"

#include "actors/log.hpp"
#include "messages/errors.hpp"

#include <caf/typed_response_promise.hpp>

#include <functional>

namespace dtt {

namespace {

using self_ptr = record_publisher_actor::stateful_pointer<record_publisher_state>;

void attempt_put(self_ptr self, uint64_t job_id);

void fail_or_retry(self_ptr self, uint64_t job_id, const std::string& why) {
  auto i = self->state.jobs.find(job_id);
  if (i == self->state.jobs.end())
    return;
  auto& job = i->second;
  if (--job.attempts_left == 0) {
    log::warn("record put failed after {} attempts: {}", self->state.dht_cfg.retries + 1, why);
    ++self->state.put_failures;
    job.promise.deliver(caf::make_error(errc::unreachable, "record put failed: " + why));
    self->state.jobs.erase(i);
    return;
  }
  auto wait = tracker::jittered(self->state.dht_cfg.base_retry_interval,
                                self->state.dht_cfg.max_retry_jitter, self->state.rng);
  log::debug("record put attempt failed ({}), retrying in {} ms", why, wait.count());
  self->delayed_send(self, wait, retry_put_atom::value, job_id);
}

void attempt_put(self_ptr self, uint64_t job_id) {
  auto i = self->state.jobs.find(job_id);
  if (i == self->state.jobs.end())
    return;
  self->request(self->state.dht, self->state.dht_cfg.put_timeout, put_mutable_atom::value,
                i->second.item, tracker::item_cas(*self->state.keys))
    .then(
      [=](const dht::put_outcome& o) {
        // Too few acknowledgements count as a failure (issue 16: storage nodes that cannot
        // verify seq = i64::MAX drop the put silently, so a put must count who stored it).
        if (o.ok() && o.stored >= self->state.dht_cfg.min_put_acks) {
          auto j = self->state.jobs.find(job_id);
          if (j != self->state.jobs.end()) {
            ++self->state.published;
            j->second.promise.deliver(true);
            self->state.jobs.erase(j);
          }
        } else {
          fail_or_retry(self, job_id,
                        "stored on " + std::to_string(o.stored) + " nodes, "
                          + std::to_string(o.cas_mismatch + o.seq_too_small) + " refused");
        }
      },
      [=](caf::error& e) { fail_or_retry(self, job_id, self->system().render(e)); });
}

// Encrypts and puts a record unless `existing` already fills the minute.
void put_unless_full(self_ptr self, const crypto::record& r, const record_list& existing,
                     caf::typed_response_promise<bool> rp) {
  auto& st = self->state;
  if (existing.size() >= st.max_records) {
    log::debug("minute {} already has {} records: not writing", r.unix_minute(),
               existing.size());
    ++st.skipped_full;
    rp.deliver(false);
    return;
  }
  auto item = tracker::make_item(*st.keys, r, crypto::os_random(), st.clock->unix_seconds());
  if (!item) {
    rp.deliver(to_caf_error(item.err()));
    return;
  }
  auto id = st.next_job++;
  st.jobs.emplace(id, record_publisher_state::put_job{std::move(*item), st.dht_cfg.retries + 1, rp});
  attempt_put(self, id);
}

// A warning when records were dropped since the last one, at most once a minute: a slot
// flood (PROTOCOL.md §10.1) shows up at the default log level without flooding the log.
void report_rejections(self_ptr self, uint64_t minute) {
  auto& st = self->state;
  auto total = st.rejected.total();
  if (total == st.rejected_logged)
    return;
  auto now = self->clock().now();
  if (st.rejected_logged != 0 && now - st.last_warning < std::chrono::minutes(1))
    return;
  auto& r = st.rejected;
  log::warn("records dropped so far (last at minute {}): {} undecryptable, {} malformed, "
            "{} bad signature, {} wrong topic, {} stale (a slot flood if this grows fast)",
            minute, r.undecryptable, r.malformed, r.bad_signature, r.wrong_topic, r.stale);
  st.rejected_logged = total;
  st.last_warning = now;
}

} // namespace

record_publisher_actor::behavior_type
record_publisher(record_publisher_actor::stateful_pointer<record_publisher_state> self,
                 std::shared_ptr<const tracker::topic_keys> keys, dht_actor dht, dht_config cfg,
                 size_t max_bootstrap_records, uint64_t seed, const crypto::wall_clock* clock) {
  self->state.keys = std::move(keys);
  self->state.clock = clock ? clock : &crypto::system_wall_clock();
  self->state.dht = std::move(dht);
  self->state.dht_cfg = cfg;
  self->state.max_records = max_bootstrap_records;
  self->state.rng.seed(seed);
  // Reads one minute's records and passes them, or the error, to `done` (no request to itself).
  auto fetch_records = [self](uint64_t minute,
                              std::function<void(record_list, caf::error)> done) {
    auto slot = tracker::slot_for(*self->state.keys, minute);
    auto timeout = self->state.dht_cfg.get_timeout;
    // The DHT actor answers by `timeout` with what it has; the request timeout is a backstop.
    self->request(self->state.dht, timeout + std::chrono::seconds(2), get_mutable_atom::value,
                  slot.dht_key, bytes(slot.salt.begin(), slot.salt.end()), caf::timespan{timeout})
      .then(
        [=](const std::vector<dht::mutable_item>& items) mutable {
          size_t dropped = 0;
          auto records = tracker::records_from_items(*self->state.keys, minute, items, &dropped,
                                                     &self->state.rejected);
          self->state.fetched += records.size();
          if (dropped > 0) {
            log::debug("minute {}: dropped {} undecryptable or invalid items", minute, dropped);
            report_rejections(self, minute);
          }
          done(std::move(records), caf::error{});
        },
        [=](caf::error& e) { done({}, std::move(e)); });
  };
  return {
    [=](get_records_atom, uint64_t minute) -> caf::result<record_list> {
      auto rp = self->make_response_promise<record_list>();
      fetch_records(minute, [=](record_list records, caf::error e) mutable {
        if (e)
          rp.deliver(std::move(e));
        else
          rp.deliver(std::move(records));
      });
      return rp;
    },
    [=](publish_record_atom, const crypto::record& r) -> caf::result<bool> {
      auto rp = self->make_response_promise<bool>();
      fetch_records(r.unix_minute(), [=](record_list existing, caf::error e) mutable {
        if (e)
          rp.deliver(std::move(e));
        else
          put_unless_full(self, r, existing, rp);
      });
      return rp;
    },
    [=](publish_record_atom, const crypto::record& r,
        const record_list& cache) -> caf::result<bool> {
      auto rp = self->make_response_promise<bool>();
      put_unless_full(self, r, cache, rp);
      return rp;
    },
    [=](retry_put_atom, uint64_t job_id) { attempt_put(self, job_id); },
    [=](stats_atom) {
      auto& r = self->state.rejected;
      return std::map<std::string, uint64_t>{
        {"rejected_malformed", r.malformed},         {"rejected_undecryptable", r.undecryptable},
        {"rejected_bad_signature", r.bad_signature}, {"rejected_wrong_topic", r.wrong_topic},
        {"rejected_stale", r.stale},                 {"duplicate_records", r.duplicate},
        {"pending_puts", self->state.jobs.size()},
        {"records_published", self->state.published},
        {"record_puts_failed", self->state.put_failures},
        {"records_skipped_full", self->state.skipped_full},
        {"records_fetched", self->state.fetched}};
    },
  };
}

} // namespace dtt
