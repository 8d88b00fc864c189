#include "actors/reachability.hpp"

#include "messages/atoms.hpp"
#include "messages/gossip.hpp"

namespace dtt {

void reachability_hub::external_address(const dht::endpoint& ep) {
  {
    std::lock_guard<std::mutex> g(mu_);
    external_ = ep;
  }
  if (ep.family != 4)
    return;
  auto text = ep.to_string();
  bridge_.send(external_address_atom::value, text.substr(0, text.rfind(':')));
}

void reachability_hub::mappings(const nat::mapper_state& st) {
  std::vector<gossip::socket_address> tcp;
  for (auto& m : st.mappings)
    if (m.proto == nat::protocol::tcp)
      tcp.push_back({m.external_ip, m.external_port});
  bridge_.send(port_mapped_atom::value, std::move(tcp));
}

void reachability_hub::set_mapper(std::shared_ptr<nat::port_mapper> m) {
  std::lock_guard<std::mutex> g(mu_);
  mapper_ = std::move(m);
}

reachability_info reachability_hub::info() const {
  reachability_info out;
  out.port_mapping = nat::to_string(wanted_);
  std::shared_ptr<nat::port_mapper> mapper;
  {
    std::lock_guard<std::mutex> g(mu_);
    if (external_) {
      auto text = external_->to_string();
      out.external_ip = text.substr(0, text.rfind(':'));
      out.dht_external_port = external_->port;
    }
    mapper = mapper_;
  }
  if (mapper) {
    auto st = mapper->state();
    out.gateway = st.gateway;
    out.last_error = st.last_error;
    out.mapped = st.mapped;
    out.renewed = st.renewed;
    out.failed = st.failed;
    out.removed = st.removed;
    for (auto& m : st.mappings)
      out.mappings.push_back({nat::to_string(m.proto), m.internal_port,
                              {m.external_ip, m.external_port}, nat::to_string(m.via),
                              static_cast<int64_t>(m.lease.count())});
    for (auto& h : st.pinholes)
      out.pinholes.push_back({nat::to_string(h.proto), {h.ip, h.port}, nat::to_string(h.via),
                              static_cast<int64_t>(h.lease.count())});
  }
  return out;
}

} // namespace dtt
