#include "actors/runtime.hpp"
#include "nat/advertise.hpp"

#include "actors/endpoint_record.hpp"
#include "actors/log.hpp"
#include "crypto/hash.hpp"

#include <caf/scoped_actor.hpp>

#include <sys/resource.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>

#include <cerrno>
#include <cstring>
#include <future>
#include <optional>

namespace dtt {

namespace {

// The transport holds up to 512 links, 64 handshakes and 256 refused connections at once, and
// the DHT a socket: more than the usual soft limit of 1024 descriptors leaves room for. Raise
// the soft limit to the hard one, as Go's runtime does at start (the hard limit still bounds).
void raise_descriptor_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max)
    return;
  auto want = rl.rlim_max == RLIM_INFINITY ? rlim_t{65536} : rl.rlim_max;
  if (want <= rl.rlim_cur)
    return;
  rl.rlim_cur = want;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
    log::in("runtime").warn("cannot raise the descriptor limit: {}", std::strerror(errno));
}

// A numeric address on the loopback network (127/8, ::1): nothing to map.
bool is_loopback(const std::string& ip) {
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(ip, ec);
  return !ec && a.is_loopback();
}

} // namespace

runtime_options runtime_options::loopback(std::vector<std::string> bootstrap) {
  runtime_options ro;
  ro.dht.bind_address = "127.0.0.1";
  ro.dht.bootstrap = std::move(bootstrap);
  ro.dht.read_only = true;
  ro.dht.rate_limit_per_ip = 0;
  ro.gossip.transport.bind = {"127.0.0.1", 0};
  return ro;
}

options options::loopback(std::vector<std::string> bootstrap) {
  options o;
  o.dht.bind = "127.0.0.1";
  o.dht.bootstrap = std::move(bootstrap);
  o.dht.rate_limit_per_ip = 0;
  o.gossip.bind = "127.0.0.1";
  return o;
}

result<runtime_options> to_runtime_options(const options& opts) {
  runtime_options ro;
  ro.dht.bind_address = opts.dht.bind;
  ro.dht.bind6 = opts.dht.bind6;
  ro.dht.port = opts.dht.port;
  if (!opts.dht.bootstrap.empty())
    ro.dht.bootstrap = opts.dht.bootstrap;
  ro.dht.read_only = !opts.dht.server;
  ro.dht.routing_table_file = opts.dht.routing_table_file;
  if (opts.dht.request_timeout.count() <= 0)
    return error{errc::invalid_argument, "dht.request_timeout must be positive"};
  ro.dht.request_timeout = opts.dht.request_timeout;
  if (!(opts.dht.rate_limit_per_ip >= 0))
    return error{errc::invalid_argument, "dht.rate_limit_per_ip must be 0 or more"};
  ro.dht.rate_limit_per_ip = opts.dht.rate_limit_per_ip;
  ro.dht.one_entry_per_ip = opts.dht.one_entry_per_ip;
  if (opts.dht.node_id_check == "off")
    ro.dht.node_id_check = dht::node_id_check::off;
  else if (opts.dht.node_id_check == "prefer")
    ro.dht.node_id_check = dht::node_id_check::prefer;
  else if (opts.dht.node_id_check == "enforce")
    ro.dht.node_id_check = dht::node_id_check::enforce;
  else
    return error{errc::invalid_argument, "dht.node_id_check: \"" + opts.dht.node_id_check
                                           + "\" is not off, prefer or enforce"};
  ro.gossip.transport.bind = {opts.gossip.bind, opts.gossip.port};
  ro.gossip.transport.bind6 = {opts.gossip.bind6, 0}; // bind's port if free on IPv6
  if (opts.gossip.max_message_size < gossip::min_max_message_size)
    return error{errc::invalid_argument, "gossip.max_message_size below 512"};
  ro.gossip.transport.max_message_size = opts.gossip.max_message_size;
  if (opts.gossip.keepalive_interval.count() <= 0
      || opts.gossip.idle_timeout <= opts.gossip.keepalive_interval)
    return error{errc::invalid_argument,
                 "gossip.idle_timeout must be longer than a positive keepalive_interval"};
  if (opts.gossip.active_view < min_active_view || opts.gossip.active_view > max_active_view)
    return error{errc::invalid_argument, "gossip.active_view must be "
                                           + std::to_string(min_active_view) + " to "
                                           + std::to_string(max_active_view)};
  ro.gossip.protocol.membership.active_view_capacity = opts.gossip.active_view;
  ro.gossip.transport.keepalive_interval = opts.gossip.keepalive_interval;
  ro.gossip.transport.idle_timeout = opts.gossip.idle_timeout;
  ro.advertise = opts.gossip.advertise;
  ro.use_endpoint_records = opts.use_endpoint_records;
  ro.state_dir = opts.state_dir;
  ro.clock_offset = opts.clock_offset;
  auto pm = nat::parse_mode(opts.nat.port_mapping);
  if (!pm)
    return error{errc::invalid_argument, "nat.port_mapping: " + pm.err().message()};
  ro.port_mapping = *pm;
  if (opts.nat.lease < std::chrono::seconds(60) || opts.nat.lease > nat::max_lease)
    return error{errc::invalid_argument, "nat.lease must be within 60 s .. 7200 s"};
  ro.nat_lease = opts.nat.lease;
  ro.gossip.transport.hole_punching = opts.nat.hole_punching;
  ro.gossip.transport.relay = opts.nat.relay;
  ro.gossip.transport.relay_for_others = opts.nat.relay_for_others;
  return ro;
}

