#include "gossip/transport/reversal.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace dtt::net {

namespace {

constexpr uint8_t kind_request = 1;
constexpr uint8_t kind_notice = 2;
constexpr uint8_t kind_notice6 = 3;
constexpr size_t request_size = 1 + 32 + 2;
constexpr size_t notice_size = 1 + 32 + 2 + 4;
constexpr size_t notice6_size = 1 + 32 + 2 + 16;
constexpr uint8_t kind_hint = 4;
constexpr uint8_t kind_hint6 = 5;
constexpr size_t hint_size = 1 + 32 + 4;
constexpr size_t hint6_size = 1 + 32 + 16;

void put16(bytes& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

uint16_t get16(byte_view b, size_t at) {
  return static_cast<uint16_t>((b[at] << 8) | b[at + 1]);
}

// Drops the entries with the oldest time until there is room for one more.
template <class Map>
void evict_oldest(Map& m, size_t max) {
  while (m.size() >= max && !m.empty()) {
    auto oldest = std::min_element(m.begin(), m.end(), [](const auto& a, const auto& b) {
      return a.second < b.second;
    });
    m.erase(oldest);
  }
}

// A numeric IPv4 or IPv6 literal as 4 or 16 bytes (IPv4-mapped IPv6 refused: give it as IPv4).
result<bytes> ip_bytes(const std::string& ip, const char* what) {
  in_addr a{};
  in6_addr a6{};
  if (ip.size() <= 15 && inet_pton(AF_INET, ip.c_str(), &a) == 1) {
    auto* p = reinterpret_cast<const uint8_t*>(&a.s_addr);
    return bytes(p, p + 4);
  }
  if (ip.size() > 45 || inet_pton(AF_INET6, ip.c_str(), &a6) != 1)
    return error{errc::invalid_argument, std::string(what) + ": not an IPv4 or IPv6 literal"};
  if (IN6_IS_ADDR_V4MAPPED(&a6))
    return error{errc::invalid_argument, std::string(what) + ": an IPv4-mapped IPv6 address"};
  return bytes(a6.s6_addr, a6.s6_addr + 16);
}

// The 4 or 16 address bytes at `at` as text; unusable addresses (unspecified, multicast,
// broadcast; for IPv6 also link-local, which needs a zone the relay cannot know, and
// IPv4-mapped, sent as IPv4) are malformed.
result<std::string> ip_text(byte_view b, size_t at, bool v6, const char* what) {
  if (v6) {
    in6_addr a6{};
    std::memcpy(a6.s6_addr, b.data() + at, 16);
    if (IN6_IS_ADDR_UNSPECIFIED(&a6) || IN6_IS_ADDR_MULTICAST(&a6) || IN6_IS_ADDR_LINKLOCAL(&a6)
        || IN6_IS_ADDR_V4MAPPED(&a6))
      return error{errc::malformed, std::string(what) + ": unusable address"};
    char text6[INET6_ADDRSTRLEN] = {0};
    inet_ntop(AF_INET6, &a6, text6, sizeof(text6));
    return std::string(text6);
  }
  in_addr a{};
  std::memcpy(&a.s_addr, b.data() + at, 4);
  auto h = ntohl(a.s_addr);
  if (h == 0 || (h >> 28) == 0xe || h == 0xffffffffu)
    return error{errc::malformed, std::string(what) + ": unusable address"};
  char text[INET_ADDRSTRLEN] = {0};
  inet_ntop(AF_INET, &a, text, sizeof(text));
  return std::string(text);
}

} // namespace

bytes encode(const reversal_request& r) {
  bytes out;
  out.push_back(kind_request);
  out.insert(out.end(), r.target.begin(), r.target.end());
  put16(out, r.port);
  return out;
}

result<bytes> encode(const reversal_notice& n) {
  auto ip = ip_bytes(n.dial.ip, "reversal notice");
  if (!ip)
    return ip.err();
  bytes out;
  out.push_back(ip->size() == 4 ? kind_notice : kind_notice6);
  out.insert(out.end(), n.requester.begin(), n.requester.end());
  put16(out, n.dial.port);
  out.insert(out.end(), ip->begin(), ip->end());
  return out;
}

result<bytes> encode(const punch_hint& h) {
  auto ip = ip_bytes(h.ip, "punch hint");
  if (!ip)
    return ip.err();
  bytes out;
  out.push_back(ip->size() == 4 ? kind_hint : kind_hint6);
  out.insert(out.end(), h.target.begin(), h.target.end());
  out.insert(out.end(), ip->begin(), ip->end());
  return out;
}

result<punch_hint> decode_punch_hint(byte_view b) {
  const bool v6 = b.size() == hint6_size && b[0] == kind_hint6;
  if (!v6 && (b.size() != hint_size || b[0] != kind_hint))
    return error{errc::malformed, "punch hint: bad size or kind"};
  punch_hint h;
  std::memcpy(h.target.data(), b.data() + 1, 32);
  auto ip = ip_text(b, 33, v6, "punch hint");
  if (!ip)
    return ip.err();
  h.ip = std::move(*ip);
  return h;
}

result<reversal_request> decode_reversal_request(byte_view b) {
  if (b.size() != request_size || b[0] != kind_request)
    return error{errc::malformed, "reversal request: bad size or kind"};
  reversal_request r;
  std::memcpy(r.target.data(), b.data() + 1, 32);
  r.port = get16(b, 33);
  if (r.port == 0)
    return error{errc::malformed, "reversal request: port 0"};
  return r;
}

result<reversal_notice> decode_reversal_notice(byte_view b) {
  const bool v6 = b.size() == notice6_size && b[0] == kind_notice6;
  if (!v6 && (b.size() != notice_size || b[0] != kind_notice))
    return error{errc::malformed, "reversal notice: bad size or kind"};
  reversal_notice n;
  std::memcpy(n.requester.data(), b.data() + 1, 32);
  n.dial.port = get16(b, 33);
  if (n.dial.port == 0)
    return error{errc::malformed, "reversal notice: port 0"};
  auto ip = ip_text(b, 35, v6, "reversal notice");
  if (!ip)
    return ip.err();
  n.dial.ip = std::move(*ip);
  return n;
}

bool is_local_ip(const std::string& ip) noexcept {
  in_addr a{};
  in6_addr a6{};
  if (ip.size() <= 15 && inet_pton(AF_INET, ip.c_str(), &a) == 1) {
    auto h = ntohl(a.s_addr);
    return (h >> 24) == 127 || (h >> 24) == 10 || (h >> 20) == 0xac1 || (h >> 16) == 0xc0a8
           || (h >> 16) == 0xa9fe || (h >> 22) == (0x64400000u >> 22);
  }
  if (ip.size() > 45 || inet_pton(AF_INET6, ip.c_str(), &a6) != 1)
    return false;
  return IN6_IS_ADDR_LOOPBACK(&a6) || IN6_IS_ADDR_LINKLOCAL(&a6) || (a6.s6_addr[0] & 0xfe) == 0xfc;
}

keyed_budget::keyed_budget(double rate, double burst, size_t max_keys)
  : rate_(rate), burst_(burst), max_keys_(std::max<size_t>(max_keys, 1)) {}

bool keyed_budget::take(const endpoint_id& key, reversal_clock::time_point now) {
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    while (buckets_.size() >= max_keys_) {
      auto oldest = std::min_element(buckets_.begin(), buckets_.end(),
                                     [](const auto& a, const auto& b) {
                                       return a.second.at < b.second.at;
                                     });
      buckets_.erase(oldest);
    }
    it = buckets_.emplace(key, bucket{burst_, now}).first;
  }
  auto& b = it->second;
  double dt = std::chrono::duration<double>(now - b.at).count();
  b.tokens = std::min(burst_, b.tokens + std::max(0.0, dt) * rate_);
  b.at = now;
  if (b.tokens < 1)
    return false;
  b.tokens -= 1;
  return true;
}

