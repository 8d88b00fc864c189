#include "dht/node_id.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace dtt::dht {

bool closer(const node_id& target, const node_id& a, const node_id& b) noexcept {
  for (size_t i = 0; i < target.size(); ++i) {
    uint8_t da = a[i] ^ target[i];
    uint8_t db = b[i] ^ target[i];
    if (da != db)
      return da < db;
  }
  return false;
}

int common_prefix_bits(const node_id& a, const node_id& b) noexcept {
  for (size_t i = 0; i < a.size(); ++i) {
    uint8_t x = a[i] ^ b[i];
    if (x) {
      int bits = static_cast<int>(i) * 8;
      while (!(x & 0x80)) {
        x <<= 1;
        ++bits;
      }
      return bits;
    }
  }
  return 160;
}

node_id random_id(crypto::random_source& rng) {
  node_id id;
  rng.fill(id.data(), id.size());
  return id;
}

node_id random_id_with_prefix(const node_id& base, int bits, crypto::random_source& rng) {
  if (bits >= 160)
    return base;
  node_id id = random_id(rng);
  for (int i = 0; i <= bits; ++i) {
    uint8_t mask = static_cast<uint8_t>(0x80u >> (i % 8));
    bool bit = base[i / 8] & mask;
    if (i == bits)
      bit = !bit;
    id[i / 8] = static_cast<uint8_t>(bit ? (id[i / 8] | mask) : (id[i / 8] & ~mask));
  }
  return id;
}

bool is_local_address(const endpoint& ep) noexcept {
  const auto& a = ep.ip;
  if (ep.family == 4)
    return a[0] == 127 || a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16)
           || (a[0] == 192 && a[1] == 168) || (a[0] == 169 && a[1] == 254);
  bool loopback = a[15] == 1;
  for (size_t i = 0; i < 15; ++i)
    loopback = loopback && a[i] == 0;
  return loopback || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) || (a[0] & 0xfe) == 0xfc;
}

bool is_v4_mapped(const endpoint& ep) noexcept {
  if (ep.family != 6)
    return false;
  for (size_t i = 0; i < 10; ++i)
    if (ep.ip[i] != 0)
      return false;
  return ep.ip[10] == 0xff && ep.ip[11] == 0xff;
}

endpoint address_unit(const endpoint& ep) noexcept {
  endpoint k = ep;
  k.port = 0;
  if (k.family == 6)
    std::fill(k.ip.begin() + 8, k.ip.end(), uint8_t{0});
  return k;
}

uint32_t crc32c(byte_view data) noexcept {
  uint32_t crc = 0xffffffffu;
  for (uint8_t b : data) {
    crc ^= b;
    for (int i = 0; i < 8; ++i)
      crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u))); // reflected Castagnoli polynomial
  }
  return ~crc;
}

namespace {

// BEP 42: the address masked (IPv4: 0x030f3fff; IPv6: first 8 bytes & 0x0103070f1f3f7fff),
// with r (3 bits) in the top bits of the first byte, hashed with CRC-32C.
uint32_t bep42_crc(const endpoint& ep, uint8_t r) noexcept {
  static constexpr uint8_t mask4[4] = {0x03, 0x0f, 0x3f, 0xff};
  static constexpr uint8_t mask6[8] = {0x01, 0x03, 0x07, 0x0f, 0x1f, 0x3f, 0x7f, 0xff};
  uint8_t buf[8];
  size_t n = ep.family == 4 ? 4 : 8;
  for (size_t i = 0; i < n; ++i)
    buf[i] = static_cast<uint8_t>(ep.ip[i] & (n == 4 ? mask4[i] : mask6[i]));
  buf[0] = static_cast<uint8_t>(buf[0] | ((r & 7u) << 5));
  return crc32c(byte_view(buf, n));
}

} // namespace

bool bep42_valid(const node_id& id, const endpoint& ep) noexcept {
  if (is_local_address(ep))
    return true;
  uint32_t crc = bep42_crc(ep, id[19]);
  return id[0] == static_cast<uint8_t>(crc >> 24) && id[1] == static_cast<uint8_t>(crc >> 16)
         && (id[2] & 0xf8) == (static_cast<uint8_t>(crc >> 8) & 0xf8);
}

