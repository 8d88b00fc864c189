#include "dht/udp_node.hpp"

#include <boost/asio/ip/address.hpp>
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
    if (!self->socket_.is_open())
      return;
    bool v6 = self->v6_;
    if (to.family == 6 && !v6) {
      ++self->send_failures_;
      return;
    }
    // Non-blocking socket: a full send buffer drops the datagram (UDP is lossy anyway).
    boost::system::error_code ec;
    self->socket_.send_to(asio::buffer(packet), to_asio(to, v6), 0, ec);
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
    : io_(io), opts_(std::move(opts)), socket_(io), timer_(io),
      fx_(std::make_unique<effects>(this)) {
  node_ = std::make_unique<node>(opts_.node, *fx_, rng);
}

udp_node::~udp_node() = default;

result<std::shared_ptr<udp_node>> udp_node::create(asio::io_context& io, udp_node_options opts,
                                                   crypto::random_source& rng) {
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(opts.bind_address, ec);
  if (ec)
    return error{errc::invalid_argument, "dht: bad bind address " + opts.bind_address};
  std::shared_ptr<udp_node> self(new udp_node(io, std::move(opts), rng));
  udp::endpoint local(addr, self->opts_.port);
  self->socket_.open(local.protocol(), ec);
  if (!ec)
    self->socket_.bind(local, ec);
  if (!ec)
    self->socket_.non_blocking(true, ec);
  if (ec)
    return error{errc::io_error, "dht: cannot bind " + local.address().to_string() + ":"
                                   + std::to_string(local.port()) + ": " + ec.message()};
  self->v6_ = addr.is_v6();
  self->node_->set_own_address(self->local_endpoint()); // never a lookup candidate (issue 16)
  return self;
}

endpoint udp_node::local_endpoint() const {
  boost::system::error_code ec;
  auto ep = socket_.local_endpoint(ec);
  return ec ? endpoint{} : from_asio(ep);
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
  receive();
  bootstrap(opts_.bootstrap);
  after_call();
}

void udp_node::stop() {
  if (stopped_)
    return;
  stopped_ = true;
  if (!opts_.routing_table_file.empty() && node_->table().size() > 0) {
    auto tmp = opts_.routing_table_file + ".tmp";
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      auto data = node_->table().save();
      out.write(reinterpret_cast<const char*>(data.data()),
                static_cast<std::streamsize>(data.size()));
    }
    std::rename(tmp.c_str(), opts_.routing_table_file.c_str());
  }
  boost::system::error_code ec;
  timer_.cancel();
  socket_.close(ec);
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

void udp_node::receive() {
  if (stopped_)
    return;
  auto self = shared_from_this();
  socket_.async_receive_from(asio::buffer(buf_), sender_,
                             [self](const boost::system::error_code& ec, size_t n) {
                               if (self->stopped_ || ec == asio::error::operation_aborted)
                                 return;
                               if (!ec) {
                                 self->node_->handle_packet(byte_view(self->buf_.data(), n),
                                                            from_asio(self->sender_),
                                                            clock::now());
                                 self->after_call();
                               }
                               self->receive();
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
