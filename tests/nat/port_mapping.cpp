#include "nat/port_mapper.hpp"
#include "nat/port_mapping.hpp"

#include <doctest/doctest.h>

#include <map>
#include <mutex>

#include <atomic>
#include <thread>

using namespace dtt;
using namespace dtt::nat;
using namespace std::chrono_literals;

TEST_CASE("port-mapping values are parsed strictly") {
  CHECK(*parse_mode("auto") == mode::automatic);
  CHECK(*parse_mode("upnp") == mode::upnp);
  CHECK(*parse_mode("natpmp") == mode::natpmp);
  CHECK(*parse_mode("pcp") == mode::pcp);
  CHECK(*parse_mode("off") == mode::off);
  for (auto bad : {"", "Auto", "on", "true", "upnp ", "nat-pmp", "PCP", "pcp2"})
    CHECK_FALSE(parse_mode(bad));
}

TEST_CASE("a gateway's answer is checked before use (hostile fields)") {
  auto ok = check_answer(protocol::tcp, 4433, "198.51.100.1", 4433, 3600, 3600s, method::upnp);
  REQUIRE(ok);
  CHECK(ok->external_ip == "198.51.100.1");
  CHECK(ok->external_port == 4433);
  CHECK(ok->lease == 3600s);
  // UPnP's "0" (permanent) is recorded as the lease we asked for.
  CHECK(check_answer(protocol::udp, 1, "198.51.100.1", 1, 0, 600s, method::upnp)->lease == 600s);
  for (auto ip : {"", "0.0.0.0", "127.0.0.1", "224.0.0.1", "255.255.255.255", "1.2.3",
                  "1.2.3.4.5", "::1", "198.51.100.1 ", "198.51.100.1\n", "abcdefghijklmnopq"})
    CHECK_FALSE(check_answer(protocol::tcp, 1, ip, 1, 60, 60s, method::upnp));
  CHECK_FALSE(check_answer(protocol::tcp, 1, std::string_view("1.2.3.4\0x", 9), 1, 60, 60s,
                           method::upnp));
  for (long long port : {0LL, -1LL, 65536LL, 1LL << 40})
    CHECK_FALSE(check_answer(protocol::tcp, 1, "198.51.100.1", port, 60, 60s, method::upnp));
  for (long long lease : {-1LL, 1LL, 9LL, 7201LL, 1LL << 40})
    CHECK_FALSE(check_answer(protocol::tcp, 1, "198.51.100.1", 1, lease, 60s, method::natpmp));
}

TEST_CASE("renewal at half the lease, retries back off and are capped") {
  schedule s;
  auto t0 = schedule::clock::time_point{} + 1h;
  s.succeeded(t0, 3600s);
  CHECK(s.next() == t0 + 1800s);
  s.succeeded(t0, 2s); // a tiny lease cannot make us spin
  CHECK(s.next() == t0 + 5s);
  s.failed(t0);
  CHECK(s.next() == t0 + 30s);
  s.failed(t0);
  CHECK(s.next() == t0 + 60s);
  for (int i = 0; i < 100; ++i)
    s.failed(t0);
  CHECK(s.next() == t0 + 30min);
  s.succeeded(t0, 600s);
  CHECK(s.failures() == 0);
}

