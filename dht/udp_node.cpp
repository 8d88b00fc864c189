#include "dht/udp_node.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>

#include <cstdio>
#include <fstream>
#include <iterator>

namespace dtt::dht {

namespace asio = boost::asio;
using asio::ip::udp;

std::vector<std::string> default_bootstrap_routers() {
  return {"router.bittorrent.com:6881", "dht.transmissionbt.com:6881",
          "dht.libtorrent.org:25401", "relay.pkarr.org:6881"};
}

namespace {

endpoint from_asio(const udp::endpoint& ep) {
  endpoint out;
  auto addr = ep.address();
  if (addr.is_v6() && addr.to_v6().is_v4_mapped())
    addr = asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6());
  if (addr.is_v4()) {
    auto b = addr.to_v4().to_bytes();
    std::copy(b.begin(), b.end(), out.ip.begin());
    out.family = 4;
  } else {
    auto b = addr.to_v6().to_bytes();
    std::copy(b.begin(), b.end(), out.ip.begin());
    out.family = 6;
  }
  out.port = ep.port();
  return out;
}

udp::endpoint to_asio(const endpoint& ep, bool socket_v6) {
  if (ep.family == 4) {
    asio::ip::address_v4::bytes_type b;
    std::copy(ep.ip.begin(), ep.ip.begin() + 4, b.begin());
    asio::ip::address_v4 a(b);
    if (socket_v6)
      return {asio::ip::make_address_v6(asio::ip::v4_mapped, a), ep.port};
    return {a, ep.port};
  }
  asio::ip::address_v6::bytes_type b;
  std::copy(ep.ip.begin(), ep.ip.end(), b.begin());
  return {asio::ip::address_v6(b), ep.port};
}

// Splits "host:port" / "[v6]:port".
bool split_host_port(const std::string& s, std::string& host, std::string& port) {
  if (!s.empty() && s[0] == '[') {
    auto close = s.find(']');
    if (close == std::string::npos || close + 2 > s.size() || s[close + 1] != ':')
      return false;
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
    return !port.empty();
  }
  auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= s.size())
    return false;
  host = s.substr(0, colon);
  port = s.substr(colon + 1);
  return true;
}

} // namespace

struct udp_node::effects final : node_effects {
  udp_node* self;
  explicit effects(udp_node* s) : self(s) {}
  void send(const endpoint& to, bytes packet) override {
    auto* slot = self->slot_for(to);
    if (!slot) {
      ++self->send_failures_; // no socket of that family
      return;
    }
    if (!slot->socket.is_open())
      return;
    // Non-blocking socket: a full send buffer drops the datagram (UDP is lossy anyway).
    boost::system::error_code ec;
    slot->socket.send_to(asio::buffer(packet), to_asio(to, slot->v6), 0, ec);
    if (ec)
      ++self->send_failures_;
  }
  void on_item(request_id id, const mutable_item& item) override {
    self->pending_items_.emplace_back(id, item);
  }
  void on_done(const completion& c) override { self->pending_done_.push_back(c); }
  void on_refused(refusal r, const endpoint& from) override {
    if (self->opts_.on_refused)
      self->opts_.on_refused(r, from);
  }
  void on_external_address(const endpoint& ep) override {
    if (self->opts_.on_external_address)
      self->opts_.on_external_address(ep);
  }
};

udp_node::udp_node(asio::io_context& io, udp_node_options opts, crypto::random_source& rng)
    : io_(io), opts_(std::move(opts)), rng_(rng), timer_(io),
      fx_(std::make_unique<effects>(this)) {}

udp_node::~udp_node() = default;

namespace {

// Opens, binds and makes non-blocking one socket. v6_only: refuse IPv4 (a second socket has it).
boost::system::error_code bind_socket(udp::socket& s, const udp::endpoint& local, bool v6_only) {
  boost::system::error_code ec;
  s.open(local.protocol(), ec);
  if (!ec && local.address().is_v6())
    s.set_option(asio::ip::v6_only(v6_only), ec);
  if (!ec)
    s.bind(local, ec);
  if (!ec)
    s.non_blocking(true, ec);
  if (ec) {
    boost::system::error_code ignored;
    s.close(ignored);
  }
  return ec;
}

} // namespace

