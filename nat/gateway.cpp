#include "nat/gateway.hpp"

#include "crypto/hash.hpp"
#include "crypto/random.hpp"
#include "nat/pcp.hpp"

#include <miniupnpc/miniupnpc.h>
#include <miniupnpc/upnpcommands.h>
#include <miniupnpc/upnperrors.h>
#include <natpmp.h>

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <vector>

namespace dtt::nat {

namespace {

// miniupnpc's strings are C strings of bounded buffers; copy at most `cap` bytes.
std::string bounded(const char* s, size_t cap) {
  if (!s)
    return {};
  return std::string(s, strnlen(s, cap));
}

} // namespace

namespace {
error no_pinholes(const std::string& gateway) {
  return error{errc::refused, gateway + " opens no IPv6 pinholes"};
}
} // namespace

result<pinhole> gateway::open_pinhole(protocol, const std::string&, uint16_t,
                                      std::chrono::seconds) {
  return no_pinholes(describe());
}

status gateway::renew_pinhole(const pinhole&, std::chrono::seconds) {
  return no_pinholes(describe());
}

status gateway::close_pinhole(const pinhole&) { return no_pinholes(describe()); }

namespace {

class upnp_gateway final : public gateway {
public:
  upnp_gateway(UPNPUrls urls, IGDdatas data, std::string lan)
    : urls_(urls), data_(data), lan_(std::move(lan)) {}
  ~upnp_gateway() override { FreeUPNPUrls(&urls_); }

  method kind() const noexcept override { return method::upnp; }

  std::string describe() const override {
    return "UPnP IGD at " + bounded(urls_.rootdescURL, 256) + " (our LAN address " + lan_ + ")";
  }

  result<mapping> add(protocol proto, uint16_t internal_port, uint16_t external_port,
                      std::chrono::seconds lease) override {
    char ext_ip[40] = {0}; // miniupnpc writes at most 16 bytes (its header); room to spare
    int r = UPNP_GetExternalIPAddress(urls_.controlURL, data_.first.servicetype, ext_ip);
    if (r != 0)
      return error{errc::unreachable, "GetExternalIPAddress failed (" + code(r) + ")"};
    ext_ip[sizeof(ext_ip) - 1] = 0;
    auto in = std::to_string(internal_port);
    auto lease_text = std::to_string(lease.count());
    // A port another host of the LAN holds (718 ConflictInMappingEntry) is skipped for the next
    // candidates: the wanted one, then a few derived from our internal port.
    uint16_t want = external_port ? external_port : internal_port;
    for (int attempt = 0; attempt < 4; ++attempt) {
      auto ext = std::to_string(want);
      r = UPNP_AddPortMapping(urls_.controlURL, data_.first.servicetype, ext.c_str(), in.c_str(),
                              lan_.c_str(), "dtt", to_string(proto), nullptr, lease_text.c_str());
      if (r == 0)
        return check_answer(proto, internal_port, bounded(ext_ip, sizeof(ext_ip)), want,
                            lease.count(), lease, method::upnp);
      if (r != 718 && r != 729)
        break;
      want = static_cast<uint16_t>(1024 + (want * 7919u + 4099u + attempt) % 64000u);
    }
    return error{errc::refused, "AddPortMapping " + std::string(to_string(proto)) + " "
                                  + in + " refused (" + code(r) + ")"};
  }

  status remove(const mapping& m) override {
    auto ext = std::to_string(m.external_port);
    int r = UPNP_DeletePortMapping(urls_.controlURL, data_.first.servicetype, ext.c_str(),
                                   to_string(m.proto), nullptr);
    if (r != 0)
      return error{errc::refused, "DeletePortMapping failed (" + code(r) + ")"};
    return ok_status();
  }