namespace {

// A gateway in memory: grants, refuses or blocks as told.
struct fake_gateway_state {
  std::atomic<int> adds{0}, removes{0};
  std::atomic<bool> refuse{false};
  std::atomic<int> block_remove_ms{0};
  // IPv6 pinholes (an IGD2 with firewall control): off unless set; ids as it numbers them.
  std::atomic<bool> pinholes{false};
  std::atomic<int> opened{0}, updated{0}, closed{0};
  std::mutex mu;
  std::map<uint16_t, std::string> open_ids; // id -> "[ip]:port"
  // What PCP discovery finds on port 5351 (as discover_pcp reports it): a NAT-PMP server
  // (refused), no answer (timeout), nothing listening (unreachable), or a PCP server (the fake).
  enum class pcp_server { natpmp_only, silent, closed, present };
  std::atomic<pcp_server> pcp{pcp_server::natpmp_only};
  std::vector<method> asked; // discovery, in order (under mu)
};

class fake_gateway : public gateway {
public:
  explicit fake_gateway(std::shared_ptr<fake_gateway_state> s) : s_(std::move(s)) {}
  method kind() const noexcept override { return method::natpmp; }
  std::string describe() const override { return "fake"; }
  result<mapping> add(protocol proto, uint16_t in, uint16_t ext, std::chrono::seconds) override {
    ++s_->adds;
    if (s_->refuse)
      return error{errc::refused, "refused by the fake"};
    return check_answer(proto, in, "198.51.100.1", ext + 1000, 20, 20s, method::natpmp);
  }
  status remove(const mapping&) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(s_->block_remove_ms.load()));
    ++s_->removes;
    return ok_status();
  }
  // As miniupnpd's IGD2: refuses a lease over 86400 s and an address that is not global,
  // numbers pinholes from 1, updates and deletes only ids it gave.
  result<pinhole> open_pinhole(protocol proto, const std::string& ip, uint16_t port,
                               std::chrono::seconds lease) override {
    if (!s_->pinholes)
      return gateway::open_pinhole(proto, ip, port, lease);
    if (lease.count() < 1 || lease > max_pinhole_lease || !pinhole_address(ip))
      return error{errc::refused, "AddPinhole refused by the fake (402 Invalid Args)"};
    std::lock_guard<std::mutex> g(s_->mu);
    auto id = static_cast<uint16_t>(++s_->opened);
    s_->open_ids[id] = "[" + ip + "]:" + std::to_string(port);
    return check_pinhole_answer(proto, ip, port, std::to_string(id), lease, method::upnp);
  }
  status renew_pinhole(const pinhole& h, std::chrono::seconds lease) override {
    std::lock_guard<std::mutex> g(s_->mu);
    if (!s_->open_ids.count(h.id) || lease > max_pinhole_lease)
      return error{errc::refused, "UpdatePinhole refused by the fake (704 NoSuchEntry)"};
    ++s_->updated;
    return ok_status();
  }
  status close_pinhole(const pinhole& h) override {
    std::lock_guard<std::mutex> g(s_->mu);
    if (!s_->open_ids.erase(h.id))
      return error{errc::refused, "DeletePinhole refused by the fake (704 NoSuchEntry)"};
    ++s_->closed;
    return ok_status();
  }

private:
  std::shared_ptr<fake_gateway_state> s_;
};

mapper_options fake_options(std::shared_ptr<fake_gateway_state> gs, std::atomic<int>* discovers) {
  mapper_options o;
  o.wanted = mode::automatic;
  o.ports = {{protocol::tcp, 4433}, {protocol::udp, 6881}};
  o.timing.min_wait = 50ms;
  o.timing.renew_at = 0.0; // renew after min_wait
  o.timing.retry_min = 50ms;
  o.timing.retry_max = 100ms;
  o.stop_timeout = 300ms;
  o.discover = [gs, discovers](method m, std::chrono::milliseconds) {
    ++*discovers;
    {
      std::lock_guard<std::mutex> g(gs->mu);
      gs->asked.push_back(m);
    }
    using found = result<std::unique_ptr<gateway>>;
    if (m == method::upnp)
      return found(error{errc::unreachable, "no IGD (fake)"});
    if (m == method::pcp && gs->pcp == fake_gateway_state::pcp_server::natpmp_only)
      return found(error{errc::refused, "the gateway speaks NAT-PMP, not PCP (fake)"});
    if (m == method::pcp && gs->pcp == fake_gateway_state::pcp_server::silent)
      return found(error{errc::timeout, "no answer in time (fake)"});
    if (m == method::pcp && gs->pcp == fake_gateway_state::pcp_server::closed)
      return found(error{errc::unreachable, "nothing listens on port 5351 (fake)"});
    return found(std::unique_ptr<gateway>(new fake_gateway(gs)));
  };
  // No gateway over IPv6 (tests never send SSDP): pinholes go to the IPv4 one.
  o.discover_pinholes = [](std::chrono::milliseconds) {
    return result<std::unique_ptr<gateway>>(error{errc::unreachable, "no IGD over IPv6 (fake)"});
  };
  return o;
}

