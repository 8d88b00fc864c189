#include "nat/advertise.hpp"

#include <arpa/inet.h>

#include <algorithm>

namespace dtt::nat {

namespace {

bool is_loopback(const std::string& ip) {
  in_addr a4{};
  if (inet_pton(AF_INET, ip.c_str(), &a4) == 1)
    return (ntohl(a4.s_addr) >> 24) == 127;
  return ip == "::1";
}

} // namespace

std::vector<socket_address> advertised_addresses(const std::vector<socket_address>& configured,
                                                 const std::vector<socket_address>& local,
                                                 const std::vector<socket_address>& mapped,
                                                 const std::string& external_ip) {
  if (!configured.empty())
    return configured;
  std::vector<socket_address> out;
  auto add = [&](const socket_address& a) {
    if (std::find(out.begin(), out.end(), a) == out.end())
      out.push_back(a);
  };
  for (auto& m : mapped)
    add(m);
  if (!external_ip.empty())
    for (auto& l : local)
      if (l.ip == external_ip)
        add(l);
  // A loopback address reaches only the host that dials it: it is published only by a node
  // that listens on nothing else (a test or a single-host setup).
  const bool all_loopback =
    std::all_of(local.begin(), local.end(), [](auto& l) { return is_loopback(l.ip); });
  for (auto& l : local)
    if (all_loopback || !is_loopback(l.ip))
      add(l);
  return out;
}

} // namespace dtt::nat