  result<pinhole> open_pinhole(protocol proto, const std::string& ip, uint16_t port,
                               std::chrono::seconds lease) override {
    if (!has_firewall_control())
      return no_firewall_control();
    if (!pinhole_address(ip))
      return error{errc::invalid_argument, ip + " is not a global IPv6 address"};
    int enabled = 0, allowed = 0;
    int r = UPNP_GetFirewallStatus(urls_.controlURL_6FC, data_.IPv6FC.servicetype, &enabled,
                                   &allowed);
    if (r != 0)
      return error{errc::refused, "GetFirewallStatus failed (" + code(r) + ")"};
    if (enabled && !allowed)
      return error{errc::refused, "the IGD's firewall allows no inbound pinholes"};
    auto port_text = std::to_string(port);
    auto lease_text = lease_arg(lease);
    char unique_id[8] = {0}; // miniupnpc copies at most 8 bytes (its header)
    // Any remote host and port (empty host, port 0: IGD2's wildcards).
    r = UPNP_AddPinhole(urls_.controlURL_6FC, data_.IPv6FC.servicetype, "", "0", ip.c_str(),
                        port_text.c_str(), iana(proto), lease_text.c_str(), unique_id);
    if (r != 0)
      return error{errc::refused, "AddPinhole " + std::string(to_string(proto)) + " [" + ip
                                    + "]:" + port_text + " refused (" + code(r) + ")"};
    return check_pinhole_answer(proto, ip, port, bounded(unique_id, sizeof(unique_id)),
                                std::min(lease, max_pinhole_lease), method::upnp);
  }

  status renew_pinhole(const pinhole& h, std::chrono::seconds lease) override {
    if (!has_firewall_control())
      return no_firewall_control();
    auto id = std::to_string(h.id);
    auto lease_text = lease_arg(lease);
    int r = UPNP_UpdatePinhole(urls_.controlURL_6FC, data_.IPv6FC.servicetype, id.c_str(),
                               lease_text.c_str());
    if (r != 0)
      return error{errc::refused, "UpdatePinhole " + id + " failed (" + code(r) + ")"};
    return ok_status();
  }

  status close_pinhole(const pinhole& h) override {
    if (!has_firewall_control())
      return no_firewall_control();
    auto id = std::to_string(h.id);
    int r = UPNP_DeletePinhole(urls_.controlURL_6FC, data_.IPv6FC.servicetype, id.c_str());
    if (r != 0)
      return error{errc::refused, "DeletePinhole " + id + " failed (" + code(r) + ")"};
    return ok_status();
  }

private:
  static std::string code(int r) {
    return "UPnP " + std::to_string(r) + " " + bounded(strupnperror(r), 80);
  }
  // IGD2's IPv6 firewall control service, if the device description has one.
  bool has_firewall_control() const {
    return urls_.controlURL_6FC && urls_.controlURL_6FC[0] && data_.IPv6FC.servicetype[0];
  }
  static error no_firewall_control() {
    return error{errc::refused, "the IGD has no IPv6 firewall control (IGD2)"};
  }
  // IGD2's LeaseTime argument (1..86400 s).
  static std::string lease_arg(std::chrono::seconds lease) {
    return std::to_string(std::min(lease, max_pinhole_lease).count());
  }
  // IGD2 names a pinhole's protocol by its IANA number.
  static const char* iana(protocol p) { return p == protocol::tcp ? "6" : "17"; }
  UPNPUrls urls_;
  IGDdatas data_;
  std::string lan_;
};

// One NAT-PMP request and its answer within `timeout` (libnatpmp retransmits at 250 ms, 500 ms,
// ... by RFC 6886 §3.1; we stop at our deadline instead of its 64 s).
int natpmp_exchange(natpmp_t& p, natpmpresp_t& resp, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int r = readnatpmpresponseorretry(&p, &resp);
    if (r != NATPMP_TRYAGAIN)
      return r;
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline)
      return NATPMP_TRYAGAIN;
    timeval tv{};
    getnatpmprequesttimeout(&p, &tv);
    auto wait = std::chrono::milliseconds(tv.tv_sec * 1000 + tv.tv_usec / 1000);
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    wait = std::clamp(wait, std::chrono::milliseconds(1), left);
    pollfd pfd{p.s, POLLIN, 0};
    ::poll(&pfd, 1, static_cast<int>(wait.count()));
  }
}

