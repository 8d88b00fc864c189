#include "harness.hpp"

#include "crypto/membership.hpp"

#include "messages/types.hpp"

#include <caf/scoped_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <nlohmann/json.hpp>

#include <fstream>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>
#include <unistd.h>

namespace dtt::hostile {

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

bytes to_bytes(const std::string& s) { return bytes(s.begin(), s.end()); }

// A stdout line of dttd as JSON (nothing if it is not JSON).
std::optional<nlohmann::json> parse_event(const std::string& line) {
  auto j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return std::nullopt;
  return j;
}

std::string event_string(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

// Events of a gossip topic subscribed to directly on a gossip actor (the topic-id outsider).
struct event_store {
  std::mutex m;
  std::vector<gossip::event> events;
};

gossip_subscriber::behavior_type recorder(gossip_subscriber::pointer,
                                          std::shared_ptr<event_store> store) {
  return {[store](gossip_event_atom, const gossip::topic_id&, const gossip::event& ev) {
    std::lock_guard<std::mutex> g(store->m);
    store->events.push_back(ev);
  }};
}

// A request to an actor from a blocking context, bounded by `timeout`.
template <class R, class Handle, class... Ts>
std::optional<R> ask(caf::actor_system& sys, const Handle& h, std::chrono::milliseconds timeout,
                     Ts&&... xs) {
  caf::scoped_actor self{sys};
  std::optional<R> out;
  self->request(h, timeout, std::forward<Ts>(xs)...)
    .receive([&](R& r) { out = std::move(r); }, [&](caf::error&) {});
  return out;
}

// Spawns dtt_attack against `target`; nullptr with `why` on failure.
std::unique_ptr<child> start_attacker(const std::string& path, const gossip::socket_address& target,
                                      flood_mode mode, size_t connections, double rate,
                                      bool reopen, double duration_s, std::string* why) {
  child_options o;
  o.argv = {path,
            "--target",
            target.ip + ":" + std::to_string(target.port),
            "--source",
            "127.0.0.2",
            "--connections",
            std::to_string(connections),
            "--mode",
            to_string(mode),
            "--rate",
            std::to_string(rate),
            "--duration",
            std::to_string(duration_s)};
  if (!reopen)
    o.argv.push_back("--no-reopen");
  return child::spawn(o, why);
}

// A dttd member of `topic_name` on the testnet.
std::unique_ptr<dttd_process> start_dttd_member(const std::string& path,
                                                const std::string& topic_name,
                                                const std::string& secret,
                                                const dht::testnet& net,
                                                const std::string& log_level, std::string* why) {
  dttd_options o;
  o.path = path;
  o.topic = topic_name;
  o.secret = secret;
  o.bootstrap = net.bootstrap();
  o.log_level = log_level;
  return dttd_process::start(o, why);
}

std::string last_counters(child& attacker) {
  auto l = attacker.last_line([](const std::string& s) { return s.rfind("{", 0) == 0; });
  return l ? *l : std::string{};
}

// Samples `pid` and keeps the largest descriptor count and RSS seen.
struct peak_tracker {
  pid_t pid;
  size_t max_fds = 0, max_rss = 0;
  proc_sample take() {
    auto s = sample_process(pid);
    if (s.ok) {
      max_fds = std::max(max_fds, s.open_fds);
      max_rss = std::max(max_rss, s.rss_bytes);
    }
    return s;
  }
  // Sleeps for `d`, sampling every 250 ms.
  void watch(std::chrono::milliseconds d) {
    auto end = clock_type::now() + d;
    while (clock_type::now() < end) {
      take();
      std::this_thread::sleep_for(std::min<clock_type::duration>(250ms, end - clock_type::now()));
    }
  }
};

} // namespace

actor_env::actor_env() {
  cfg.set("scheduler.max-threads", 2);
  register_types(cfg);
  sys = std::make_unique<caf::actor_system>(cfg);
}

actor_env::~actor_env() = default;

config scenario_config() {
  config c;
  c.join_timeout = std::chrono::seconds(60);
  return c;
}

std::unique_ptr<library_node> library_node::start(caf::actor_system& sys,
                                                  const std::vector<std::string>& bootstrap,
                                                  std::string* why) {
  runtime_options ro;
  ro.dht.bind_address = "127.0.0.1";
  ro.dht.bootstrap = bootstrap;
  ro.dht.read_only = true;
  ro.dht.rate_limit_per_ip = 0; // every testnet node shares 127.0.0.1
  ro.gossip.transport.bind = {"127.0.0.1", 0};
  auto rt = start_runtime(sys, crypto::signing_key::generate(), ro);
  if (!rt) {
    if (why)
      *why = "library node: " + rt.err().message();
    return nullptr;
  }
  auto n = std::make_unique<library_node>();
  n->rt = std::move(*rt);
  return n;
}

library_node::~library_node() {
  t.reset(); // every topic handle before the runtime
  rt.reset();
}

void library_node::join(const std::string& name, const std::string& secret, bool publish) {
  auto cfg = scenario_config();
  cfg.publisher.enabled = publish;
  cfg.bootstrap.publish_record_on_startup = publish;
  t = std::make_unique<topic>(rt->internal().node->join_no_wait(name, byte_view::of(secret), cfg));
}

void library_node::drain(std::chrono::milliseconds wait) {
  if (!t)
    return;
  for (auto w = wait;; w = 1ms) {
    auto ev = t->next(w);
    if (!ev)
      return;
    events.push_back(std::move(*ev));
  }
}

bool library_node::received(const std::string& content) const {
  for (auto& e : events)
    if (e.k == gossip::event::kind::received && e.content == to_bytes(content))
      return true;
  return false;
}

size_t library_node::received_with_prefix(const std::string& prefix) const {
  size_t n = 0;
  for (auto& e : events)
    if (e.k == gossip::event::kind::received && e.content.size() >= prefix.size()
        && std::equal(prefix.begin(), prefix.end(), e.content.begin()))
      ++n;
  return n;
}

bool library_node::saw_neighbor(const gossip::endpoint_id& peer) const {
  for (auto& e : events)
    if (e.k == gossip::event::kind::neighbor_up && e.peer == peer)
      return true;
  return false;
}

gossip::socket_address library_node::address() const {
  auto a = ask<std::vector<gossip::socket_address>>(rt->internal().node->system(), rt->internal().gossip, 5000ms,
                                                    local_addresses_atom::value);
  if (!a || a->empty())
    return {};
  return a->front();
}

std::unique_ptr<dttd_process> dttd_process::start(const dttd_options& o, std::string* why) {
  auto d = std::make_unique<dttd_process>();
  d->port = o.gossip_port ? o.gossip_port : free_tcp_port();
  static int counter = 0;
  d->config_path = "/tmp/dtt-hostile-" + std::to_string(getpid()) + "-"
                   + std::to_string(++counter) + ".ini";
  {
    std::ofstream cfg(d->config_path);
    cfg << "[dttd]\ntopic=\"" << o.topic << "\"\nsecret=\"" << o.secret << "\"\n"
        << "[dttd.dht]\nbind=\"127.0.0.1\"\nbootstrap=[";
    for (size_t i = 0; i < o.bootstrap.size(); ++i)
      cfg << (i ? ", " : "") << "\"" << o.bootstrap[i] << "\"";
    cfg << "]\n[dttd.gossip]\nbind=\"127.0.0.1\"\nport=" << d->port << "\n";
  }
  child_options co;
  co.argv = {o.path, "--config-file=" + d->config_path};
  if (o.log_level.empty())
    co.unset_env.push_back("DTT_LOG");
  else
    co.env.emplace_back("DTT_LOG", o.log_level);
  d->proc = child::spawn(co, why);
  if (!d->proc)
    return nullptr;
  auto started = d->proc->wait_line(
    [](const std::string& l) { return l.find("\"event\":\"started\"") != std::string::npos; },
    10000ms);
  std::optional<bytes32> id;
  if (started)
    if (auto j = parse_event(*started))
      id = array_from_hex<32>(event_string(*j, "id"));
  if (!id) {
    if (why)
      *why = "dttd did not start: " + d->proc->stderr_text();
    return nullptr;
  }
  d->id = *id;
  return d;
}

dttd_process::~dttd_process() {
  if (proc)
    proc->stop();
  proc.reset();
  if (!config_path.empty())
    std::remove(config_path.c_str());
}

bool dttd_process::received(const std::string& content) {
  return proc->last_line([&](const std::string& l) {
    auto j = parse_event(l);
    return j && event_string(*j, "event") == "received" && event_string(*j, "content") == content;
  }).has_value();
}

size_t dttd_process::received_with_prefix(const std::string& prefix) {
  size_t n = 0;
  for (auto& l : proc->lines()) {
    auto j = parse_event(l);
    if (j && event_string(*j, "event") == "received"
        && event_string(*j, "content").rfind(prefix, 0) == 0)
      ++n;
  }
  return n;
}

bool dttd_process::saw_neighbor(const gossip::endpoint_id& peer) {
  auto hex = to_hex(peer);
  return proc->last_line([&](const std::string& l) {
    auto j = parse_event(l);
    return j && event_string(*j, "event") == "neighbor_up" && event_string(*j, "peer") == hex;
  }).has_value();
}

std::unique_ptr<dht::testnet> start_testnet(std::string* why, size_t nodes) {
  dht::testnet_options o;
  o.nodes = nodes;
  auto net = std::make_unique<dht::testnet>(o);
  if (auto st = net->start(); !st) {
    if (why)
      *why = "testnet: " + st.err().message();
    return nullptr;
  }
  return net;
}

bool has_timestamp(const std::string& line) {
  static const std::regex re(
    R"(^\[?((\d{4}-\d{2}-\d{2}[T ])?\d{2}:\d{2}:\d{2}|\d{9,}\.\d+))");
  return std::regex_search(line, re);
}

gossip::topic_id gossip_topic_of(const std::string& name, const std::string& secret) {
  return crypto::derive_membership(crypto::topic_id::from_name(name).hash(),
                                   crypto::initial_secret_hash(byte_view::of(secret)))
    .topic_id;
}

flood_report run_flood_scenario(const flood_scenario& s) {
  flood_report r;
  const std::string topic_name = "hostile-flood";
  const std::string secret = "hostile-flood-secret";
  auto net = start_testnet(&r.error);
  if (!net)
    return r;
  actor_env env;
  std::unique_ptr<dttd_process> dv;
  std::unique_ptr<library_node> lv;
  gossip::socket_address target;
  if (s.victim == victim_kind::dttd) {
    dv = start_dttd_member(s.dttd_path, topic_name, secret, *net, s.log_level, &r.error);
    if (!dv)
      return r;
    target = dv->address();
    r.victim_pid = dv->proc->pid();
  } else {
    lv = library_node::start(*env.sys, net->bootstrap(), &r.error);
    if (!lv)
      return r;
    lv->join(topic_name, secret);
    target = lv->address();
    r.victim_pid = getpid();
  }
  auto honest = library_node::start(*env.sys, net->bootstrap(), &r.error);
  if (!honest)
    return r;
  std::this_thread::sleep_for(s.settle);
  peak_tracker peaks{r.victim_pid};
  r.before = sample_process(r.victim_pid);
  size_t log_mark = dv ? dv->proc->stderr_bytes() : 0;

  auto attacker = start_attacker(s.attack_path, target, s.mode, s.connections, s.rate, true, 600,
                                 &r.error);
  if (!attacker)
    return r;
  auto flood_t0 = clock_type::now();
  peaks.watch(s.ramp);
  auto c0 = peaks.take();
  peaks.watch(s.cpu_window);
  auto c1 = peaks.take();
  r.cpu_percent = cpu_percent(c0, c1);
  r.attacker_during = last_counters(*attacker);

  // A new honest node joins the victim's topic while the flood runs. It does not publish its
  // own record, so the victim cannot find and dial it: the join has to come in through the
  // victim's accept path, which is what the flood attacks.
  auto j0 = clock_type::now();
  honest->join(topic_name, secret, false);
  if (honest->t->joined(s.join_wait))
    r.join_s = seconds_since(j0);
  if (r.join_s) {
    auto victim_got = [&](const std::string& prefix) {
      if (dv)
        return dv->received_with_prefix(prefix) > 0;
      lv->drain();
      return lv->received_with_prefix(prefix) > 0;
    };
    auto end = clock_type::now() + s.exchange_wait;
    for (int i = 0; !r.honest_to_victim && clock_type::now() < end; ++i) {
      (void)honest->t->broadcast(to_bytes("from-honest-" + std::to_string(i)));
      for (int k = 0; k < 10 && !r.honest_to_victim; ++k) {
        std::this_thread::sleep_for(30ms);
        r.honest_to_victim = victim_got("from-honest-");
      }
    }
    end = clock_type::now() + s.exchange_wait;
    for (int i = 0; !r.victim_to_honest && clock_type::now() < end; ++i) {
      auto msg = "from-victim-" + std::to_string(i);
      if (dv)
        dv->broadcast(msg);
      else
        (void)lv->t->broadcast(to_bytes(msg));
      honest->drain(300ms);
      r.victim_to_honest = honest->received_with_prefix("from-victim-") > 0;
    }
  }
  r.during = peaks.take();
  r.log_bytes = dv ? dv->proc->stderr_bytes() - log_mark : 0;
  r.flood_s = seconds_since(flood_t0);
  attacker->stop();
  r.attacker_final = last_counters(*attacker);
  if (auto j = nlohmann::json::parse(r.attacker_final, nullptr, false); j.is_object())
    r.attacker_handshakes = j.value("handshakes", uint64_t{0});
  attacker.reset();
  r.max_fds_during = peaks.max_fds;
  r.max_rss_during = peaks.max_rss;

  // After the flood: the honest node leaves the topic, the descriptors come back.
  honest->t.reset();
  auto d0 = clock_type::now();
  while (clock_type::now() - d0 < s.drain_wait) {
    auto now = sample_process(r.victim_pid);
    if (now.ok && now.open_fds <= r.before.open_fds + s.fd_slack) {
      r.fds_back_s = seconds_since(d0);
      break;
    }
    std::this_thread::sleep_for(250ms);
  }
  r.after = sample_process(r.victim_pid);
  if (dv) {
    std::istringstream in(dv->proc->stderr_text());
    std::string line;
    while (std::getline(in, line)) {
      ++r.log_lines;
      if (!has_timestamp(line)) {
        if (r.untimestamped_lines++ == 0)
          r.first_untimestamped = line;
      }
    }
  }
  honest.reset();
  dv.reset();
  lv.reset();
  net->stop();
  return r;
}

silent_report run_silent_scenario(const silent_scenario& s) {
  silent_report r;
  auto net = start_testnet(&r.error);
  if (!net)
    return r;
  auto dv = start_dttd_member(s.dttd_path, "hostile-silent", "hostile-silent-secret", *net, "",
                              &r.error);
  if (!dv)
    return r;
  std::this_thread::sleep_for(1000ms);
  double watch_s = std::chrono::duration<double>(s.watch).count();
  auto attacker = start_attacker(s.attack_path, dv->address(), s.mode, s.connections, 1000,
                                 false, watch_s, &r.error);
  if (!attacker)
    return r;
  auto last = attacker->wait_line(
    [](const std::string& l) { return l.find("\"final\":true") != std::string::npos; },
    s.watch + 10000ms);
  attacker->stop();
  if (!last) {
    r.error = "the attacker did not report";
    return r;
  }
  r.attacker_final = *last;
  auto j = nlohmann::json::parse(*last, nullptr, false);
  if (j.is_discarded()) {
    r.error = "unreadable attacker report " + *last;
    return r;
  }
  r.connected = j.value("connected", uint64_t{0});
  r.closed_by_victim = j.value("closed_by_victim", uint64_t{0});
  r.still_open = j.value("open", uint64_t{0});
  r.max_lifetime_ms = j.value("max_lifetime_ms", int64_t{0});
  r.oldest_open_ms = j.value("oldest_open_ms", int64_t{0});
  r.handshakes = j.value("handshakes", uint64_t{0});
  dv.reset();
  net->stop();
  return r;
}

outsider_report run_outsider_scenario(const outsider_scenario& s) {
  outsider_report r;
  const std::string topic_name = "hostile-outsider";
  const std::string secret = "the-real-secret";
  auto net = start_testnet(&r.error);
  if (!net)
    return r;
  actor_env env;
  auto& sys = *env.sys;

  // Honest A (library or dttd) and honest B (library) on one topic.
  std::unique_ptr<dttd_process> da;
  std::unique_ptr<library_node> la;
  if (s.honest_a == victim_kind::dttd) {
    da = start_dttd_member(s.dttd_path, topic_name, secret, *net, "", &r.error);
    if (!da)
      return r;
  } else {
    la = library_node::start(sys, net->bootstrap(), &r.error);
    if (!la)
      return r;
    la->join(topic_name, secret);
  }
  auto b = library_node::start(sys, net->bootstrap(), &r.error);
  if (!b)
    return r;
  b->join(topic_name, secret);
  const gossip::endpoint_id a_id = da ? da->id : la->id();
  const gossip::socket_address a_addr = da ? da->address() : la->address();
  auto honest_end = clock_type::now() + s.honest_join_wait;
  while (!r.honest_joined && clock_type::now() < honest_end) {
    b->drain(100ms);
    r.honest_joined = b->saw_neighbor(a_id);
  }
  if (!r.honest_joined)
    return r;

  // The outsider: its own node, the topic name, a wrong secret.
  auto o = library_node::start(sys, net->bootstrap(), &r.error);
  if (!o)
    return r;
  auto store = std::make_shared<event_store>();
  gossip_subscriber recorder_actor;
  gossip::topic_id outsider_topic{};
  for (auto& [id, addr] : {std::pair{a_id, a_addr}, std::pair{b->id(), b->address()}})
    caf::anon_send(o->rt->internal().gossip, add_addresses_atom::value, id,
                   std::vector<gossip::socket_address>{addr});
  if (s.outsider == outsider_kind::wrong_secret) {
    o->join(topic_name, "not-the-secret");
    outsider_topic = gossip_topic_of(topic_name, "not-the-secret");
  } else {
    // It has learnt the honest gossip topic id (say, from a member that dialed it) but not
    // the membership key, which it cannot derive without the secret: it proves a guess.
    outsider_topic = gossip_topic_of(topic_name, secret);
    bytes32 guessed_key{};
    guessed_key.fill(0x42);
    recorder_actor = sys.spawn(recorder, store);
    if (!ask<std::vector<gossip::endpoint_id>>(sys, o->rt->internal().gossip, 5000ms,
                                               subscribe_atom::value, outsider_topic,
                                               guessed_key, recorder_actor)) {
      r.error = "the outsider could not subscribe on its gossip actor";
      return r;
    }
  }
  auto outsider_join = [&] {
    auto ok = ask<bool>(sys, o->rt->internal().gossip, 5000ms, join_peers_atom::value, outsider_topic,
                        std::vector<gossip::endpoint_id>{a_id, b->id()});
    if (ok && *ok)
      r.outsider_attempted = true;
  };
  auto outsider_broadcast = [&](const std::string& m) {
    if (o->t)
      (void)o->t->broadcast(to_bytes(m));
    else
      (void)ask<bool>(sys, o->rt->internal().gossip, 5000ms, broadcast_atom::value, outsider_topic,
                      payload(to_bytes(m)));
  };
  outsider_join();

  // The window: everyone broadcasts; the outsider re-tries its join now and then.
  auto end = clock_type::now() + s.window;
  for (int i = 0; clock_type::now() < end; ++i) {
    if (i % 10 == 9)
      outsider_join();
    auto honest_msg = "honest-" + std::to_string(i);
    if (da)
      da->broadcast(honest_msg);
    else
      (void)la->t->broadcast(to_bytes(honest_msg));
    outsider_broadcast("outsider-" + std::to_string(i));
    b->drain(300ms);
    if (la)
      la->drain();
    o->drain();
  }
  b->drain(500ms);
  if (la)
    la->drain();
  o->drain();

  r.honest_exchange = b->received_with_prefix("honest-") > 0;
  r.honest_received = b->received_with_prefix("outsider-")
                      + (da ? da->received_with_prefix("outsider-")
                            : la->received_with_prefix("outsider-"));
  std::vector<gossip::event> outsider_events = o->events;
  {
    std::lock_guard<std::mutex> g(store->m);
    outsider_events.insert(outsider_events.end(), store->events.begin(), store->events.end());
  }
  for (auto& e : outsider_events) {
    if (e.k == gossip::event::kind::neighbor_up)
      r.outsider_neighbor = true;
    auto prefix = std::string("honest-");
    if (e.k == gossip::event::kind::received && e.content.size() >= prefix.size()
        && std::equal(prefix.begin(), prefix.end(), e.content.begin()))
      ++r.outsider_received;
  }
  auto nb = ask<std::vector<gossip::endpoint_id>>(sys, o->rt->internal().gossip, 5000ms,
                                                  neighbors_atom::value, outsider_topic);
  if (nb && !nb->empty())
    r.outsider_neighbor = true;
  if (b->saw_neighbor(o->id()) || (da && da->saw_neighbor(o->id()))
      || (la && la->saw_neighbor(o->id())))
    r.outsider_neighbor = true;

  if (recorder_actor) {
    caf::anon_send(o->rt->internal().gossip, unsubscribe_atom::value, outsider_topic, recorder_actor);
    caf::anon_send_exit(recorder_actor, caf::exit_reason::user_shutdown);
  }
  o.reset();
  b.reset();
  la.reset();
  da.reset();
  net->stop();
  return r;
}

} // namespace dtt::hostile
