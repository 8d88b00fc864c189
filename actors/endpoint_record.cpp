#include "actors/endpoint_record.hpp"

#include "crypto/bep44.hpp"

#include <arpa/inet.h>

#include <string>

namespace dtt {

namespace {

bool valid_ip(const std::string& ip, bool v6) {
  // inet_pton reads a C string: a NUL would hide the bytes after it from the check.
  if (ip.find('\0') != std::string::npos)
    return false;
  unsigned char buf[16];
  return inet_pton(v6 ? AF_INET6 : AF_INET, ip.c_str(), buf) == 1;
}

} // namespace

bytes encode_endpoint_record(const std::vector<gossip::socket_address>& addrs) {
  std::string out;
  for (auto& a : addrs) {
    std::string item = a.ip.find(':') != std::string::npos ? "[" + a.ip + "]" : a.ip;
    item += ":" + std::to_string(a.port);
    // Keep the bencoded value within BEP 44's 1000 bytes.
    if (out.size() + item.size() + 1 > crypto::bep44::max_value_size - 8)
      break;
    if (!out.empty())
      out += ' ';
    out += item;
  }
  return bytes(out.begin(), out.end());
}

result<std::vector<gossip::socket_address>> decode_endpoint_record(byte_view value) {
  if (value.size() > crypto::bep44::max_value_size)
    return error{errc::too_large, "endpoint record over 1000 bytes"};
  std::vector<gossip::socket_address> out;
  std::string text(value.as_string());
  size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find(' ', pos);
    if (end == std::string::npos)
      end = text.size();
    auto item = text.substr(pos, end - pos);
    pos = end + 1;
    auto colon = item.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 >= item.size())
      return error{errc::malformed, "endpoint record item without port: " + item};
    auto host = item.substr(0, colon);
    bool v6 = host.front() == '[';
    if (v6) {
      if (host.size() < 3 || host.back() != ']')
        return error{errc::malformed, "bad IPv6 literal: " + item};
      host = host.substr(1, host.size() - 2);
    }
    auto port_text = item.substr(colon + 1);
    if (port_text.size() > 5 || port_text.find_first_not_of("0123456789") != std::string::npos)
      return error{errc::malformed, "bad port: " + item};
    auto port = std::stoul(port_text);
    if (port == 0 || port > 65535 || !valid_ip(host, v6))
      return error{errc::malformed, "bad address: " + item};
    out.push_back({host, static_cast<uint16_t>(port)});
  }
  if (out.empty())
    return error{errc::malformed, "endpoint record lists no address"};
  return out;
}

} // namespace dtt