// initnatpmp, closing its socket when it fails: libnatpmp 20150609 (Debian 12) returns without
// closing it when it finds no default gateway or cannot connect, which leaked one descriptor
// per try on a host without a gateway (tests/nat/gateway_fds.cpp).
int open_natpmp(natpmp_t& p) {
  p = natpmp_t{};
  p.s = -1;
  int r = initnatpmp(&p, 0, 0);
  if (r < 0 && p.s >= 0) {
    ::close(p.s);
    p.s = -1;
  }
  return r;
}

std::string natpmp_error(int r) {
  if (r == NATPMP_TRYAGAIN)
    return "no answer in time";
  return "libnatpmp error " + std::to_string(r);
}

class natpmp_gateway final : public gateway {
public:
  natpmp_gateway(std::string gw, std::chrono::milliseconds timeout)
    : gw_(std::move(gw)), timeout_(timeout) {}

  method kind() const noexcept override { return method::natpmp; }
  std::string describe() const override { return "NAT-PMP gateway " + gw_; }

  result<mapping> add(protocol proto, uint16_t internal_port, uint16_t external_port,
                      std::chrono::seconds lease) override {
    return request(proto, internal_port, external_port ? external_port : internal_port, lease);
  }

  status remove(const mapping& m) override {
    // RFC 6886 §3.4: a request with lifetime 0 deletes the mapping.
    auto r = request(m.proto, m.internal_port, 0, std::chrono::seconds(0));
    if (!r && r.err().code != errc::malformed)
      return r.err();
    return ok_status();
  }

private:
  result<mapping> request(protocol proto, uint16_t internal_port, uint16_t external_port,
                          std::chrono::seconds lease) {
    natpmp_t p{};
    int r = open_natpmp(p);
    if (r < 0)
      return error{errc::unreachable, natpmp_error(r)};
    natpmpresp_t resp{};
    std::string ext_ip;
    r = sendpublicaddressrequest(&p);
    if (r >= 0)
      r = natpmp_exchange(p, resp, timeout_);
    if (r == 0 && resp.type == NATPMP_RESPTYPE_PUBLICADDRESS) {
      char buf[INET_ADDRSTRLEN] = {0};
      inet_ntop(AF_INET, &resp.pnu.publicaddress.addr, buf, sizeof(buf));
      ext_ip = buf;
    }
    if (r < 0) {
      closenatpmp(&p);
      return error{errc::unreachable, "public address request: " + natpmp_error(r)};
    }
    r = sendnewportmappingrequest(&p, proto == protocol::tcp ? NATPMP_PROTOCOL_TCP
                                                             : NATPMP_PROTOCOL_UDP,
                                  internal_port, external_port,
                                  static_cast<uint32_t>(lease.count()));
    if (r >= 0)
      r = natpmp_exchange(p, resp, timeout_);
    closenatpmp(&p);
    if (r < 0)
      return error{errc::refused, "mapping request: " + natpmp_error(r)};
    auto want = proto == protocol::tcp ? NATPMP_RESPTYPE_TCPPORTMAPPING
                                       : NATPMP_RESPTYPE_UDPPORTMAPPING;
    if (resp.type != want || resp.pnu.newportmapping.privateport != internal_port)
      return error{errc::malformed, "NAT-PMP answer for another mapping"};
    if (lease.count() == 0)
      return error{errc::malformed, "deleted"}; // remove(): nothing to check
    return check_answer(proto, internal_port, ext_ip, resp.pnu.newportmapping.mappedpublicport,
                        resp.pnu.newportmapping.lifetime, lease, method::natpmp);
  }

  std::string gw_;
  std::chrono::milliseconds timeout_;
};

// --- PCP (RFC 6887; nat/pcp.hpp says why our own) ---

// The gateway libnatpmp found, as a numeric IPv4 address.
std::string gateway_of(const natpmp_t& p) {
  char gw[INET_ADDRSTRLEN] = {0};
  in_addr g{};
  g.s_addr = p.gateway;
  inet_ntop(AF_INET, &g, gw, sizeof(gw));
  return gw;
}

