#include "nat/port_mapping.hpp"

#include <arpa/inet.h>

#include <algorithm>

namespace dtt::nat {

const char* to_string(protocol p) noexcept { return p == protocol::tcp ? "TCP" : "UDP"; }

const char* to_string(method m) noexcept {
  switch (m) {
    case method::upnp: return "upnp";
    case method::natpmp: return "natpmp";
    default: return "none";
  }
}

const char* to_string(mode m) noexcept {
  switch (m) {
    case mode::off: return "off";
    case mode::upnp: return "upnp";
    case mode::natpmp: return "natpmp";
    default: return "auto";
  }
}

result<mode> parse_mode(std::string_view text) {
  if (text == "auto")
    return mode::automatic;
  if (text == "upnp")
    return mode::upnp;
  if (text == "natpmp")
    return mode::natpmp;
  if (text == "off")
    return mode::off;
  return error{errc::invalid_argument,
               "\"" + std::string(text.substr(0, 64)) + "\" is not auto, upnp, natpmp or off"};
}

result<mapping> check_answer(protocol proto, uint16_t internal_port, std::string_view external_ip,
                             long long external_port, long long lease_seconds,
                             std::chrono::seconds asked, method via) {
  if (external_ip.empty() || external_ip.size() > 15
      || external_ip.find('\0') != std::string_view::npos)
    return error{errc::malformed, "external address is not an IPv4 literal"};
  std::string ip(external_ip);
  in_addr a{};
  if (inet_pton(AF_INET, ip.c_str(), &a) != 1)
    return error{errc::malformed, "external address is not an IPv4 literal"};
  auto h = ntohl(a.s_addr);
  if (h == 0 || (h >> 24) == 127 || (h >> 28) == 0xe || h == 0xffffffffu)
    return error{errc::malformed, "external address " + ip + " is not usable"};
  if (external_port < 1 || external_port > 65535)
    return error{errc::malformed, "external port out of range"};
  if (lease_seconds < 0 || lease_seconds > max_lease.count())
    return error{errc::malformed, "lease out of range"};
  if (lease_seconds > 0 && lease_seconds < 10)
    return error{errc::malformed, "lease under 10 s"};
  mapping m;
  m.proto = proto;
  m.internal_port = internal_port;
  m.external_ip = ip;
  m.external_port = static_cast<uint16_t>(external_port);
  m.lease = lease_seconds == 0 ? std::min(asked, max_lease) : std::chrono::seconds(lease_seconds);
  m.via = via;
  return m;
}

void schedule::succeeded(clock::time_point now, std::chrono::seconds lease) {
  failures_ = 0;
  auto wait = std::chrono::duration_cast<clock::duration>(lease * cfg_.renew_at);
  next_ = now + std::max<clock::duration>(wait, cfg_.min_wait);
}

void schedule::failed(clock::time_point now) {
  auto wait = cfg_.retry_min;
  for (unsigned i = 0; i < failures_ && wait < cfg_.retry_max; ++i)
    wait *= 2;
  wait = std::min(wait, cfg_.retry_max);
  ++failures_;
  next_ = now + wait;
}

} // namespace dtt::nat