node_id bep42_id(const endpoint& ep, crypto::random_source& rng) {
  node_id id = random_id(rng);
  uint32_t crc = bep42_crc(ep, id[19]);
  id[0] = static_cast<uint8_t>(crc >> 24);
  id[1] = static_cast<uint8_t>(crc >> 16);
  id[2] = static_cast<uint8_t>((static_cast<uint8_t>(crc >> 8) & 0xf8) | (id[2] & 0x07));
  return id;
}

endpoint endpoint::v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port) {
  endpoint e;
  e.ip[0] = a;
  e.ip[1] = b;
  e.ip[2] = c;
  e.ip[3] = d;
  e.port = port;
  return e;
}

namespace {
std::optional<uint16_t> parse_port(const std::string& s) {
  if (s.empty() || s.size() > 5)
    return std::nullopt;
  uint32_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9')
      return std::nullopt;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v > 65535)
    return std::nullopt;
  return static_cast<uint16_t>(v);
}
} // namespace

std::optional<endpoint> endpoint::parse(const std::string& s) {
  endpoint e;
  if (!s.empty() && s[0] == '[') {
    auto close = s.find(']');
    if (close == std::string::npos || close + 1 >= s.size() || s[close + 1] != ':')
      return std::nullopt;
    auto host = s.substr(1, close - 1);
    if (inet_pton(AF_INET6, host.c_str(), e.ip.data()) != 1)
      return std::nullopt;
    e.family = 6;
    auto port = parse_port(s.substr(close + 2));
    if (!port)
      return std::nullopt;
    e.port = *port;
    return e;
  }
  auto colon = s.rfind(':');
  if (colon == std::string::npos)
    return std::nullopt;
  auto host = s.substr(0, colon);
  if (inet_pton(AF_INET, host.c_str(), e.ip.data()) != 1)
    return std::nullopt;
  auto port = parse_port(s.substr(colon + 1));
  if (!port)
    return std::nullopt;
  e.port = *port;
  return e;
}

std::string endpoint::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (family == 4) {
    inet_ntop(AF_INET, ip.data(), buf, sizeof(buf));
    return std::string(buf) + ":" + std::to_string(port);
  }
  inet_ntop(AF_INET6, ip.data(), buf, sizeof(buf));
  return "[" + std::string(buf) + "]:" + std::to_string(port);
}

bytes compact_endpoint(const endpoint& ep) {
  bytes out;
  append(out, ep.address());
  out.push_back(static_cast<uint8_t>(ep.port >> 8));
  out.push_back(static_cast<uint8_t>(ep.port & 0xff));
  return out;
}

std::optional<endpoint> parse_compact_endpoint(byte_view b) {
  endpoint e;
  if (b.size() == 6) {
    e.family = 4;
  } else if (b.size() == 18) {
    e.family = 6;
  } else {
    return std::nullopt;
  }
  size_t n = b.size() - 2;
  std::memcpy(e.ip.data(), b.data(), n);
  e.port = static_cast<uint16_t>((b[n] << 8) | b[n + 1]);
  return e;
}

bytes compact_nodes(const std::vector<node_entry>& nodes, uint8_t family) {
  bytes out;
  for (auto& n : nodes) {
    if (n.ep.family != family)
      continue;
    append(out, n.id);
    append(out, compact_endpoint(n.ep));
  }
  return out;
}

result<std::vector<node_entry>> parse_compact_nodes(byte_view b, uint8_t family,
                                                    size_t max_nodes, size_t* refused) {
  size_t rec = family == 4 ? 26 : 38;
  if (b.size() % rec != 0)
    return error{errc::length_mismatch, "compact nodes: length not a multiple of the record"};
  if (b.size() / rec > max_nodes)
    return error{errc::too_large, "compact nodes: too many records"};
  std::vector<node_entry> out;
  out.reserve(b.size() / rec);
  for (size_t off = 0; off < b.size(); off += rec) {
    node_entry n;
    n.id = to_array<20>(b.sub(off, 20));
    n.ep = *parse_compact_endpoint(b.sub(off + 20, rec - 20));
    bool unspecified = std::all_of(n.ep.ip.begin(), n.ep.ip.end(), [](uint8_t x) { return !x; });
    if (n.ep.port == 0 || unspecified || is_v4_mapped(n.ep)) {
      if (refused)
        ++*refused;
      continue;
    }
    out.push_back(n);
  }
  return out;
}

} // namespace dtt::dht