// The default IPv4 gateway, as libnatpmp finds it.
result<std::string> default_gateway() {
  natpmp_t p{};
  int r = open_natpmp(p);
  if (r < 0)
    return error{errc::unreachable, "no default gateway (" + natpmp_error(r) + ")"};
  auto gw = gateway_of(p);
  closenatpmp(&p);
  return gw;
}

// A UDP socket connected to the PCP server at `gw` (it then takes datagrams from the server
// only, as RFC 6887 §8.3 requires of an answer), and the address we send from.
struct pcp_socket {
  int fd = -1;
  pcp_socket() = default;
  pcp_socket(const pcp_socket&) = delete;
  pcp_socket& operator=(const pcp_socket&) = delete;
  ~pcp_socket() {
    if (fd >= 0)
      ::close(fd);
  }
};

result<pcp::address16> open_pcp(const std::string& gw, pcp_socket& s) {
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(pcp::server_port);
  if (inet_pton(AF_INET, gw.c_str(), &to.sin_addr) != 1)
    return error{errc::invalid_argument, "gateway " + gw + " is not an IPv4 address"};
  s.fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s.fd < 0 || ::connect(s.fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0)
    return error{errc::unreachable, "PCP socket to " + gw + ": " + std::strerror(errno)};
  sockaddr_in from{};
  socklen_t len = sizeof(from);
  if (::getsockname(s.fd, reinterpret_cast<sockaddr*>(&from), &len) != 0)
    return error{errc::io_error, std::string("PCP socket: ") + std::strerror(errno)};
  char ip[INET_ADDRSTRLEN] = {0};
  inet_ntop(AF_INET, &from.sin_addr, ip, sizeof(ip));
  return pcp::to_address16(ip);
}

enum class exchange { answered, no_answer, port_unreachable };

// Sends `request` and waits for a datagram `take` accepts, sending it again after 250 ms,
// 500 ms, ... (RFC 6887 §8.1.1 starts at 3 s; our discovery budget is 2 s, and NAT-PMP's
// 250 ms start is what these servers expect) until `timeout`.
exchange pcp_exchange(int fd, const bytes& request, std::chrono::milliseconds timeout,
                      const std::function<bool(byte_view)>& take) {
  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + timeout;
  std::array<uint8_t, pcp::max_message + 4> buf{};
  auto wait = std::chrono::milliseconds(250);
  for (;;) {
    (void)::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    const auto until = std::min(clock::now() + wait, deadline);
    for (auto now = clock::now(); now < until; now = clock::now()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - now);
      pollfd pfd{fd, POLLIN, 0};
      if (::poll(&pfd, 1, static_cast<int>(std::max<long long>(1, left.count()))) <= 0)
        continue;
      auto n = ::recv(fd, buf.data(), buf.size(), 0);
      if (n < 0) {
        if (errno == ECONNREFUSED) // an ICMP port unreachable: nothing listens there
          return exchange::port_unreachable;
        continue;
      }
      if (take(byte_view{buf.data(), static_cast<size_t>(n)}))
        return exchange::answered;
    }
    if (clock::now() >= deadline)
      return exchange::no_answer;
    wait *= 2;
  }
}

class pcp_gateway final : public gateway {
public:
  pcp_gateway(std::string gw, std::chrono::milliseconds timeout, const bytes32& nonce_key)
    : gw_(std::move(gw)), timeout_(timeout), nonce_key_(nonce_key) {}

  method kind() const noexcept override { return method::pcp; }
  std::string describe() const override { return "PCP server " + gw_; }

  result<mapping> add(protocol proto, uint16_t internal_port, uint16_t external_port,
                      std::chrono::seconds lease) override {
    // One nonce per mapping, kept for its renewals and its deletion (RFC 6887 §11.2: the
    // server refuses a request for an existing mapping with another nonce).
    auto key = std::make_pair(proto, internal_port);
    auto it = nonces_.find(key);
    if (it == nonces_.end())
      it = nonces_.emplace(key, nonce_for(proto, internal_port)).first;
    auto r = request(proto, internal_port, external_port ? external_port : internal_port, lease,
                     it->second);
    if (!r)
      return r.err();
    return pcp::to_mapping(r->first, r->second);
  }

