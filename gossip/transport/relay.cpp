#include "gossip/transport/relay.hpp"

#include <algorithm>
#include <cstring>

namespace dtt::net {

namespace {

constexpr uint8_t kind_open = 1;
constexpr uint8_t kind_incoming = 2;
constexpr uint8_t kind_data = 3;
constexpr uint8_t kind_close = 4;
constexpr size_t head_size = 1 + 4;
constexpr size_t open_size = head_size + 32;
constexpr size_t close_size = head_size + 1;

result<bytes> encode_with_id(uint8_t kind, uint32_t channel, const endpoint_id& id) {
  if (channel & relay_reply_bit)
    return error{errc::invalid_argument, "relay channel number must be below 2^31"};
  bytes out;
  out.reserve(open_size);
  out.push_back(kind);
  put_be32(out, channel);
  out.insert(out.end(), id.begin(), id.end());
  return out;
}

// The channel and id of an open or incoming body of `kind`.
result<std::pair<uint32_t, endpoint_id>> decode_with_id(byte_view b, uint8_t kind,
                                                        const char* what) {
  if (b.size() != open_size || b[0] != kind)
    return error{errc::malformed, std::string(what) + ": wrong kind or size"};
  uint32_t channel = get_be32(b.data() + 1);
  if (channel & relay_reply_bit)
    return error{errc::malformed, std::string(what) + ": channel number has the reply bit"};
  endpoint_id id{};
  std::memcpy(id.data(), b.data() + head_size, id.size());
  return std::make_pair(channel, id);
}

} // namespace

const char* to_string(relay_close_reason r) noexcept {
  switch (r) {
    case relay_close_reason::done: return "done";
    case relay_close_reason::not_connected: return "not_connected";
    case relay_close_reason::self_target: return "self_target";
    case relay_close_reason::busy: return "busy";
    case relay_close_reason::over_budget: return "over_budget";
    case relay_close_reason::unknown_channel: return "unknown_channel";
    case relay_close_reason::link_lost: return "link_lost";
    case relay_close_reason::refused: return "refused";
  }
  return "unknown";
}

result<bytes> encode(const relay_open& m) {
  return encode_with_id(kind_open, m.channel, m.target);
}

result<bytes> encode(const relay_incoming& m) {
  return encode_with_id(kind_incoming, m.channel, m.requester);
}

result<bytes> encode_relay_data(uint32_t channel, byte_view chunk) {
  if (chunk.size() == 0 || chunk.size() > max_relay_chunk)
    return error{errc::invalid_argument, "relay data chunk must be 1.." +
                                           std::to_string(max_relay_chunk) + " bytes"};
  bytes out;
  out.reserve(head_size + chunk.size());
  out.push_back(kind_data);
  put_be32(out, channel);
  out.insert(out.end(), chunk.begin(), chunk.end());
  return out;
}

bytes encode(const relay_close& m) {
  bytes out;
  out.reserve(close_size);
  out.push_back(kind_close);
  put_be32(out, m.channel);
  out.push_back(static_cast<uint8_t>(m.reason));
  return out;
}

result<relay_open> decode_relay_open(byte_view b) {
  auto d = decode_with_id(b, kind_open, "relay open");
  if (!d)
    return d.err();
  return relay_open{d->first, d->second};
}

result<relay_incoming> decode_relay_incoming(byte_view b) {
  auto d = decode_with_id(b, kind_incoming, "relay incoming");
  if (!d)
    return d.err();
  return relay_incoming{d->first, d->second};
}

result<relay_data> decode_relay_data(byte_view b) {
  if (b.size() < head_size + 1 || b.size() > head_size + max_relay_chunk || b[0] != kind_data)
    return error{errc::malformed, "relay data: wrong kind or size"};
  return relay_data{get_be32(b.data() + 1),
                    byte_view{b.data() + head_size, b.size() - head_size}};
}

result<relay_close> decode_relay_close(byte_view b) {
  if (b.size() != close_size || b[0] != kind_close)
    return error{errc::malformed, "relay close: wrong kind or size"};
  if (b[5] > static_cast<uint8_t>(relay_close_reason::refused))
    return error{errc::malformed, "relay close: unknown reason"};
  return relay_close{get_be32(b.data() + 1), static_cast<relay_close_reason>(b[5])};
}

// --- relay_pacer ----------------------------------------------------------------------------

void relay_pacer::refill(relay_clock::time_point now) {
  if (now > at_) {
    tokens_ = std::min(burst_, tokens_ + std::chrono::duration<double>(now - at_).count() * rate_);
    at_ = now;
  }
}

bool relay_pacer::take(size_t n, relay_clock::time_point now) {
  refill(now);
  if (double(n) > tokens_)
    return false;
  tokens_ -= double(n);
  return true;
}

size_t relay_pacer::available(relay_clock::time_point now) {
  refill(now);
  return tokens_ > 0 ? static_cast<size_t>(tokens_) : 0;
}

relay_clock::time_point relay_pacer::when(size_t n, relay_clock::time_point now) {
  refill(now);
  if (double(n) <= tokens_)
    return now;
  if (double(n) > burst_ || rate_ <= 0)
    return relay_clock::time_point::max();
  auto wait = std::chrono::duration<double>((double(n) - tokens_) / rate_);
  return now + std::chrono::duration_cast<relay_clock::duration>(wait)
         + relay_clock::duration(1);
}

// --- relay_table ------------------------------------------------------------------------------

std::pair<std::optional<relay_incoming>, relay_close_reason>
relay_table::on_open(const endpoint_id& from, const relay_open& m, bool linked_to_target,
                     const endpoint_id& self, relay_clock::time_point now) {
  if (m.target == from || m.target == self)
    return {std::nullopt, relay_close_reason::self_target};
  if (!linked_to_target)
    return {std::nullopt, relay_close_reason::not_connected};
  if (by_a_.count({from, m.channel})) // a number in use on that link: the requester's mistake
    return {std::nullopt, relay_close_reason::busy};
  size_t from_requester = 0, to_target = 0;
  for (auto& [id, l] : links_) {
    from_requester += l.a.peer == from;
    to_target += l.b.peer == m.target;
  }
  if (links_.size() >= cfg_.max_channels || from_requester >= cfg_.max_per_requester
      || to_target >= cfg_.max_per_target)
    return {std::nullopt, relay_close_reason::busy};
  // The requester's open rate (a pacer counting opens, not bytes).
  auto bucket = opens_.find(from);
  if (bucket == opens_.end()) {
    if (opens_.size() >= cfg_.max_requesters) // forget requesters whose budget is whole again
      for (auto it = opens_.begin(); it != opens_.end();)
        it = it->second.available(now) >= static_cast<size_t>(cfg_.open_burst) ? opens_.erase(it)
                                                                               : std::next(it);
    if (opens_.size() >= cfg_.max_requesters)
      return {std::nullopt, relay_close_reason::busy};
    bucket = opens_.emplace(from, relay_pacer(cfg_.opens_per_minute / 60, cfg_.open_burst, now))
               .first;
  }
  if (!bucket->second.take(1, now))
    return {std::nullopt, relay_close_reason::busy};
  // R's number on the R-B link: the next one below 2^31 not in use with B.
  uint32_t number = 0;
  for (uint32_t tries = 0; tries <= cfg_.max_channels; ++tries) {
    uint32_t n = next_number_;
    next_number_ = (next_number_ + 1) & (relay_own_bit - 1);
    if (next_number_ == 0)
      next_number_ = 1;
    if (!by_b_.count({m.target, n | relay_reply_bit})) {
      number = n;
      break;
    }
  }
  if (number == 0)
    return {std::nullopt, relay_close_reason::busy};
  auto id = next_id_++;
  links_.emplace(id, link{{from, m.channel}, {m.target, number},
                          relay_pacer(cfg_.bytes_per_second, cfg_.burst_bytes, now), now});
  by_a_[{from, m.channel}] = id;
  by_b_[{m.target, number | relay_reply_bit}] = id;
  return {relay_incoming{number, from}, relay_close_reason::done};
}

relay_table::verdict relay_table::on_data(const endpoint_id& from, uint32_t number, size_t size,
                                          relay_clock::time_point now) {
  verdict v;
  bool from_a = true;
  auto it = by_a_.find({from, number});
  if (it == by_a_.end()) {
    it = by_b_.find({from, number});
    from_a = false;
    if (it == by_b_.end()) {
      v.close = relay_close_reason::unknown_channel;
      return v;
    }
  }
  auto id = it->second;
  auto& l = links_.at(id);
  if (!l.budget.take(size, now)) {
    v.close = relay_close_reason::over_budget;
    v.other = from_a ? hop{l.b.peer, l.b.number} : hop{l.a.peer, l.a.number | relay_reply_bit};
    erase(id);
    return v;
  }
  bytes_ += size;
  l.last = now;
  v.forward = from_a ? hop{l.b.peer, l.b.number} : hop{l.a.peer, l.a.number | relay_reply_bit};
  return v;
}

std::optional<relay_table::hop> relay_table::on_close(const endpoint_id& from, uint32_t number) {
  auto it = by_a_.find({from, number});
  bool from_a = it != by_a_.end();
  if (!from_a) {
    it = by_b_.find({from, number});
    if (it == by_b_.end())
      return std::nullopt;
  }
  auto id = it->second;
  auto& l = links_.at(id);
  hop other = from_a ? hop{l.b.peer, l.b.number} : hop{l.a.peer, l.a.number | relay_reply_bit};
  erase(id);
  return other;
}

std::vector<relay_table::hop> relay_table::on_link_closed(const endpoint_id& peer) {
  std::vector<hop> out;
  std::vector<size_t> gone;
  for (auto& [id, l] : links_) {
    if (l.a.peer == peer) {
      out.push_back({l.b.peer, l.b.number});
      gone.push_back(id);
    } else if (l.b.peer == peer) {
      out.push_back({l.a.peer, l.a.number | relay_reply_bit});
      gone.push_back(id);
    }
  }
  for (auto id : gone)
    erase(id);
  return out;
}

std::vector<relay_table::hop> relay_table::expire(relay_clock::time_point now) {
  std::vector<hop> out;
  std::vector<size_t> gone;
  for (auto& [id, l] : links_)
    if (now - l.last >= cfg_.idle_timeout) {
      out.push_back({l.a.peer, l.a.number | relay_reply_bit});
      out.push_back({l.b.peer, l.b.number});
      gone.push_back(id);
    }
  for (auto id : gone)
    erase(id);
  return out;
}

bool relay_table::carries(const endpoint_id& peer) const {
  for (auto& [id, l] : links_)
    if (l.a.peer == peer || l.b.peer == peer)
      return true;
  return false;
}

void relay_table::erase(size_t id) {
  auto it = links_.find(id);
  if (it == links_.end())
    return;
  by_a_.erase({it->second.a.peer, it->second.a.number});
  by_b_.erase({it->second.b.peer, it->second.b.number | relay_reply_bit});
  links_.erase(it);
}

} // namespace dtt::net