template <class Pred>
bool wait_for(Pred p, std::chrono::milliseconds limit = 3000ms) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (!p()) {
    if (std::chrono::steady_clock::now() > until)
      return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

} // namespace

TEST_CASE("the mapper maps (falling back from UPnP to NAT-PMP), renews and removes at stop") {
  auto gs = std::make_shared<fake_gateway_state>();
  std::atomic<int> discovers{0}, changes{0};
  mapper_state seen;
  std::mutex mu;
  port_mapper pm(fake_options(gs, &discovers), [&](const mapper_state& st) {
    std::lock_guard<std::mutex> g(mu);
    seen = st;
    ++changes;
  });
  REQUIRE(wait_for([&] { return pm.state().renewed >= 2; }));
  auto st = pm.state();
  CHECK(st.mapped == 2);
  REQUIRE(st.mappings.size() == 2);
  // The fake grants the asked port + 1000; a renewal asks for the port granted before, so
  // after two renewals each is at least two steps on.
  CHECK(st.mappings[0].external_port >= 6433);
  CHECK((st.mappings[0].external_port - 4433) % 1000 == 0);
  CHECK(st.mappings[1].external_port >= 8881);
  CHECK((st.mappings[1].external_port - 6881) % 1000 == 0);
  CHECK(discovers == 3); // UPnP, then PCP (answered in NAT-PMP), then NAT-PMP, once
  {
    std::lock_guard<std::mutex> g(gs->mu);
    CHECK(gs->asked == std::vector<method>{method::upnp, method::pcp, method::natpmp});
  }
  {
    std::lock_guard<std::mutex> g(mu);
    CHECK(seen.mappings.size() == 2);
  }
  CHECK(changes >= 2);
  pm.stop();
  CHECK(gs->removes == 2);
  CHECK(pm.state().removed == 2);
  CHECK(pm.state().mappings.empty());
}

TEST_CASE("auto: a PCP server is used, and a closed port 5351 skips NAT-PMP, which shares it") {
  auto gs = std::make_shared<fake_gateway_state>();
  std::atomic<int> discovers{0};
  SUBCASE("a PCP server answers") {
    gs->pcp = fake_gateway_state::pcp_server::present;
    port_mapper pm(fake_options(gs, &discovers), {});
    REQUIRE(wait_for([&] { return pm.state().mapped == 2; }));
    std::lock_guard<std::mutex> g(gs->mu);
    CHECK(gs->asked == std::vector<method>{method::upnp, method::pcp});
  }
  SUBCASE("no answer on port 5351: NAT-PMP is asked still (a server may ignore PCP)") {
    gs->pcp = fake_gateway_state::pcp_server::silent;
    port_mapper pm(fake_options(gs, &discovers), {});
    REQUIRE(wait_for([&] { return pm.state().mapped == 2; }));
    std::lock_guard<std::mutex> g(gs->mu);
    CHECK(gs->asked == std::vector<method>{method::upnp, method::pcp, method::natpmp});
  }
  SUBCASE("nothing listens on port 5351") {
    gs->pcp = fake_gateway_state::pcp_server::closed;
    port_mapper pm(fake_options(gs, &discovers), {});
    REQUIRE(wait_for([&] { return discovers >= 4; })); // two rounds, retried with back-off
    CHECK(pm.state().mapped == 0);
    CHECK(pm.state().gateway.empty());
    std::lock_guard<std::mutex> g(gs->mu);
    for (auto m : gs->asked)
      CHECK(m != method::natpmp);
  }
}

TEST_CASE("refusals are counted and retried with back-off, a blocked removal bounds stop") {
  auto gs = std::make_shared<fake_gateway_state>();
  gs->refuse = true;
  std::atomic<int> discovers{0};
  auto pm = std::make_unique<port_mapper>(fake_options(gs, &discovers), nullptr);
  REQUIRE(wait_for([&] { return pm->state().failed >= 6; }));
  CHECK(pm->state().mappings.empty());
  CHECK(pm->state().last_error.find("refused by the fake") != std::string::npos);
  gs->refuse = false;
  REQUIRE(wait_for([&] { return pm->state().mappings.size() == 2; }));
  gs->block_remove_ms = 2000;
  auto t0 = std::chrono::steady_clock::now();
  pm.reset();
  CHECK(std::chrono::steady_clock::now() - t0 < 1000ms);
  // The detached thread finishes on its own (it owns its state); give it time before exit.
  std::this_thread::sleep_for(2500ms);
}