reversal_relay::reversal_relay(config cfg)
  : by_requester_(cfg.per_requester_rate, cfg.per_requester_burst, cfg.max_keys),
    by_target_(cfg.per_target_rate, cfg.per_target_burst, cfg.max_keys) {}

std::pair<std::optional<reversal_notice>, relay_refusal>
reversal_relay::on_request(const endpoint_id& from, const std::string& observed_ip,
                           const reversal_request& r, bool connected_to_target,
                           reversal_clock::time_point now, const std::string& target_ip) {
  if (r.target == from)
    return {std::nullopt, relay_refusal::self_target};
  if (!connected_to_target)
    return {std::nullopt, relay_refusal::not_connected};
  if (!target_ip.empty() && !useful_to(observed_ip, target_ip))
    return {std::nullopt, relay_refusal::bad_address};
  reversal_notice n{from, {observed_ip, r.port}};
  if (!encode(n))
    return {std::nullopt, relay_refusal::bad_address};
  if (!by_requester_.take(from, now))
    return {std::nullopt, relay_refusal::requester_budget};
  if (!by_target_.take(r.target, now))
    return {std::nullopt, relay_refusal::target_budget};
  return {n, relay_refusal::none};
}

reversal_dialer::reversal_dialer(std::chrono::seconds dedupe, double rate, double burst,
                                 size_t max_keys)
  : dedupe_(dedupe), rate_(rate), burst_(burst), tokens_(burst),
    max_keys_(std::max<size_t>(max_keys, 1)) {}

