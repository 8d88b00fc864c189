#include "nat/advertise.hpp"

#include <algorithm>

namespace dtt::nat {

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
  for (auto& l : local)
    add(l);
  return out;
}

} // namespace dtt::nat