TEST_CASE("a pinhole answer is checked before use (hostile fields)") {
  auto ok = check_pinhole_answer(protocol::tcp, "2001:db8:1::5", 4433, "17", 3600s, method::upnp);
  REQUIRE(ok);
  CHECK(ok->id == 17);
  CHECK(ok->ip == "2001:db8:1::5");
  CHECK(ok->lease == 3600s);
  for (const char* id : {"", "abc", "12a", "-1", "65536", "123456", " 1"})
    CHECK(check_pinhole_answer(protocol::tcp, "2001:db8:1::5", 4433, id, 3600s, method::upnp)
            .err().code == errc::malformed);
  for (const char* ip : {"::1", "::", "fe80::1", "fd00::1", "fc12::1", "ff02::1",
                         "::ffff:198.51.100.1", "198.51.100.1", "2001:db8::1%eth0", "garbage",
                         ""})
    CHECK(check_pinhole_answer(protocol::tcp, ip, 4433, "1", 3600s, method::upnp).err().code
          == errc::malformed);
  CHECK_FALSE(check_pinhole_answer(protocol::tcp, "2001:db8:1::5", 0, "1", 3600s, method::upnp));
  CHECK_FALSE(check_pinhole_answer(protocol::tcp, "2001:db8:1::5", 1, "1", 0s, method::upnp));
  CHECK_FALSE(
    check_pinhole_answer(protocol::tcp, "2001:db8:1::5", 1, "1", 86401s, method::upnp));
  // A NUL inside an id is not a digit either.
  CHECK_FALSE(check_pinhole_answer(protocol::tcp, "2001:db8:1::5", 1,
                                   std::string_view("1\0", 2), 60s, method::upnp));
}

TEST_CASE("the mapper opens IPv6 pinholes beside its mappings, renews them and closes them at stop") {
  auto gs = std::make_shared<fake_gateway_state>();
  gs->pinholes = true;
  std::atomic<int> discovers{0};
  auto o = fake_options(gs, &discovers);
  o.pinholes = {{protocol::tcp, "2001:db8:1::11", 4433}, {protocol::tcp, "2001:db8:1::12", 4433}};
  port_mapper pm(o, nullptr);
  REQUIRE(wait_for([&] { return gs->updated >= 4; })); // each renewed twice
  auto st = pm.state();
  REQUIRE(st.pinholes.size() == 2);
  CHECK(st.pinholes[0].ip == "2001:db8:1::11");
  CHECK(st.pinholes[1].ip == "2001:db8:1::12");
  CHECK(st.pinholes[0].port == 4433);
  CHECK(st.pinholes[0].via == method::upnp);
  CHECK(gs->opened == 2); // renewed, not opened again
  CHECK(st.mappings.size() == 2);
  pm.stop();
  CHECK(gs->closed == 2);
  CHECK(gs->open_ids.empty());
  CHECK(pm.state().pinholes.empty());
}

TEST_CASE("a gateway without IPv6 firewall control opens no pinhole and still maps") {
  auto gs = std::make_shared<fake_gateway_state>(); // pinholes off: the base class refuses
  std::atomic<int> discovers{0};
  auto o = fake_options(gs, &discovers);
  o.pinholes = {{protocol::tcp, "2001:db8:1::11", 4433}};
  port_mapper pm(o, nullptr);
  REQUIRE(wait_for([&] { return pm.state().renewed >= 2; }));
  auto st = pm.state();
  CHECK(st.mappings.size() == 2);
  CHECK(st.pinholes.empty());
  CHECK(st.failed >= 1);
  CHECK(st.last_error.find("opens no IPv6 pinholes") != std::string::npos);
  pm.stop();
  CHECK(gs->removes == 2);
}