  status remove(const mapping& m) override {
    auto it = nonces_.find({m.proto, m.internal_port});
    if (it == nonces_.end())
      return error{errc::invalid_argument, "no PCP mapping of ours for that port"};
    // RFC 6887 §15: a MAP request with lifetime 0 deletes the mapping.
    auto r = request(m.proto, m.internal_port, 0, std::chrono::seconds(0), it->second);
    nonces_.erase(it);
    if (!r)
      return r.err();
    if (r->first.result != pcp::result_code::success)
      return error{errc::refused, "PCP " + pcp::to_string(r->first.result)};
    return ok_status();
  }

private:
  result<std::pair<pcp::map_response, pcp::map_request>>
  request(protocol proto, uint16_t internal_port, uint16_t external_port,
          std::chrono::seconds lease, const std::array<uint8_t, 12>& nonce) {
    pcp_socket s;
    auto client = open_pcp(gw_, s);
    if (!client)
      return client.err();
    pcp::map_request req;
    req.nonce = nonce;
    req.proto = proto;
    req.internal_port = internal_port;
    req.suggested_port = external_port;
    req.lifetime = lease;
    req.client = *client;
    req.suggested_ip = *pcp::to_address16("0.0.0.0"); // any IPv4 address
    std::optional<pcp::map_response> got;
    bool natpmp = false;
    auto e = pcp_exchange(s.fd, pcp::encode(req), timeout_, [&](byte_view d) {
      pcp::answer_kind kind;
      auto r = pcp::decode_map_response(d, req, kind);
      natpmp = kind == pcp::answer_kind::natpmp;
      if (r)
        got = *r;
      return kind != pcp::answer_kind::not_ours;
    });
    if (e == exchange::no_answer)
      return error{errc::timeout, "PCP MAP request: no answer in time"};
    if (e == exchange::port_unreachable)
      return error{errc::unreachable, "PCP MAP request: nothing listens on port 5351"};
    if (natpmp || !got)
      return error{errc::refused, "PCP MAP request answered in NAT-PMP"};
    return std::make_pair(*got, req);
  }

  // The nonce of a mapping: keyed by the node's nonce key, so that it survives a restart and a
  // new discovery (a server refuses another nonce for a mapping it holds: RFC 6887 §11.3);
  // random when there is no key.
  std::array<uint8_t, 12> nonce_for(protocol proto, uint16_t port) const {
    std::array<uint8_t, 12> n{};
    if (nonce_key_ == bytes32{}) {
      crypto::os_random().fill(n.data(), n.size());
      return n;
    }
    const uint8_t what[3] = {static_cast<uint8_t>(proto == protocol::tcp ? 6 : 17),
                             static_cast<uint8_t>(port >> 8), static_cast<uint8_t>(port)};
    auto h = crypto::hmac_sha256(byte_view{nonce_key_.data(), nonce_key_.size()},
                                 {byte_view::of("dtt pcp nonce"), byte_view{what, sizeof(what)}});
    std::copy(h.begin(), h.begin() + n.size(), n.begin());
    return n;
  }

  std::string gw_;
  std::chrono::milliseconds timeout_;
  bytes32 nonce_key_;
  std::map<std::pair<protocol, uint16_t>, std::array<uint8_t, 12>> nonces_;
};

} // namespace

// True if a UDP socket can be connected to the SSDP group (a route to it exists). Without one
// upnpDiscover fails anyway, after printing "sendto: Network is unreachable" on stderr (it uses
// perror), a line in dttd's log that nobody asked for.
bool ssdp_routable() {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0)
    return false;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(1900);
  inet_pton(AF_INET, "239.255.255.250", &to.sin_addr);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) == 0;
  ::close(fd);
  return ok;
}

