#include "nat/port_mapping.hpp"

#include <arpa/inet.h>

#include <algorithm>

namespace dtt::nat {

const char* to_string(protocol p) noexcept { return p == protocol::tcp ? "TCP" : "UDP"; }

const char* to_string(method m) noexcept {
  switch (m) {
    case method::upnp: return "upnp";
    case method::natpmp: return "natpmp";
    case method::pcp: return "pcp";
    default: return "none";
  }
}

const char* to_string(mode m) noexcept {
  switch (m) {
    case mode::off: return "off";
    case mode::upnp: return "upnp";
    case mode::natpmp: return "natpmp";
    case mode::pcp: return "pcp";
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
  if (text == "pcp")
    return mode::pcp;
  if (text == "off")
    return mode::off;
  return error{errc::invalid_argument,
               "\"" + std::string(text.substr(0, 64)) + "\" is not auto, upnp, natpmp, pcp or off"};
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

bool pinhole_address(std::string_view text) noexcept {
  if (text.empty() || text.size() > 45 || text.find('\0') != std::string_view::npos)
    return false;
  std::string ip(text);
  in6_addr a{};
  if (inet_pton(AF_INET6, ip.c_str(), &a) != 1)
    return false;
  const uint8_t* b = a.s6_addr;
  bool zero_prefix = std::all_of(b, b + 10, [](uint8_t x) { return x == 0; });
  if (zero_prefix) // unspecified, loopback, IPv4-compatible and IPv4-mapped
    return false;
  if (b[0] == 0xff)                       // multicast
    return false;
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) // link-local fe80::/10
    return false;
  if ((b[0] & 0xfe) == 0xfc)              // unique-local fc00::/7
    return false;
  return true;
}

result<pinhole> check_pinhole_answer(protocol proto, std::string_view ip, uint16_t port,
                                     std::string_view unique_id, std::chrono::seconds lease,
                                     method via) {
  if (!pinhole_address(ip))
    return error{errc::malformed, "pinhole address is not a global IPv6 literal"};
  if (port == 0)
    return error{errc::malformed, "pinhole port 0"};
  if (unique_id.empty() || unique_id.size() > 5
      || !std::all_of(unique_id.begin(), unique_id.end(),
                      [](char c) { return c >= '0' && c <= '9'; }))
    return error{errc::malformed, "pinhole id is not a number of at most 5 digits"};
  unsigned long id = std::stoul(std::string(unique_id));
  if (id > 65535)
    return error{errc::malformed, "pinhole id over 65535"};
  if (lease.count() < 1 || lease > max_pinhole_lease)
    return error{errc::malformed, "pinhole lease out of range"};
  pinhole h;
  h.proto = proto;
  h.ip = std::string(ip);
  h.port = port;
  h.id = static_cast<uint16_t>(id);
  h.lease = lease;
  h.via = via;
  return h;
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
