#include "nat/port_mapper.hpp"

#include "crypto/log.hpp"

#include <algorithm>
#include <future>

namespace dtt::nat {

namespace {
const auto nlog = log::in("nat");
} // namespace

struct port_mapper::shared {
  mapper_options opts;
  std::function<void(const mapper_state&)> on_change;
  mutable std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  mapper_state st;
  std::promise<void> done;
};

namespace {

using clock = schedule::clock;

void publish(port_mapper::shared& s, std::vector<mapping> maps, std::vector<pinhole> holes,
             const std::string& gw, const std::string& err) {
  mapper_state copy;
  bool changed = false;
  std::function<void(const mapper_state&)> cb; // copied under the lock: stop() clears it
  {
    std::lock_guard<std::mutex> g(s.mu);
    auto same = [](const std::vector<mapping>& a, const std::vector<mapping>& b) {
      if (a.size() != b.size())
        return false;
      for (size_t i = 0; i < a.size(); ++i)
        if (a[i].proto != b[i].proto || a[i].external_ip != b[i].external_ip
            || a[i].external_port != b[i].external_port)
          return false;
      return true;
    };
    auto same_holes = [](const std::vector<pinhole>& a, const std::vector<pinhole>& b) {
      if (a.size() != b.size())
        return false;
      for (size_t i = 0; i < a.size(); ++i)
        if (a[i].proto != b[i].proto || a[i].ip != b[i].ip || a[i].port != b[i].port)
          return false;
      return true;
    };
    changed = !same(s.st.mappings, maps) || !same_holes(s.st.pinholes, holes);
    s.st.mappings = std::move(maps);
    s.st.pinholes = std::move(holes);
    s.st.gateway = gw;
    if (!err.empty())
      s.st.last_error = err;
    copy = s.st;
    cb = s.on_change;
  }
  if (changed && cb)
    cb(copy);
}

void count(port_mapper::shared& s, uint64_t mapper_state::*field) {
  std::lock_guard<std::mutex> g(s.mu);
  ++(s.st.*field);
}

std::vector<method> methods_of(mode m) {
  switch (m) {
    case mode::upnp: return {method::upnp};
    case mode::natpmp: return {method::natpmp};
    case mode::pcp: return {method::pcp};
    case mode::automatic: return {method::upnp, method::pcp, method::natpmp};
    default: return {};
  }
}

void run(std::shared_ptr<port_mapper::shared> sp) {
  auto& s = *sp;
  auto& o = s.opts;
  std::unique_ptr<gateway> gw;
  std::unique_ptr<gateway> gw6; // found over IPv6, for pinholes
  std::vector<mapping> maps;
  std::vector<pinhole> holes;
  // The gateway that opens pinholes: the one found over IPv6, else the IPv4 one.
  auto hole_gw = [&]() -> gateway* { return gw6 ? gw6.get() : gw.get(); };
  schedule sched(o.timing);
  auto stopping = [&] {
    std::lock_guard<std::mutex> g(s.mu);
    return s.stopping;
  };
  while (!stopping()) {
    std::string err;
    if (!gw6 && !o.pinholes.empty() && o.discover_pinholes) {
      auto found = o.discover_pinholes(o.discover_timeout);
      if (found) {
        gw6 = std::move(*found);
        nlog.info("port mapping: found {} (for IPv6 pinholes)", gw6->describe());
      } else {
        nlog.info("port mapping: no gateway over IPv6: {}", found.err().message());
      }
    }
    if (!gw && !(gw6 && o.ports.empty())) {
      bool port_5351_closed = false; // nothing listens there: neither would NAT-PMP answer
      for (auto m : methods_of(o.wanted)) {
        if (m == method::natpmp && port_5351_closed) {
          nlog.info("port mapping: natpmp gateway not found: nothing listens on its port");
          continue;
        }
        auto found = o.discover(m, o.discover_timeout);
        if (found) {
          gw = std::move(*found);
          nlog.info("port mapping: found {}", gw->describe());
          break;
        }
        err = found.err().message();
        port_5351_closed = m == method::pcp && found.err().code == errc::unreachable;
        nlog.info("port mapping: {} gateway not found: {}", to_string(m), err);
        if (stopping())
          break;
      }
    }
    if (gw || gw6) {
      bool renewal = !maps.empty();
      std::vector<mapping> next;
      for (auto& [proto, port] : o.ports) {
        if (!gw)
          break; // only an IPv6 gateway (pinholes) was found
        uint16_t want = port;
        for (auto& m : maps)
          if (m.proto == proto && m.internal_port == port)
            want = m.external_port; // renew the same external port
        auto r = gw->add(proto, port, want, o.lease);
        if (r) {
          nlog.info("port mapping: {} {} {} -> {}:{} for {} s via {}", renewal ? "renewed"
                                                                                : "mapped",
                    to_string(proto), port, r->external_ip, r->external_port, r->lease.count(),
                    to_string(r->via));
          count(s, renewal ? &mapper_state::renewed : &mapper_state::mapped);
          next.push_back(*r);
        } else {
          err = std::string(to_string(proto)) + " " + std::to_string(port) + ": "
                + r.err().message();
          nlog.warn("port mapping failed: {} via {}", err, to_string(gw->kind()));
          count(s, &mapper_state::failed);
        }
      }
      std::vector<pinhole> next_holes;
      for (auto& w : o.pinholes) {
        auto had = std::find_if(holes.begin(), holes.end(), [&](const pinhole& h) {
          return h.proto == w.proto && h.ip == w.ip && h.port == w.port;
        });
        if (had != holes.end()) {
          auto st = hole_gw()->renew_pinhole(*had, o.lease);
          if (st) {
            pinhole h = *had;
            h.lease = std::min(o.lease, max_pinhole_lease);
            nlog.info("port mapping: renewed pinhole {} [{}]:{} for {} s (id {})",
                      to_string(h.proto), h.ip, h.port, h.lease.count(), h.id);
            count(s, &mapper_state::renewed);
            next_holes.push_back(h);
            continue;
          }
          nlog.info("port mapping: renewing pinhole [{}]:{} failed: {}; opening it again", w.ip,
                    w.port, st.err().message());
        }
        auto r = hole_gw()->open_pinhole(w.proto, w.ip, w.port, o.lease);
        if (r) {
          nlog.info("port mapping: opened pinhole {} [{}]:{} for {} s via {} (id {})",
                    to_string(r->proto), r->ip, r->port, r->lease.count(), to_string(r->via),
                    r->id);
          count(s, &mapper_state::mapped);
          next_holes.push_back(*r);
        } else {
          err = "pinhole " + std::string(to_string(w.proto)) + " [" + w.ip + "]:"
                + std::to_string(w.port) + ": " + r.err().message();
          nlog.info("port mapping: no pinhole: {}", err);
          count(s, &mapper_state::failed);
        }
      }
      // A gateway that refused everything asked of it is discovered again next time (the
      // router may have changed).
      if (next.empty() && !o.ports.empty())
        gw.reset();
      if (next_holes.empty() && !o.pinholes.empty())
        gw6.reset();
      if (next.empty() && next_holes.empty()) {
        sched.failed(clock::now());
      } else {
        auto lease = std::chrono::seconds::max();
        for (auto& m : next)
          lease = std::min(lease, m.lease);
        for (auto& h : next_holes)
          lease = std::min(lease, h.lease);
        sched.succeeded(clock::now(), lease);
      }
      maps = std::move(next);
      holes = std::move(next_holes);
      publish(s, maps, holes, gw ? gw->describe() : gw6 ? gw6->describe() : std::string(), err);
    } else {
      count(s, &mapper_state::failed);
      publish(s, {}, {}, {}, err);
      sched.failed(clock::now());
    }
    std::unique_lock<std::mutex> lk(s.mu);
    s.cv.wait_until(lk, sched.next(), [&] { return s.stopping; });
  }
  // Stop: remove what we made (each call bounded by the gateway's own timeouts; the whole
  // is bounded by stop()).
  if (gw)
    for (auto& m : maps) {
      auto st = gw->remove(m);
      if (st) {
        count(s, &mapper_state::removed);
        nlog.info("port mapping: removed {} {} -> {}:{}", to_string(m.proto), m.internal_port,
                  m.external_ip, m.external_port);
      } else {
        nlog.info("port mapping: removing {} {} failed: {}", to_string(m.proto),
                  m.internal_port, st.err().message());
      }
    }
  if (hole_gw())
    for (auto& h : holes) {
      auto st = hole_gw()->close_pinhole(h);
      if (st) {
        count(s, &mapper_state::removed);
        nlog.info("port mapping: closed pinhole {} [{}]:{}", to_string(h.proto), h.ip, h.port);
      } else {
        nlog.info("port mapping: closing pinhole [{}]:{} failed: {}", h.ip, h.port,
                  st.err().message());
      }
    }
  {
    std::lock_guard<std::mutex> g(s.mu);
    s.st.mappings.clear();
    s.st.pinholes.clear();
  }
  s.done.set_value();
}

} // namespace

port_mapper::port_mapper(mapper_options opts, std::function<void(const mapper_state&)> on_change)
  : s_(std::make_shared<shared>()) {
  if (!opts.discover)
    opts.discover = [key = opts.pcp_nonce_key](method m, std::chrono::milliseconds t) {
      return m == method::upnp  ? discover_upnp(t)
             : m == method::pcp ? discover_pcp(t, key)
                                : discover_natpmp(t);
    };
  if (!opts.discover_pinholes && (opts.wanted == mode::upnp || opts.wanted == mode::automatic))
    opts.discover_pinholes = [](std::chrono::milliseconds t) { return discover_upnp6(t); };
  s_->st.wanted = opts.wanted;
  s_->opts = std::move(opts);
  s_->on_change = std::move(on_change);
  if (s_->opts.wanted == mode::off || (s_->opts.ports.empty() && s_->opts.pinholes.empty())) {
    s_->done.set_value();
    return;
  }
  thread_ = std::thread(run, s_);
}

port_mapper::~port_mapper() { stop(); }

void port_mapper::begin_stop() {
  {
    std::lock_guard<std::mutex> g(s_->mu);
    s_->stopping = true;
    s_->on_change = nullptr;
  }
  s_->cv.notify_all();
}

void port_mapper::stop() {
  begin_stop();
  if (!thread_.joinable())
    return;
  auto f = s_->done.get_future();
  // Nothing mapped (still discovering, or every attempt failed): nothing to remove, so no
  // reason to wait for a discovery to time out.
  auto now_st = state();
  bool mapped = !now_st.mappings.empty() || !now_st.pinholes.empty();
  auto bound = mapped ? s_->opts.stop_timeout : std::chrono::milliseconds(50);
  if (f.wait_for(bound) == std::future_status::ready) {
    thread_.join();
  } else {
    // A gateway call still blocks (its own timeouts end it): the thread owns what it uses.
    if (mapped)
      nlog.info("port mapping: removal still running after {} ms; leaving it to its timeouts",
                bound.count());
    thread_.detach();
  }
}

mapper_state port_mapper::state() const {
  std::lock_guard<std::mutex> g(s_->mu);
  return s_->st;
}

} // namespace dtt::nat
