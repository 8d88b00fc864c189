// dtt::cluster (include/dtt/cluster.hpp): the blocking handle around the cluster actor.
#include "dtt/cluster.hpp"

#include "actors/cluster_actor.hpp"
#include "actors/runtime.hpp"
#include "cluster/credentials.hpp"
#include "messages/errors.hpp"

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/openssl/publish.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <dlfcn.h>

#include <fstream>
#include <optional>
#include <sstream>

// CAF 0.17.6's OpenSSL session drains OpenSSL's per-thread error queue only inside a log
// statement (session::handle_ssl_result: CAF_LOG_INFO(... << get_ssl_error())), and Debian
// builds CAF with CAF_LOG_LEVEL_QUIET: after one failed handshake (an outsider's) the error
// stays queued, and the next TLS read on that thread that would block is reported by
// SSL_get_error as SSL_ERROR_SSL, so CAF closes a healthy member link (seen in
// tests/cluster/processes.cpp: every outsider attempt dropped a link between two members).
// OpenSSL requires an empty queue before each TLS I/O call; these definitions take the place
// of libssl's in the process (the executable's symbols come first) and clear it, then call
// libssl's own. Asio's SSL engine (dtt's gossip transport) clears it the same way already.
namespace {
template <class F>
F real_ssl(const char* name) {
  return reinterpret_cast<F>(::dlsym(RTLD_NEXT, name));
}
} // namespace

extern "C" {

int SSL_read(SSL* s, void* buf, int num) {
  static auto real = real_ssl<int (*)(SSL*, void*, int)>("SSL_read");
  ERR_clear_error();
  return real(s, buf, num);
}

int SSL_write(SSL* s, const void* buf, int num) {
  static auto real = real_ssl<int (*)(SSL*, const void*, int)>("SSL_write");
  ERR_clear_error();
  return real(s, buf, num);
}

int SSL_accept(SSL* s) {
  static auto real = real_ssl<int (*)(SSL*)>("SSL_accept");
  ERR_clear_error();
  return real(s);
}

int SSL_connect(SSL* s) {
  static auto real = real_ssl<int (*)(SSL*)>("SSL_connect");
  ERR_clear_error();
  return real(s);
}

} // extern "C"

namespace dtt {

// The members of a cluster are often started together (a deployment). Processes that start
// within the same moments can split into groups that each found only some of the others'
// records (bench/cluster.sh: 3 of 15 five-process loopback runs had a group of two that met
// the others only at the bubble merge's first tick, 30 s). A merge's first tick comes sooner
// here; its later ticks keep the crate's spacing, so the DHT load barely changes (one pair of
// gets per merge, earlier).
config cluster_options::topic_from(config c) {
  auto& bubble = c.merge.bubble_merge.initial_interval;
  auto& overlap = c.merge.message_overlap_merge.initial_interval;
  bubble = std::min<duration>(bubble, std::chrono::seconds(10));
  overlap = std::min<duration>(overlap, std::chrono::seconds(10));
  return c;
}

cluster_options cluster_options::loopback() {
  cluster_options o;
  o.bind = "127.0.0.1";
  o.announce_interval = std::chrono::milliseconds(1000);
  o.expiry = std::chrono::milliseconds(3000);
  o.topic.join_timeout = std::chrono::seconds(30);
  // Loopback DHT lookups take milliseconds: look for a split after 2 s.
  o.topic.merge.bubble_merge.initial_interval = std::chrono::seconds(2);
  o.topic.merge.message_overlap_merge.initial_interval = std::chrono::seconds(2);
  return o;
}

status prepare_cluster(caf::actor_system_config& cfg, std::string_view cluster_name,
                       std::string_view secret, const std::string& dir) {
  if (cluster_name.empty() || secret.empty())
    return error{errc::invalid_argument, "cluster name and secret must not be empty"};
  auto files = cluster_core::write_member_credentials(cluster_name,
                                                      byte_view::of(secret), dir);
  if (!files)
    return files.err();
  cfg.load<caf::io::middleman>();
  cfg.load<caf::openssl::manager>();
  cfg.openssl_certificate = files->certificate;
  cfg.openssl_key = files->key;
  cfg.openssl_cafile = files->cafile;
  cfg.openssl_capath.clear();
  cfg.openssl_passphrase.clear();
  return ok_status();
}

struct cluster::impl {
  caf::actor_system* sys = nullptr;
  topic cluster_topic;
  caf::actor actor;
  uint16_t port = 0;
  endpoint_id id{};
};

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

template <class T, class... Ts>
result<T> ask(caf::actor_system& sys, const caf::actor& dest, Ts&&... xs) {
  caf::scoped_actor self{sys};
  std::optional<result<T>> out;
  self->request(dest, std::chrono::seconds(10), std::forward<Ts>(xs)...)
    .receive([&](T& x) { out.emplace(std::move(x)); },
             [&](caf::error& e) {
               out.emplace(error{e.category() == caf::atom("dtt")
                                   ? static_cast<errc>(e.code())
                                   : errc::closed,
                                 sys.render(e)});
             });
  return std::move(*out);
}

} // namespace

