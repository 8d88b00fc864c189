#include "actors/node.hpp"

#include "actors/directory.hpp"
#include "actors/peer_cache.hpp"
#include "actors/topic_actor.hpp"
#include "messages/errors.hpp"

#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

namespace dtt {

namespace {

// Turns a caf::error from a blocking request into a dtt::error.
error from_caf(caf::actor_system& sys, const caf::error& e) {
  if (e == caf::sec::request_timeout)
    return {errc::timeout, "request timed out"};
  if (e.category() == caf::atom("dtt"))
    return {static_cast<errc>(e.code()), sys.render(e)};
  return {errc::closed, sys.render(e)};
}

template <class T, class... Ts>
result<T> ask(caf::actor_system& sys, const caf::actor& dest, duration timeout, Ts&&... xs) {
  caf::scoped_actor self{sys};
  std::optional<result<T>> out;
  auto t = timeout.count() > 0 ? caf::duration{timeout} : caf::duration{caf::infinite};
  self->request(dest, t, std::forward<Ts>(xs)...)
    .receive([&](T& x) { out.emplace(std::move(x)); },
             [&](caf::error& e) { out.emplace(from_caf(sys, e)); });
  return std::move(*out);
}

status to_status(result<bool> r, const char* what) {
  if (!r)
    return r.err();
  if (!*r)
    return error{errc::refused, what};
  return ok_status();
}

} // namespace

status topic::broadcast(const bytes& content) {
  return to_status(ask<bool>(*sys_, actor_, cfg_.timeouts.broadcast_timeout,
                             broadcast_atom::value, content),
                   "gossip refused the broadcast");
}

status topic::broadcast_neighbors(const bytes& content) {
  return to_status(ask<bool>(*sys_, actor_, cfg_.timeouts.broadcast_neighbors_timeout,
                             broadcast_neighbors_atom::value, content),
                   "gossip refused the broadcast");
}

result<gossip::event> topic::next(duration timeout) {
  // The receiver answers errc::timeout at `timeout`; the request's own timeout is a backstop.
  caf::timespan wait = timeout.count() > 0 ? caf::timespan{timeout} : caf::timespan::max();
  return ask<gossip::event>(*sys_, actor_,
                            timeout.count() > 0 ? timeout + std::chrono::seconds(5) : timeout,
                            next_event_atom::value, wait);
}

result<std::vector<gossip::endpoint_id>> topic::neighbors() {
  return ask<std::vector<gossip::endpoint_id>>(*sys_, actor_, std::chrono::seconds(5),
                                               neighbors_atom::value);
}

status topic::join_peers(std::vector<gossip::endpoint_id> peers) {
  return to_status(ask<bool>(*sys_, actor_, cfg_.timeouts.join_peer_timeout + cfg_.dht.get_timeout,
                             join_peers_atom::value, std::move(peers)),
                   "no peer could be joined");
}

status topic::joined(duration timeout) {
  return to_status(ask<bool>(*sys_, actor_, timeout, await_joined_atom::value), "not joined");
}

node::node(caf::actor_system& sys, crypto::signing_key key, node_options opts)
  : sys_(&sys), key_(std::move(key)), opts_(std::move(opts)) {
  if (!opts_.dht || !opts_.gossip)
    throw std::invalid_argument("dtt::node needs a DHT actor and a gossip actor");
  if (opts_.use_endpoint_records) {
    auto d = sys.spawn(directory, key_, opts_.dht, opts_.gossip, opts_.clock,
                       std::chrono::milliseconds(5000), opts_.advertise);
    caf::anon_send(d, publish_record_atom::value);
    directory_ = caf::actor_cast<caf::actor>(d);
  }
}

node::~node() {
  if (directory_)
    caf::anon_send_exit(directory_, caf::exit_reason::user_shutdown);
}

topic node::join_no_wait(std::string_view topic_name, byte_view secret, config cfg,
                         crypto::rotation_handle rotation) {
  cfg.normalise();
  auto id = crypto::topic_id::from_name(topic_name);
  topic_context ctx;
  ctx.keys = std::make_shared<tracker::topic_keys>(id, key_, secret, std::move(rotation),
                                                   cfg.hardened);
  if (!opts_.state_dir.empty())
    ctx.peer_cache_path = opts_.state_dir + "/"
                          + peer_cache::file_name(id, ctx.keys->initial_secret_hash);
  ctx.cfg = cfg;
  ctx.clock = opts_.clock;
  ctx.gossip = opts_.gossip;
  if (directory_)
    ctx.resolver = caf::actor_cast<resolver_actor>(directory_);
  ctx.seed = crypto::uniform_below(crypto::os_random(), UINT64_MAX) + ++topics_spawned_;
  auto a = sys_->spawn(topic_actor, std::move(ctx), opts_.dht);
  return topic{*sys_, std::move(a), id, std::move(cfg)};
}

result<topic> node::join(std::string_view topic_name, byte_view secret, config cfg,
                         crypto::rotation_handle rotation) {
  auto t = join_no_wait(topic_name, secret, cfg, std::move(rotation));
  auto st = t.joined(cfg.join_timeout);
  if (!st)
    return error{st.err().code, "join of topic '" + std::string(topic_name)
                                  + "' did not complete: " + st.err().message()};
  return t;
}

} // namespace dtt