TEST_CASE("pinholes alone keep the mapper running (an IPv6-only host)") {
  auto gs = std::make_shared<fake_gateway_state>();
  gs->pinholes = true;
  std::atomic<int> discovers{0};
  auto o = fake_options(gs, &discovers);
  o.ports.clear();
  o.pinholes = {{protocol::tcp, "2001:db8:1::11", 4433}};
  port_mapper pm(o, nullptr);
  REQUIRE(wait_for([&] { return pm.state().pinholes.size() == 1; }));
  CHECK(gs->adds == 0);
  pm.stop();
  CHECK(gs->closed == 1);
}

TEST_CASE("pinholes go to the gateway found over IPv6, mappings to the IPv4 one") {
  auto v4 = std::make_shared<fake_gateway_state>(); // no pinholes: would refuse them
  auto v6 = std::make_shared<fake_gateway_state>();
  v6->pinholes = true;
  std::atomic<int> discovers{0}, discovers6{0};
  auto o = fake_options(v4, &discovers);
  o.pinholes = {{protocol::tcp, "2001:db8:1::11", 4433}};
  o.discover_pinholes = [v6, &discovers6](std::chrono::milliseconds) {
    ++discovers6;
    return result<std::unique_ptr<gateway>>(std::unique_ptr<gateway>(new fake_gateway(v6)));
  };
  port_mapper pm(o, nullptr);
  REQUIRE(wait_for([&] { return v6->updated >= 1 && pm.state().renewed >= 3; }));
  auto st = pm.state();
  CHECK(st.mappings.size() == 2);
  CHECK(st.pinholes.size() == 1);
  CHECK(v4->adds >= 2);
  CHECK(v6->adds == 0);  // no mapping asked of the IPv6 gateway
  CHECK(v6->opened == 1);
  CHECK(discovers6 == 1); // kept, not discovered again
  pm.stop();
  CHECK(v6->closed == 1);
  CHECK(v4->removes == 2);
}

TEST_CASE("mode off starts no thread and maps nothing") {
  std::atomic<int> discovers{0};
  auto o = fake_options(std::make_shared<fake_gateway_state>(), &discovers);
  o.wanted = mode::off;
  port_mapper pm(o, nullptr);
  std::this_thread::sleep_for(100ms);
  CHECK(discovers == 0);
  pm.stop();
  CHECK(pm.state().mapped == 0);
}

#include "nat/advertise.hpp"

TEST_CASE("the endpoint record lists mappings, then a public interface address first") {
  std::vector<socket_address> local{{"10.1.0.2", 4433}, {"127.0.0.1", 4433}};
  std::vector<socket_address> mapped{{"198.51.100.2", 4433}};
  // Configured advertise wins over everything.
  std::vector<socket_address> conf{{"192.0.2.9", 1}};
  CHECK(advertised_addresses(conf, local, mapped, "198.51.100.2") == conf);
  // No mapping, external address not ours on any interface: the listening addresses only,
  // without the loopback one (it would name the dialler's own host).
  CHECK(advertised_addresses({}, local, {}, "198.51.100.2")
        == std::vector<socket_address>{{"10.1.0.2", 4433}});
  // A mapping comes first.
  auto a = advertised_addresses({}, local, mapped, "198.51.100.2");
  REQUIRE(a.size() == 2);
  CHECK(a[0] == mapped[0]);
  CHECK(a[1].ip == "10.1.0.2");
  // A public address on an interface (external == local) comes first, once.
  std::vector<socket_address> pub{{"127.0.0.1", 4433}, {"::1", 4433}, {"198.51.100.7", 4433}};
  auto b = advertised_addresses({}, pub, {}, "198.51.100.7");
  REQUIRE(b.size() == 1);
  CHECK(b[0].ip == "198.51.100.7");
  // A node listening on loopback alone publishes its loopback addresses (tests, one host).
  std::vector<socket_address> lo{{"127.0.0.1", 4433}, {"::1", 4433}};
  CHECK(advertised_addresses({}, lo, {}, "") == lo);
  CHECK(advertised_addresses({}, lo, mapped, "")
        == std::vector<socket_address>{mapped[0], lo[0], lo[1]});
}