cluster::cluster(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

result<std::unique_ptr<cluster>> cluster::join(runtime& rt, std::string_view cluster_name,
                                               std::string_view secret, cluster_options opts) {
  auto& in = rt.internal();
  auto& sys = *in.sys;
  if (!sys.has_openssl_manager() || sys.config().openssl_cafile.empty())
    return error{errc::invalid_argument, "call dtt::prepare_cluster before the actor system"};
  // The CA the links verify against must be this cluster's: the same name and secret.
  auto ca = cluster_core::ca_certificate_pem(
    cluster_core::derive_ca_seed(cluster_name, byte_view::of(secret)));
  if (!ca || read_file(sys.config().openssl_cafile) != *ca)
    return error{errc::invalid_argument, "prepare_cluster ran with another name or secret"};
  if (opts.announce_interval.count() <= 0 || opts.expiry < opts.announce_interval ||
      opts.max_members == 0)
    return error{errc::invalid_argument, "cluster timing or limits out of range"};

  // Every member of a cluster is a dtt node, so its topic needs no byte compatibility with
  // distributed-topic-tracker: its record slots are derived from the secret too (hardened,
  // docs/HARDENED.md). Anyone who knows only the cluster name can neither overwrite the
  // members' records (PROTOCOL.md §10.1) nor count them (§10.4); a node with the same name and
  // another secret writes other slots (tests/app/dttd_cluster.py).
  opts.topic.hardened = true;

  auto p = std::make_unique<impl>();
  p->sys = &sys;
  p->id = in.node->id();
  p->cluster_topic = rt.join_no_wait("dtt-cluster/" + std::string(cluster_name), secret,
                                     opts.topic);
  cluster_actor_args args{in.node->key(), p->cluster_topic.id(), 0, {}, p->cluster_topic.handle(),
                          {}};
  args.incarnation = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count());
  args.membership.announce_interval = opts.announce_interval;
  args.membership.expiry = opts.expiry;
  args.membership.neighbor_grace = opts.announce_interval + opts.announce_interval / 2;
  args.membership.max_members = opts.max_members;
  p->actor = spawn_cluster_actor(sys, std::move(args));
  auto port = caf::openssl::publish(p->actor, opts.port, opts.bind.c_str(), false);
  if (!port) {
    caf::anon_send_exit(p->actor, caf::exit_reason::user_shutdown);
    return error{errc::io_error, "middleman TLS port: " + sys.render(port.error())};
  }
  p->port = *port;
  std::vector<socket_address> addrs = opts.advertise;
  for (auto& a : addrs)
    if (a.port == 0)
      a.port = p->port;
  if (addrs.empty()) {
    if (opts.bind != "0.0.0.0" && opts.bind != "::" && !opts.bind.empty()) {
      addrs.push_back({opts.bind, p->port});
    } else if (auto local = rt.local_addresses()) {
      for (auto& a : *local)
        if (a.ip != "0.0.0.0" && a.ip != "::")
          addrs.push_back({a.ip, p->port});
    }
  }
  if (addrs.empty())
    addrs.push_back({"127.0.0.1", p->port});
  caf::anon_send(p->actor, cluster_start_atom::value, std::move(addrs));
  return std::make_unique<cluster>(std::move(p));
}

cluster::~cluster() {
  if (!impl_ || !impl_->actor)
    return;
  ask<bool>(*impl_->sys, impl_->actor, cluster_leave_atom::value); // goodbye, bounded wait
  // caf::openssl::unpublish does not compile in CAF 0.17.6: close the port directly.
  caf::anon_send(impl_->sys->openssl_manager().actor_handle(), caf::close_atom::value,
                 impl_->port);
  caf::anon_send_exit(impl_->actor, caf::exit_reason::user_shutdown);
}

status cluster::publish(const std::string& name, const caf::actor& actor) {
  auto r = ask<bool>(*impl_->sys, impl_->actor, cluster_publish_atom::value, name, actor);
  if (!r)
    return r.err();
  return ok_status();
}

status cluster::unpublish(const std::string& name) {
  auto r = ask<bool>(*impl_->sys, impl_->actor, cluster_unpublish_atom::value, name);
  if (!r)
    return r.err();
  return ok_status();
}

result<std::vector<caf::actor>> cluster::lookup(const std::string& name) {
  return ask<std::vector<caf::actor>>(*impl_->sys, impl_->actor, cluster_lookup_atom::value,
                                      name);
}

result<std::vector<cluster_member>> cluster::members() {
  return ask<std::vector<cluster_member>>(*impl_->sys, impl_->actor,
                                          cluster_members_atom::value);
}

status cluster::subscribe(const cluster_subscriber& subscriber) {
  auto r = ask<std::vector<cluster_member>>(*impl_->sys, impl_->actor, subscribe_atom::value,
                                            subscriber);
  if (!r)
    return r.err();
  return ok_status();
}

cluster_actor cluster::handle() const { return caf::actor_cast<cluster_actor>(impl_->actor); }

uint16_t cluster::port() const noexcept { return impl_->port; }

const endpoint_id& cluster::id() const noexcept { return impl_->id; }

} // namespace dtt