runtime::internals::internals(caf::actor_system& s)
  : sys(&s), work(boost::asio::make_work_guard(io)) {}

runtime::internals::~internals() {
  // The mappings are removed on the mapper's thread while the rest stops (bounded below).
  if (mapper)
    mapper->begin_stop();
  // Topics first (their handles then answer errc::closed), then the node's own actors.
  std::vector<caf::actor> topics;
  if (node)
    topics = node->stop_topics();
  node.reset();
  // Tell the neighbours: a stopped topic unsubscribes from the gossip actor (attached to its
  // exit), which then leaves the topic and queues a HyParView Disconnect to each neighbour.
  // Wait (bounded) until the topics are gone, then for one round trip through the gossip
  // actor (it has handled those unsubscribes by then), then for the io thread to start the
  // writes, before the transport is shut down: it closes links at once, queued frames with
  // them.
  if (gossip && !topics.empty()) {
    caf::scoped_actor self{*sys};
    for (auto& t : topics)
      self->monitor(t);
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    for (size_t i = 0; i < topics.size() && std::chrono::steady_clock::now() < until; ++i)
      self->receive([](const caf::down_msg&) {}, caf::after(std::chrono::seconds(1)) >> [] {});
    self->request(gossip, std::chrono::seconds(1), local_addresses_atom::value)
      .receive([](const std::vector<gossip::socket_address>&) {}, [](const caf::error&) {});
    auto ran = std::make_shared<std::promise<void>>();
    auto done = ran->get_future();
    boost::asio::post(io, [ran] { ran->set_value(); });
    done.wait_for(std::chrono::milliseconds(500));
    // The writes were started on the io thread; give the kernel a moment to take the bytes.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // Stop both actors and wait (bounded) until they are gone, so that the io_context still runs
  // while they post their sockets' shutdown into it.
  {
    caf::scoped_actor self{*sys};
    size_t pending = 0;
    for (auto a : {caf::actor_cast<caf::actor>(dht), caf::actor_cast<caf::actor>(gossip)}) {
      if (!a)
        continue;
      self->monitor(a);
      self->send_exit(a, caf::exit_reason::user_shutdown);
      ++pending;
    }
    dht = nullptr;
    gossip = nullptr;
    for (size_t i = 0; i < pending; ++i)
      self->receive([](const caf::down_msg&) {},
                    caf::after(std::chrono::seconds(5)) >> [] {
                      log::in("runtime").warn("an actor did not stop within 5 s");
                    });
  }
  if (mapper)
    mapper->stop();
  work.reset();
  if (thread.joinable()) {
    // Whatever is left (closing sockets) gets a moment, then the loop is stopped. The sockets'
    // closes were posted before this point and run at once; what can remain are timers and
    // dials of links that are gone (it was 2 s, which made every connected dttd take 2 s to
    // stop: issue 17 measured 2.0-2.2 s against 25 ms for a node without peers).
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(250);
    while (!io.stopped() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    io.stop();
    thread.join();
  }
}

result<std::unique_ptr<runtime>> start_runtime(caf::actor_system& sys, crypto::signing_key key,
                                               runtime_options opts) {
  raise_descriptor_limit();
  auto in = std::make_unique<runtime::internals>(sys);
  in->reach = std::make_shared<reachability_hub>(opts.port_mapping);
  opts.dht.on_external_address = [hub = in->reach](const dht::endpoint& ep) {
    hub->external_address(ep);
  };
  uint16_t dht_port = 0;
  opts.dht.on_bound = [&dht_port](const dht::endpoint& ep) { dht_port = ep.port; };
  bool map_udp = !opts.dht.read_only && !is_loopback(opts.dht.bind_address);
  // A configured advertise means a port forwarded by hand: nothing to map.
  bool map_tcp = !is_loopback(opts.gossip.transport.bind.ip) && opts.advertise.empty();
  auto dht = spawn_dht_actor(sys, in->io, std::move(opts.dht));
  if (!dht)
    return error{errc::io_error, "DHT node: " + sys.render(dht.error())};
  in->dht = std::move(*dht);
  auto gossip = spawn_gossip_actor(sys, in->io, key, std::move(opts.gossip));
  if (!gossip)
    return error{errc::io_error, "gossip transport: " + sys.render(gossip.error())};
  in->gossip = std::move(*gossip);
  in->thread = std::thread([io = &in->io] { io->run(); });
  node_options no;
  no.dht = in->dht;
  no.gossip = in->gossip;
  no.use_endpoint_records = opts.use_endpoint_records;
  no.advertise = opts.advertise;
  in->advertise = opts.advertise;
  no.state_dir = opts.state_dir;
  no.clock = &crypto::system_wall_clock_offset(opts.clock_offset.count());
  // PCP nonces from the node's key: a restarted node renews and deletes its own mappings.
  const auto pcp_nonce_key = crypto::hmac_sha256(byte_view{key.seed().data(), key.seed().size()},
                                                 {byte_view::of("dtt pcp nonce key")});
  in->node = std::make_unique<dtt::node>(sys, std::move(key), std::move(no));
  in->reach->attach(in->node->directory_address());
  if (opts.port_mapping != nat::mode::off && (map_tcp || map_udp)) {
    nat::mapper_options mo;
    mo.wanted = opts.port_mapping;
    mo.lease = opts.nat_lease;
    mo.pcp_nonce_key = pcp_nonce_key;
    mo.stop_timeout = std::chrono::milliseconds(1000); // dttd stops within 2 s (issue 17)
    if (map_tcp) {
      caf::scoped_actor self{sys};
      self->request(in->gossip, std::chrono::seconds(5), local_addresses_atom::value)
        .receive(
          [&](const std::vector<gossip::socket_address>& addrs) {
            if (!addrs.empty())
              mo.ports.emplace_back(nat::protocol::tcp, addrs.front().port);
            // Our global IPv6 addresses need no mapping, only a pinhole in the router's
            // firewall (UPnP IGD2), at most a few (hosts with many addresses).
            for (auto& a : addrs)
              if (nat::pinhole_address(a.ip) && mo.pinholes.size() < 4)
                mo.pinholes.push_back({nat::protocol::tcp, a.ip, a.port});
          },
          [](const caf::error&) {});
    }
    if (map_udp && dht_port != 0)
      mo.ports.emplace_back(nat::protocol::udp, dht_port);
    in->mapper = std::make_shared<nat::port_mapper>(
      mo, [hub = in->reach](const nat::mapper_state& st) { hub->mappings(st); });
    in->reach->set_mapper(in->mapper);
  }
  return std::make_unique<runtime>(std::move(in));
}

// --- the public runtime (include/dtt/runtime.hpp) ----------------------------------------------

std::vector<std::string> mainline_routers() { return dht_options::default_dht_bootstrap(); }

result<std::vector<socket_address>> parse_addresses(std::string_view text) {
  return decode_endpoint_record(byte_view::of(text));
}

runtime::runtime(std::unique_ptr<internals> impl) : impl_(std::move(impl)) {}

runtime::~runtime() = default;

result<std::unique_ptr<runtime>> runtime::start(caf::actor_system& sys, const node_key& key,
                                                options opts) {
  auto ro = to_runtime_options(opts);
  if (!ro)
    return ro.err();
  return start_runtime(sys, crypto::signing_key::from_seed(key.seed()), std::move(*ro));
}

result<topic> runtime::join(std::string_view topic_name, std::string_view secret, config cfg) {
  return impl_->node->join(topic_name, byte_view::of(secret), std::move(cfg));
}

topic runtime::join_no_wait(std::string_view topic_name, std::string_view secret, config cfg) {
  return impl_->node->join_no_wait(topic_name, byte_view::of(secret), std::move(cfg));
}

const endpoint_id& runtime::id() const noexcept { return impl_->node->id(); }

namespace {

template <class T, class Handle, class... Ts>
result<T> ask_runtime(caf::actor_system& sys, const Handle& dest, Ts&&... xs) {
  caf::scoped_actor self{sys};
  std::optional<result<T>> out;
  self->request(dest, std::chrono::seconds(5), std::forward<Ts>(xs)...)
    .receive([&](T& x) { out.emplace(std::move(x)); },
             [&](caf::error& e) { out.emplace(error{errc::closed, sys.render(e)}); });
  return std::move(*out);
}

} // namespace

result<std::vector<socket_address>> runtime::local_addresses() {
  return ask_runtime<std::vector<socket_address>>(*impl_->sys, impl_->gossip,
                                                  local_addresses_atom::value);
}

reachability_info runtime::reachability() {
  return impl_->reach ? impl_->reach->info() : reachability_info{};
}

result<std::map<std::string, uint64_t>> runtime::dht_stats() {
  return ask_runtime<std::map<std::string, uint64_t>>(*impl_->sys, impl_->dht,
                                                      dht_stats_atom::value);
}

result<std::vector<socket_address>> runtime::advertised_addresses() {
  if (!impl_->advertise.empty())
    return impl_->advertise;
  auto local = local_addresses();
  if (!local)
    return local.err();
  auto reach = reachability();
  std::vector<socket_address> mapped;
  for (auto& m : reach.mappings)
    if (m.protocol == "TCP")
      mapped.push_back(m.external);
  return nat::advertised_addresses({}, *local, mapped, reach.external_ip);
}

result<std::map<std::string, uint64_t>> runtime::gossip_stats() {
  return ask_runtime<std::map<std::string, uint64_t>>(*impl_->sys, impl_->gossip,
                                                      gossip_stats_atom::value);
}

boost::asio::io_context& runtime::io_context() noexcept {
  return impl_->io;
}

} // namespace dtt
