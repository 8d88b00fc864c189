#include "actors/directory.hpp"

#include "actors/endpoint_record.hpp"
#include "actors/log.hpp"
#include "nat/advertise.hpp"

#include <caf/typed_response_promise.hpp>

#include <algorithm>
#include <functional>
#include <memory>

namespace dtt {

namespace {

const auto dlog = log::in("directory");

using self_ptr = directory_actor::stateful_pointer<directory_state>;

// Publishes `addrs` with seq = our clock in µs, at least seq_floor. A put that storing
// nodes refuse as "seq too small" means the DHT holds a record of ours with a later seq
// (our clock went back: a restart with an earlier clock): we read it and publish once more
// above it, or peers would go on dialing the old addresses until our clock passes it.
void publish_endpoint(self_ptr self, std::vector<gossip::socket_address> addrs, bool retry) {
  if (addrs.empty())
    return;
  auto micros = self->state.clock->unix_seconds() * 1000000
                + static_cast<int64_t>(++self->state.published % 1000000);
  micros = std::max(micros, self->state.seq_floor);
  auto item = dht::mutable_item::sign(self->state.key, {}, micros,
                                      encode_endpoint_record(addrs));
  self->request(self->state.dht, std::chrono::seconds(30), put_mutable_atom::value, item,
                int64_t{-1})
    .then(
      [=](const dht::put_outcome& o) {
        if (o.stored == 0 && o.seq_too_small > 0 && retry) {
          auto timeout = self->state.lookup_timeout;
          self->request(self->state.dht, timeout + std::chrono::seconds(1),
                        get_mutable_atom::value, self->state.key.public_key_bytes(),
                        bytes{}, caf::timespan{timeout})
            .then(
              [=](const std::vector<dht::mutable_item>& items) {
                for (auto& it : items)
                  if (it.key == self->state.key.public_key_bytes() && it.salt.empty())
                    self->state.seq_floor = std::max(self->state.seq_floor, it.seq + 1);
                dlog.info("endpoint record refused as older than ours in the DHT (our "
                          "clock went back?): publishing again above seq {}",
                          self->state.seq_floor - 1);
                publish_endpoint(self, addrs, false);
              },
              [=](caf::error& e) {
                dlog.warn("endpoint record refused (seq too small) and ours not read: {}",
                          self->system().render(e));
              });
          return;
        }
        self->state.seq_floor = std::max(self->state.seq_floor, micros + 1);
        if (o.stored == 0)
          dlog.warn("endpoint record stored on no node ({} refused as older, {} other "
                    "errors, {} no answer)", o.seq_too_small, o.cas_mismatch + o.other_errors,
                    o.no_response);
        else
          dlog.info("endpoint record published ({} addresses, stored on {} nodes)",
                    addrs.size(), o.stored);
      },
      [=](caf::error& e) {
        dlog.warn("endpoint record not published: {}", self->system().render(e));
      });
}

// Publishes the record with the addresses in force (nat::advertised_addresses); `only_if_changed`:
// not when they are what the last record held.
void publish_current(self_ptr self, bool only_if_changed) {
  if (!self->state.advertise.empty()) {
    if (!only_if_changed)
      publish_endpoint(self, self->state.advertise, true);
    return;
  }
  self->request(self->state.gossip, std::chrono::seconds(5), local_addresses_atom::value)
    .then(
      [=](const std::vector<gossip::socket_address>& local) {
        auto addrs = nat::advertised_addresses({}, local, self->state.mapped,
                                               self->state.external_ip);
        if (only_if_changed && addrs == self->state.last_published)
          return;
        self->state.last_published = addrs;
        publish_endpoint(self, addrs, true);
      },
      [=](caf::error& e) {
        dlog.warn("no local addresses to publish: {}", self->system().render(e));
      });
}

} // namespace

directory_actor::behavior_type directory(directory_actor::stateful_pointer<directory_state> self,
                                         crypto::signing_key key, dht_actor dht,
                                         gossip_actor gossip, const crypto::wall_clock* clock,
                                         std::chrono::milliseconds lookup_timeout,
                                         std::vector<gossip::socket_address> advertise) {
  self->state.key = std::move(key);
  self->state.dht = std::move(dht);
  self->state.gossip = std::move(gossip);
  self->state.clock = clock;
  self->state.lookup_timeout = lookup_timeout;
  self->state.advertise = std::move(advertise);
  return {
    [=](resolve_atom, std::vector<gossip::endpoint_id> ids)
      -> caf::result<std::vector<gossip::endpoint_id>> {
      auto rp = self->make_response_promise<std::vector<gossip::endpoint_id>>();
      struct pending {
        size_t left;
        std::vector<gossip::endpoint_id> resolved;
      };
      auto p = std::make_shared<pending>(pending{ids.size(), {}});
      auto finish = [=]() mutable {
        if (--p->left == 0)
          rp.deliver(std::move(p->resolved));
      };
      // A fresh lookup that found nothing usable: an id resolved before keeps its old
      // addresses (the gossip actor has them), anything else is left out.
      auto not_found = [=](const gossip::endpoint_id& id) {
        if (self->state.known.count(id) > 0)
          p->resolved.push_back(id);
      };
      if (ids.empty()) {
        rp.deliver(std::vector<gossip::endpoint_id>{});
        return rp;
      }
      for (auto& id : ids) {
        auto k = self->state.known.find(id);
        if (k != self->state.known.end()
            && self->clock().now() - k->second < self->state.known_ttl) {
          p->resolved.push_back(id);
          finish();
          continue;
        }
        auto timeout = self->state.lookup_timeout;
        self->request(self->state.dht, timeout + std::chrono::seconds(1), get_mutable_atom::value,
                      id, bytes{}, caf::timespan{timeout})
          .then(
            [=](const std::vector<dht::mutable_item>& items) mutable {
              // Highest seq wins; items were signature-checked by the DHT node.
              const dht::mutable_item* best = nullptr;
              for (auto& it : items)
                if (it.key == id && it.salt.empty() && (!best || it.seq > best->seq))
                  best = &it;
              if (best) {
                if (auto addrs = decode_endpoint_record(best->value)) {
                  self->state.known[id] = self->clock().now();
                  self->state.addresses[id] = *addrs;
                  self->send(self->state.gossip, add_addresses_atom::value, id, *addrs);
                  p->resolved.push_back(id);
                } else {
                  log::info_limited("directory.bad_endpoint_record",
                                    "endpoint record of {} unusable: {}",
                                    to_hex(byte_view(id).sub(0, 4)), addrs.err().message());
                  not_found(id);
                }
              } else {
                dlog.debug("no endpoint record for {}", to_hex(byte_view(id).sub(0, 4)));
                not_found(id);
              }
              finish();
            },
            [=](caf::error& e) mutable {
              dlog.debug("endpoint lookup of {} failed: {}", to_hex(byte_view(id).sub(0, 4)),
                         self->system().render(e));
              not_found(id);
              finish();
            });
      }
      return rp;
    },
    [=](peer_addresses_atom, std::vector<gossip::endpoint_id> ids)
      -> caf::result<peer_address_list> {
      auto rp = self->make_response_promise<peer_address_list>();
      self->request(caf::actor_cast<resolver_actor>(self), caf::infinite, resolve_atom::value,
                    std::move(ids))
        .then(
          [=](const std::vector<gossip::endpoint_id>& resolved) mutable {
            peer_address_list out;
            for (auto& id : resolved)
              if (auto a = self->state.addresses.find(id); a != self->state.addresses.end())
                out.emplace_back(id, a->second);
            rp.deliver(std::move(out));
          },
          [=](caf::error& e) mutable { rp.deliver(std::move(e)); });
      return rp;
    },
    [=](publish_record_atom) {
      // Refresh well before storing nodes expire items (libtorrent keeps them ~2 h).
      self->delayed_send(self, std::chrono::minutes(30), publish_record_atom::value);
      publish_current(self, false);
    },
    [=](external_address_atom, const std::string& ip) {
      if (ip == self->state.external_ip)
        return;
      dlog.info("external address {} (reported by a majority of DHT responders)", ip);
      self->state.external_ip = ip;
      publish_current(self, true);
    },
    [=](port_mapped_atom, const std::vector<gossip::socket_address>& mapped) {
      if (mapped == self->state.mapped)
        return;
      self->state.mapped = mapped;
      publish_current(self, true);
    },
  };
}

} // namespace dtt