namespace {

result<std::unique_ptr<gateway>> discover_upnp_over(std::chrono::milliseconds timeout, bool v6) {
  if (!v6 && !ssdp_routable())
    return error{errc::unreachable, "no route to the SSDP multicast group"};
  int err = 0;
  auto delay = static_cast<int>(std::clamp<long long>(timeout.count(), 100, 10000));
  // Over IPv6: the link-local SSDP group (ff02::c), as miniupnpc sends it.
  UPNPDev* devs = upnpDiscover(delay, nullptr, nullptr, UPNP_LOCAL_PORT_ANY, v6 ? 1 : 0, 2, &err);
  if (!devs)
    return error{errc::unreachable, "no UPnP device answered within "
                                      + std::to_string(delay) + " ms"};
  UPNPUrls urls{};
  IGDdatas data{};
  char lan[64] = {0};
  int r = UPNP_GetValidIGD(devs, &urls, &data, lan, sizeof(lan));
  freeUPNPDevlist(devs);
  if (r != 1 && r != 2) {
    if (r != 0)
      FreeUPNPUrls(&urls);
    return error{errc::unreachable, "no UPnP Internet Gateway Device found"};
  }
  lan[sizeof(lan) - 1] = 0;
  in6_addr a6{};
  in_addr a{};
  bool lan_ok = v6 ? inet_pton(AF_INET6, lan, &a6) == 1 : inet_pton(AF_INET, lan, &a) == 1;
  if (!urls.controlURL || !lan_ok) {
    FreeUPNPUrls(&urls);
    return error{errc::malformed, "UPnP IGD without a control URL or LAN address"};
  }
  return std::unique_ptr<gateway>(new upnp_gateway(urls, data, lan));
}

} // namespace

result<std::unique_ptr<gateway>> discover_upnp(std::chrono::milliseconds timeout) {
  return discover_upnp_over(timeout, false);
}

result<std::unique_ptr<gateway>> discover_upnp6(std::chrono::milliseconds timeout) {
  return discover_upnp_over(timeout, true);
}

result<std::unique_ptr<gateway>> discover_natpmp(std::chrono::milliseconds timeout) {
  natpmp_t p{};
  int r = open_natpmp(p);
  if (r < 0)
    return error{errc::unreachable, "NAT-PMP: no default gateway (" + natpmp_error(r) + ")"};
  const auto gw = gateway_of(p);
  natpmpresp_t resp{};
  r = sendpublicaddressrequest(&p);
  if (r >= 0)
    r = natpmp_exchange(p, resp, timeout);
  closenatpmp(&p);
  if (r < 0)
    return error{errc::unreachable, "NAT-PMP gateway " + gw + ": " + natpmp_error(r)};
  return std::unique_ptr<gateway>(new natpmp_gateway(gw, timeout));
}

result<std::unique_ptr<gateway>> discover_pcp(std::chrono::milliseconds timeout,
                                              const bytes32& nonce_key) {
  auto gw = default_gateway();
  if (!gw)
    return error{errc::unreachable, "PCP: " + gw.err().what};
  pcp_socket s;
  auto client = open_pcp(*gw, s);
  if (!client)
    return client.err();
  auto kind = pcp::answer_kind::not_ours;
  auto rc = pcp::result_code::success;
  auto e = pcp_exchange(s.fd, pcp::encode_announce(*client), timeout, [&](byte_view d) {
    kind = pcp::decode_announce_response(d, rc);
    return kind != pcp::answer_kind::not_ours;
  });
  const std::string who = "PCP server " + *gw + ": ";
  if (e == exchange::no_answer)
    return error{errc::timeout, who + "no answer in time"};
  if (e == exchange::port_unreachable)
    return error{errc::unreachable, who + "nothing listens on port 5351"};
  if (kind == pcp::answer_kind::natpmp || rc == pcp::result_code::unsupp_version)
    return error{errc::refused, who + "the gateway speaks NAT-PMP, not PCP"};
  // Any other PCP answer (SUCCESS, or an error such as UNSUPP_OPCODE for ANNOUNCE) says a PCP
  // server is there.
  return std::unique_ptr<gateway>(new pcp_gateway(*gw, timeout, nonce_key));
}

} // namespace dtt::nat