result<std::shared_ptr<udp_node>> udp_node::create(asio::io_context& io, udp_node_options opts,
                                                   crypto::random_source& rng) {
  boost::system::error_code ec;
  std::optional<asio::ip::address> addr4, addr6;
  if (!opts.bind_address.empty()) {
    addr4 = asio::ip::make_address(opts.bind_address, ec);
    if (ec)
      return error{errc::invalid_argument, "dht: bad bind address " + opts.bind_address};
  }
  if (!opts.bind6.empty()) {
    auto a = asio::ip::make_address(opts.bind6, ec);
    if (ec || !a.is_v6() || a.to_v6().is_v4_mapped())
      return error{errc::invalid_argument, "dht: bad IPv6 bind address " + opts.bind6};
    if (addr4 && addr4->is_v6())
      return error{errc::invalid_argument,
                   "dht: bind address " + opts.bind_address + " is IPv6 and bind6 is set"};
    addr6 = a;
  }
  if (addr4 && addr4->is_v6()) { // the legacy single IPv6 socket
    addr6 = addr4;
    addr4.reset();
  }
  if (!addr4 && !addr6)
    return error{errc::invalid_argument, "dht: no address to bind"};
  std::shared_ptr<udp_node> self(new udp_node(io, std::move(opts), rng));
  auto fail = [](const udp::endpoint& local, const boost::system::error_code& e) {
    return error{errc::io_error, "dht: cannot bind " + from_asio(local).to_string() + ": "
                                   + e.message()};
  };
  uint16_t port = self->opts_.port;
  if (addr4) {
    auto slot = std::make_unique<socket_slot>(io);
    udp::endpoint local(*addr4, port);
    if (auto e = bind_socket(slot->socket, local, false))
      return fail(local, e);
    self->slots_[0] = std::move(slot);
  }
  if (addr6) {
    auto slot = std::make_unique<socket_slot>(io);
    slot->v6 = true;
    // The legacy single socket on "::" carries IPv4 as mapped addresses (Linux's default);
    // next to an IPv4 socket the IPv6 one is IPv6-only.
    bool legacy_any = !addr4 && self->opts_.bind6.empty() && addr6->is_unspecified();
    slot->mapped = legacy_any;
    boost::system::error_code e = asio::error::address_in_use;
    if (port == 0 && self->slots_[0]) // one port for both families if the OS lets us
      e = bind_socket(slot->socket, {*addr6, self->local_endpoint().port}, !legacy_any);
    if (e) {
      udp::endpoint local(*addr6, port);
      if ((e = bind_socket(slot->socket, local, !legacy_any)))
        return fail(local, e);
    }
    self->slots_[1] = std::move(slot);
  }
  auto& cfg = self->opts_.node;
  cfg.ipv4 = self->slots_[0] || (self->slots_[1] && self->slots_[1]->mapped);
  cfg.ipv6 = self->slots_[1] != nullptr;
  self->node_ = std::make_unique<node>(cfg, *self->fx_, self->rng_);
  for (auto& ep : self->local_endpoints()) // never a lookup candidate (issue 16)
    self->node_->set_own_address(ep);
  return self;
}

endpoint udp_node::local_endpoint() const {
  for (auto& slot : slots_) {
    if (!slot)
      continue;
    boost::system::error_code ec;
    auto ep = slot->socket.local_endpoint(ec);
    return ec ? endpoint{} : from_asio(ep);
  }
  return endpoint{};
}

std::optional<endpoint> udp_node::local_endpoint6() const {
  if (!slots_[1])
    return std::nullopt;
  boost::system::error_code ec;
  auto ep = slots_[1]->socket.local_endpoint(ec);
  if (ec)
    return std::nullopt;
  return from_asio(ep);
}

std::vector<endpoint> udp_node::local_endpoints() const {
  std::vector<endpoint> out;
  for (auto& slot : slots_) {
    if (!slot)
      continue;
    boost::system::error_code ec;
    auto ep = slot->socket.local_endpoint(ec);
    if (!ec)
      out.push_back(from_asio(ep));
  }
  return out;
}

udp_node::socket_slot* udp_node::slot_for(const endpoint& to) noexcept {
  if (to.family == 6)
    return slots_[1].get();
  if (slots_[0])
    return slots_[0].get();
  return slots_[1] && slots_[1]->mapped ? slots_[1].get() : nullptr;
}

void udp_node::start() {
  std::vector<endpoint> seeds;
  if (!opts_.routing_table_file.empty()) {
    std::ifstream in(opts_.routing_table_file, std::ios::binary);
    if (in) {
      bytes data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (auto nodes = routing_table::load(data))
        for (auto& n : *nodes)
          seeds.push_back(n.ep);
    }
  }
  if (!seeds.empty())
    node_->bootstrap(seeds, clock::now());
  for (auto& slot : slots_)
    if (slot)
      receive(*slot);
  bootstrap(opts_.bootstrap);
  after_call();
}

void udp_node::stop() {
  if (stopped_)
    return;
  stopped_ = true;
  auto nodes = node_->table_nodes();
  if (!opts_.routing_table_file.empty() && !nodes.empty()) {
    auto tmp = opts_.routing_table_file + ".tmp";
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      auto data = routing_table::save(nodes); // both families (BEP 32)
      out.write(reinterpret_cast<const char*>(data.data()),
                static_cast<std::streamsize>(data.size()));
    }
    std::rename(tmp.c_str(), opts_.routing_table_file.c_str());
  }
  boost::system::error_code ec;
  timer_.cancel();
  for (auto& slot : slots_)
    if (slot)
      slot->socket.close(ec);
  handlers_.clear();
  pending_items_.clear();
  pending_done_.clear();
}

