#include "actors/node.hpp"

#include "actors/directory.hpp"
#include "actors/peer_cache.hpp"
#include "actors/topic_actor.hpp"
#include "messages/errors.hpp"

#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include <algorithm>
#include <optional>

namespace dtt {

namespace {

// Turns a caf::error from a blocking request into a dtt::error.
error from_caf(caf::actor_system& sys, const caf::error& e) {
  if (e == caf::sec::request_timeout)
    return {errc::timeout, "request timed out"};
  if (e.category() == caf::atom("dtt"))
    return {static_cast<errc>(e.code()), sys.render(e)};
  return {errc::closed, "the topic has stopped (" + sys.render(e) + ")"};
}

// One blocking request from a non-actor thread. The request's own timeout is a backstop: the
// actors answer within their own bounds.
template <class T, class Handle, class... Ts>
result<T> ask(caf::actor_system& sys, const Handle& dest, std::chrono::milliseconds timeout,
              Ts&&... xs) {
  if (!dest)
    return error{errc::closed, "the topic has stopped"};
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

const error closed_error{errc::closed, "the topic has stopped"};

} // namespace

namespace detail {

topic_core::~topic_core() = default;

} // namespace detail

// --- topic (include/dtt/topic.hpp) ---------------------------------------------------------------

status topic::send(bool neighbors_only, payload content, duration wait_for_room) {
  if (!core_ || core_->sink->closed())
    return closed_error;
  // The gossip actor answers busy at `wait_for_room` itself; the request's timeout is a backstop.
  auto backstop = wait_for_room + std::chrono::seconds(10);
  auto wait = caf::timespan{wait_for_room};
  if (neighbors_only)
    return to_status(ask<bool>(*core_->sys, core_->gossip, backstop,
                               broadcast_neighbors_atom::value, core_->topic_id,
                               std::move(content), wait),
                     "gossip refused the broadcast");
  return to_status(ask<bool>(*core_->sys, core_->gossip, backstop, broadcast_atom::value,
                             core_->topic_id, std::move(content), wait),
                   "gossip refused the broadcast");
}

status topic::broadcast(payload content, duration wait_for_room) {
  return send(false, std::move(content), wait_for_room);
}

status topic::broadcast(payload content) {
  auto wait = core_ ? core_->cfg.timeouts.broadcast_timeout : duration{0};
  return send(false, std::move(content), wait);
}

status topic::broadcast_neighbors(payload content, duration wait_for_room) {
  return send(true, std::move(content), wait_for_room);
}

status topic::broadcast_neighbors(payload content) {
  auto wait = core_ ? core_->cfg.timeouts.broadcast_neighbors_timeout : duration{0};
  return send(true, std::move(content), wait);
}

result<event> topic::next(duration timeout) {
  if (!core_)
    return closed_error;
  return core_->sink->next(timeout);
}

result<std::vector<endpoint_id>> topic::neighbors() {
  if (!core_ || core_->sink->closed())
    return closed_error;
  return ask<std::vector<endpoint_id>>(*core_->sys, core_->gossip, std::chrono::seconds(5),
                                       neighbors_atom::value, core_->topic_id);
}

result<std::map<std::string, uint64_t>> topic::stats() {
  if (!core_ || core_->sink->closed())
    return closed_error;
  return ask<std::map<std::string, uint64_t>>(*core_->sys, core_->actor, std::chrono::seconds(5),
                                              stats_atom::value);
}

status topic::join_peers(std::vector<endpoint_id> peers) {
  if (!core_ || core_->sink->closed())
    return closed_error;
  auto& cfg = core_->cfg;
  return to_status(ask<bool>(*core_->sys, core_->actor,
                             cfg.timeouts.join_peer_timeout + cfg.dht.get_timeout
                               + std::chrono::seconds(2),
                             join_peers_atom::value, std::move(peers)),
                   "no peer could be joined");
}

status topic::joined(duration timeout) {
  if (!core_)
    return closed_error;
  return core_->sink->wait_joined(timeout);
}

topic_actor topic::handle() const {
  return core_ ? caf::actor_cast<topic_actor>(core_->actor) : topic_actor{};
}

bytes32 topic::id() const { return core_ ? core_->topic_id : bytes32{}; }

// --- node ----------------------------------------------------------------------------------------

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
  stop_topics();
  if (directory_)
    caf::anon_send_exit(directory_, caf::exit_reason::user_shutdown);
}

std::vector<caf::actor> node::stop_topics() {
  std::vector<caf::weak_actor_ptr> topics;
  {
    std::lock_guard<std::mutex> guard(topics_mu_);
    topics.swap(topics_);
  }
  std::vector<caf::actor> stopped;
  for (auto& weak : topics)
    if (auto strong = weak.lock()) {
      stopped.push_back(caf::actor_cast<caf::actor>(strong));
      caf::anon_send_exit(stopped.back(), caf::exit_reason::user_shutdown);
    }
  return stopped;
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
  ctx.sink = std::make_shared<event_sink>(cfg.event_buffer);
  if (directory_)
    ctx.resolver = caf::actor_cast<resolver_actor>(directory_);
  ctx.seed = crypto::uniform_below(crypto::os_random(), UINT64_MAX) + ++topics_spawned_;
  auto core = std::make_shared<detail::topic_core>();
  core->sys = sys_;
  core->gossip = opts_.gossip;
  core->topic_id = ctx.topic_id();
  core->sink = ctx.sink;
  core->cfg = cfg;
  core->actor = sys_->spawn(topic_actor_fun, std::move(ctx), opts_.dht);
  {
    std::lock_guard<std::mutex> guard(topics_mu_);
    // Forget topics that are gone, so that the list stays as long as the live ones.
    topics_.erase(std::remove_if(topics_.begin(), topics_.end(),
                                 [](const caf::weak_actor_ptr& w) { return !w.lock(); }),
                  topics_.end());
    topics_.emplace_back(caf::actor_cast<caf::strong_actor_ptr>(core->actor).get());
  }
  return topic{std::move(core)};
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
