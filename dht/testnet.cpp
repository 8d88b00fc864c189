#include "dht/testnet.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>

#include <future>
#include <ostream>

namespace dtt::dht {

namespace asio = boost::asio;

namespace {
// Every table of a family the node has holds at least `want` nodes.
bool populated(const udp_node& n, size_t want) {
  for (uint8_t fam : {uint8_t{4}, uint8_t{6}})
    if (n.core().has_family(fam) && n.core().table(fam).size() < want)
      return false;
  return true;
}
} // namespace

testnet::testnet(testnet_options opts) : opts_(std::move(opts)) {}

testnet::~testnet() { stop(); }

template <class F>
auto testnet::on_io(F f) const -> decltype(f()) {
  std::packaged_task<decltype(f())()> task(std::move(f));
  auto fut = task.get_future();
  asio::post(*io_, [&task] { task(); });
  return fut.get();
}

status testnet::start() {
  if (io_)
    return error{errc::invalid_argument, "testnet: already started"};
  auto t0 = std::chrono::steady_clock::now();
  io_ = std::make_unique<asio::io_context>(1);
  work_ = std::make_unique<asio::executor_work_guard<asio::io_context::executor_type>>(
    io_->get_executor());
  // Distinct loopback addresses when the first one is 127.x.y.z and every node's fits in 127/8.
  auto first = endpoint::parse(opts_.address + ":0");
  uint32_t base = 0;
  if (first && first->family == 4)
    base = uint32_t(first->ip[0]) << 24 | uint32_t(first->ip[1]) << 16
           | uint32_t(first->ip[2]) << 8 | first->ip[3];
  distinct_ = base >> 24 == 127 && (base + opts_.nodes - 1) >> 24 == 127;
  auto address_of = [&](size_t i) {
    if (!distinct_)
      return opts_.address;
    uint32_t a = base + static_cast<uint32_t>(i);
    return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 0xff) + "."
           + std::to_string((a >> 8) & 0xff) + "." + std::to_string(a & 0xff);
  };
  for (int attempt = 0; attempt < 2; ++attempt) {
    status bound = ok_status();
    for (size_t i = 0; i < opts_.nodes && bound; ++i) {
      udp_node_options o;
      o.bind_address = opts_.address.empty() ? std::string() : address_of(i);
      o.bind6 = opts_.address6;
      o.port = opts_.base_port ? static_cast<uint16_t>(opts_.base_port + i) : 0;
      o.node.rate_limit_per_ip = 0;                             // clients share one address
      o.node.rebootstrap_interval = std::chrono::seconds(0);    // retry until populated
      o.node.table.one_per_ip = distinct_ && opts_.address6.empty();
      auto n = udp_node::create(*io_, o);
      if (!n) {
        bound = n.err();
        break;
      }
      addresses_.push_back((*n)->local_endpoint());
      if (!opts_.address6.empty() && !opts_.address.empty())
        if (auto six = (*n)->local_endpoint6())
          addresses6_.push_back(*six);
      nodes_.push_back(*n);
    }
    if (bound)
      break;
    nodes_.clear();
    addresses_.clear();
    addresses6_.clear();
    if (!distinct_ || attempt == 1) {
      io_.reset();
      work_.reset();
      return bound.err();
    }
    distinct_ = false; // e.g. a system without all of 127/8 on lo: share the first address
  }
  thread_ = std::thread([this] { io_->run(); });
  // Each node bootstraps from up to 8 others spread over the net (i+1, i+2, i+4, ...), in each
  // family.
  on_io([this] {
    size_t n = nodes_.size();
    for (size_t i = 0; i < n; ++i) {
      std::vector<std::string> seeds;
      for (size_t step = 1; step < n && seeds.size() < 8; step *= 2)
        seeds.push_back(addresses_[(i + step) % n].to_string());
      for (size_t step = 1, k = 0; step < n && k < 8 && !addresses6_.empty(); step *= 2, ++k)
        seeds.push_back(addresses6_[(i + step) % n].to_string());
      nodes_[i]->start();
      nodes_[i]->bootstrap(seeds);
    }
    return 0;
  });
  auto deadline = t0 + opts_.ready_timeout;
  size_t round = 0;
  auto last_nudge = std::chrono::steady_clock::now();
  while (!ready()) {
    if (std::chrono::steady_clock::now() > deadline) {
      auto detail = on_io([this] {
        std::string out;
        for (size_t i = 0; i < nodes_.size(); ++i) {
          auto st = nodes_[i]->stats();
          out += " [" + std::to_string(i) + ": table " + std::to_string(st["table_size"])
                 + ", commands " + std::to_string(st["commands"]) + ", timeouts "
                 + std::to_string(st["timeouts"]) + "]";
        }
        return out;
      });
      stop();
      return error{errc::timeout, "testnet: routing tables not populated in time:" + detail};
    }
    // A node only learns far-away nodes when they contact it; nudge thin tables by
    // bootstrapping them from other addresses (a rotating window of 16).
    if (std::chrono::steady_clock::now() - last_nudge > std::chrono::milliseconds(50)) {
      last_nudge = std::chrono::steady_clock::now();
      ++round;
      on_io([this, round] {
        size_t n = nodes_.size();
        size_t want = std::min<size_t>(8, n - 1);
        for (size_t i = 0; i < n; ++i) {
          // Not while its last nudge is still running: on a slow machine (sanitizers) piled-up
          // bootstraps time out together and tables never fill.
          if (populated(*nodes_[i], want) || nodes_[i]->core().active_commands() > 0)
            continue;
          std::vector<std::string> seeds;
          for (size_t j = 0; j < 16 && j + 1 < n; ++j) {
            size_t other = (i + 1 + (round * 16 + j) % (n - 1)) % n;
            seeds.push_back(addresses_[other].to_string());
            if (!addresses6_.empty())
              seeds.push_back(addresses6_[other].to_string());
          }
          nodes_[i]->bootstrap(seeds);
        }
        return 0;
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  startup_ = std::chrono::duration_cast<std::chrono::microseconds>(
    std::chrono::steady_clock::now() - t0);
  return ok_status();
}

bool testnet::ready() const {
  if (!io_ || nodes_.empty())
    return false;
  size_t want = std::min<size_t>(8, nodes_.size() - 1);
  return on_io([this, want] {
    for (auto& n : nodes_)
      if (!populated(*n, want))
        return false;
    return true;
  });
}

std::vector<std::string> testnet::bootstrap() const {
  std::vector<std::string> out;
  for (auto& a : addresses_)
    out.push_back(a.to_string());
  return out;
}

std::vector<std::string> testnet::bootstrap6() const {
  std::vector<std::string> out;
  for (auto& a : addresses6_)
    out.push_back(a.to_string());
  return out;
}

std::vector<std::vector<node_entry>> testnet::tables() const {
  if (!io_)
    return {};
  return on_io([this] {
    std::vector<std::vector<node_entry>> out;
    for (auto& n : nodes_)
      out.push_back(n->core().table_nodes());
    return out;
  });
}

std::map<std::string, uint64_t> testnet::stats() const {
  if (!io_)
    return {};
  return on_io([this] {
    std::map<std::string, uint64_t> sum;
    for (auto& n : nodes_)
      for (auto& [k, v] : n->stats())
        sum[k] += v;
    return sum;
  });
}

void testnet::stop() {
  if (!io_)
    return;
  if (thread_.joinable()) {
    on_io([this] {
      for (auto& n : nodes_)
        n->stop();
      return 0;
    });
    work_.reset();
    thread_.join();
  }
  nodes_.clear();
  addresses_.clear();
  addresses6_.clear();
  work_.reset();
  io_.reset();
}

int run_testnet_cli(size_t nodes, uint16_t base_port, const std::string& address,
                    std::ostream& out, const std::string& address6) {
  testnet_options o;
  o.nodes = nodes;
  o.base_port = base_port;
  o.address = address;
  o.address6 = address6;
  // Catch SIGINT/SIGTERM from here on: one that comes while the nodes start (a test that stops
  // the testnet at once) ends the process through the same clean stop, once start() returns.
  asio::io_context sig_io;
  asio::signal_set signals(sig_io, SIGINT, SIGTERM);
  signals.async_wait([](const boost::system::error_code&, int) {});
  testnet net(o);
  auto st = net.start();
  if (!st) {
    out << "testnet: " << st.err().message() << "\n";
    return 1;
  }
  for (auto& a : net.bootstrap())
    out << a << "\n";
  for (auto& a : net.bootstrap6())
    out << a << "\n";
  out.flush();
  sig_io.run();
  net.stop();
  return 0;
}

} // namespace dtt::dht