void udp_node::bootstrap(const std::vector<std::string>& addresses) {
  if (stopped_)
    return;
  std::vector<endpoint> numeric;
  for (auto& a : addresses) {
    if (auto ep = endpoint::parse(a)) {
      numeric.push_back(*ep);
      continue;
    }
    std::string host, port;
    if (!split_host_port(a, host, port)) {
      ++resolve_failures_;
      continue;
    }
    auto resolver = std::make_shared<udp::resolver>(io_);
    std::weak_ptr<udp_node> weak = shared_from_this();
    resolver->async_resolve(host, port, [weak, resolver](const boost::system::error_code& ec,
                                                         udp::resolver::results_type results) {
      auto self = weak.lock();
      if (!self || self->stopped_)
        return;
      if (ec) {
        ++self->resolve_failures_;
        return;
      }
      std::vector<endpoint> eps;
      for (auto& r : results)
        eps.push_back(from_asio(r.endpoint()));
      if (!eps.empty()) {
        self->node_->bootstrap(eps, clock::now());
        self->after_call();
      }
    });
  }
  if (!numeric.empty()) {
    node_->bootstrap(numeric, clock::now());
    after_call();
  }
}

void udp_node::receive(socket_slot& slot) {
  if (stopped_)
    return;
  auto self = shared_from_this();
  slot.socket.async_receive_from(
    asio::buffer(slot.buf), slot.sender,
    [self, &slot](const boost::system::error_code& ec, size_t n) {
      if (self->stopped_ || ec == asio::error::operation_aborted)
        return;
      if (!ec) {
        self->node_->handle_packet(byte_view(slot.buf.data(), n), from_asio(slot.sender),
                                   clock::now());
        self->after_call();
      }
      self->receive(slot);
    });
}

void udp_node::arm_timer() {
  if (stopped_)
    return;
  auto next = node_->next_tick();
  if (next >= armed_at_)
    return;
  armed_at_ = next;
  timer_.expires_at(next);
  std::weak_ptr<udp_node> weak = shared_from_this();
  timer_.async_wait([weak](const boost::system::error_code& ec) {
    if (ec == asio::error::operation_aborted)
      return;
    auto self = weak.lock();
    if (!self || self->stopped_)
      return;
    self->armed_at_ = time_point::max();
    self->node_->tick(clock::now());
    self->after_call();
  });
}

void udp_node::after_call() {
  flush();
  arm_timer();
}

void udp_node::flush() {
  if (flushing_)
    return; // the outer flush picks up what re-entrant calls queue
  flushing_ = true;
  while (!pending_items_.empty() || !pending_done_.empty()) {
    auto items = std::move(pending_items_);
    pending_items_.clear();
    auto done = std::move(pending_done_);
    pending_done_.clear();
    for (auto& [id, item] : items) {
      auto it = handlers_.find(id);
      if (it != handlers_.end() && it->second.on_item)
        it->second.on_item(item);
    }
    for (auto& c : done) {
      auto it = handlers_.find(c.id);
      if (it == handlers_.end())
        continue;
      auto h = std::move(it->second);
      handlers_.erase(it);
      if (h.done)
        h.done(c);
    }
  }
  flushing_ = false;
}

request_id udp_node::track(request_id id, item_handler on_item, done_handler done) {
  // Handlers are registered before completions can be flushed: node calls only queue them.
  handlers_[id] = handlers{std::move(on_item), std::move(done)};
  after_call();
  return id;
}

request_id udp_node::get_mutable(const bytes32& key, bytes salt, item_handler on_item,
                                 done_handler done, size_t max_items) {
  return track(node_->get_mutable(key, std::move(salt), clock::now(), max_items),
               std::move(on_item), std::move(done));
}

request_id udp_node::put_mutable(const mutable_item& item, std::optional<int64_t> cas,
                                 done_handler done) {
  return track(node_->put_mutable(item, cas, clock::now()), {}, std::move(done));
}

request_id udp_node::get_immutable(const node_id& target, done_handler done) {
  return track(node_->get_immutable(target, clock::now()), {}, std::move(done));
}

request_id udp_node::put_immutable(bytes bencoded_value, done_handler done) {
  return track(node_->put_immutable(std::move(bencoded_value), clock::now()), {},
               std::move(done));
}

void udp_node::cancel(request_id id) {
  node_->cancel(id);
  handlers_.erase(id);
  pending_items_.erase(std::remove_if(pending_items_.begin(), pending_items_.end(),
                                      [&](auto& p) { return p.first == id; }),
                       pending_items_.end());
}

std::map<std::string, uint64_t> udp_node::stats() const {
  auto s = node_->stats();
  s["send_failures"] = send_failures_;
  s["resolve_failures"] = resolve_failures_;
  return s;
}

} // namespace dtt::dht