bool reversal_dialer::should_dial(const reversal_notice& n, bool already_connected,
                                  reversal_clock::time_point now) {
  if (already_connected)
    return false;
  auto it = last_.find(n.requester);
  if (it != last_.end() && now - it->second < dedupe_)
    return false;
  if (at_ != reversal_clock::time_point{}) {
    double dt = std::chrono::duration<double>(now - at_).count();
    tokens_ = std::min(burst_, tokens_ + std::max(0.0, dt) * rate_);
  }
  at_ = now;
  if (tokens_ < 1)
    return false;
  tokens_ -= 1;
  if (it == last_.end())
    evict_oldest(last_, max_keys_);
  last_[n.requester] = now;
  return true;
}

reversal_requester::reversal_requester(size_t fanout, std::chrono::seconds retry,
                                       size_t max_keys)
  : fanout_(fanout), retry_(retry), max_keys_(std::max<size_t>(max_keys, 1)) {}

std::vector<endpoint_id> reversal_requester::on_dial_failed(
  const endpoint_id& target, const std::vector<endpoint_id>& connected,
  reversal_clock::time_point now) {
  auto it = asked_.find(target);
  if (it != asked_.end() && now - it->second.at < retry_)
    return {};
  std::vector<endpoint_id> out;
  for (auto& c : connected)
    if (c != target && out.size() < fanout_)
      out.push_back(c);
  if (out.empty())
    return out;
  if (it == asked_.end())
    evict_oldest(asked_, max_keys_);
  asked_[target] = attempt{now, out, {}};
  return out;
}

bool reversal_requester::asked(const endpoint_id& from, const endpoint_id& target,
                               reversal_clock::time_point now) const {
  auto it = asked_.find(target);
  return it != asked_.end() && now - it->second.at < retry_
         && std::find(it->second.via.begin(), it->second.via.end(), from)
              != it->second.via.end();
}

bool reversal_requester::on_hint(const endpoint_id& from, const punch_hint& h,
                                 reversal_clock::time_point now) {
  auto it = asked_.find(h.target);
  if (it == asked_.end() || now - it->second.at >= retry_)
    return false;
  auto& a = it->second;
  if (std::find(a.via.begin(), a.via.end(), from) == a.via.end()
      || std::find(a.primed.begin(), a.primed.end(), h.ip) != a.primed.end()
      || a.primed.size() >= a.via.size())
    return false;
  a.primed.push_back(h.ip);
  return true;
}

} // namespace dtt::net
