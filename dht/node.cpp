#include "dht/node.hpp"

#include "crypto/hash.hpp"

#include <algorithm>
#include <array>
#include <cmath>

namespace dtt::dht {

namespace {
constexpr std::chrono::seconds housekeeping_period{1};
constexpr std::chrono::seconds storage_expiry_period{60};
constexpr size_t max_seeds = 16;          // bootstrap addresses queried per bootstrap
constexpr size_t max_peer_hashes = 256;   // announce_peer store bound (info hashes)
constexpr size_t max_peers_per_hash = 64; // and peers per hash
constexpr size_t max_peers_returned = 50; // get_peers "values" (fits one datagram)
} // namespace

struct node::counters {
  uint64_t packets_in = 0, packets_out = 0, bytes_in = 0, bytes_out = 0;
  uint64_t bad_packets = 0, queries_in = 0, responses_in = 0, errors_in = 0;
  uint64_t errors_sent = 0, unknown_tid = 0, id_mismatch = 0, rate_limited = 0;
  uint64_t dropped_read_only = 0, timeouts = 0, puts_stored = 0, puts_rejected = 0;
  uint64_t invalid_items = 0, commands_refused = 0, queries_out = 0;
  uint64_t verify_pings = 0, short_timeouts = 0, late_responses = 0, lookups_timed_out = 0;
  uint64_t questionable_pings = 0;
  uint64_t responses_after_timeout = 0; // answers to queries that had timed out (rpc_manager)
  uint64_t refused_node_records = 0;  // "nodes"/"nodes6" records left out (krpc::response)
  /// KRPC errors by code (krpc_error_codes, then any other code): received in replies to our
  /// queries, and sent in reply to others' queries.
  std::array<uint64_t, krpc_error_codes.size() + 1> errors_by_code{};
  std::array<uint64_t, krpc_error_codes.size() + 1> errors_sent_by_code{};
  /// Queries by kind (krpc::method, then "other": no method dtt speaks), received and sent.
  std::array<uint64_t, query_kinds> queries_in_by_kind{};
  std::array<uint64_t, query_kinds> queries_out_by_kind{};
  std::array<uint64_t, refusal_kinds> refused{};
};

static_assert(query_kinds == static_cast<size_t>(krpc::method::put) + 2,
              "one query kind per krpc::method, then other");

namespace {
// Index of a KRPC error code among krpc_error_codes; the last slot for any other code.
size_t code_slot(int64_t code) {
  auto it = std::find(krpc_error_codes.begin(), krpc_error_codes.end(), code);
  return static_cast<size_t>(it - krpc_error_codes.begin());
}
} // namespace

const char* query_kind_name(size_t kind) noexcept {
  return kind < query_kinds - 1 ? krpc::method_name(static_cast<krpc::method>(kind)) : "other";
}

std::string summary(const completion& c) {
  std::string errors;
  for (auto& [code, n] : c.errors)
    errors += (errors.empty() ? "" : ", ") + std::to_string(code) + ": " + std::to_string(n);
  std::string out = std::to_string(c.responses) + " responders, " + std::to_string(c.queries)
                    + " queries, " + std::to_string(c.timeouts) + " timeouts, "
                    + std::to_string(c.stalls) + " stalled, errors {" + errors + "}, "
                    + std::to_string(c.invalid_items) + " invalid items, "
                    + std::to_string(c.malformed) + " malformed, " + std::to_string(c.hops)
                    + " hops";
  if (c.timed_out)
    out += ", lookup time bound reached";
  return out;
}

const char* refusal_name(refusal r) noexcept {
  switch (r) {
    case refusal::malformed_packet: return "malformed_packet";
    case refusal::bad_query: return "bad_query";
    case refusal::rate_limited: return "rate_limited";
    case refusal::bad_token: return "bad_token";
    case refusal::put_rejected: return "put_rejected";
    case refusal::invalid_item: return "invalid_item";
    case refusal::unexpected_response: return "unexpected_response";
    case refusal::id_mismatch: return "id_mismatch";
    case refusal::table_own_id: return "table_own_id";
    case refusal::table_address_mismatch: return "table_address_mismatch";
    case refusal::table_address_taken: return "table_address_taken";
    case refusal::table_bad_node_id: return "table_bad_node_id";
    case refusal::table_full: return "table_full";
    case refusal::verify_budget: return "verify_budget";
  }
  return "unknown";
}

struct node::command {
  request_id id = 0;
  operation op = operation::find_node;
  bool internal = false;  // started by the node itself: no completion reported
  /// BEP 32: one lookup per DHT the command runs on (krpc::want flags in `fams`); each family's
  /// set holds only that family's nodes, and a dual-stack command is done when both are.
  lookup_set set;   // IPv4
  lookup_set set6;  // IPv6
  uint8_t fams = 0;  // 0 until start(): every enabled family
  bytes32 key{};
  bytes salt;
  size_t max_items = 0;
  std::optional<mutable_item> item;
  std::optional<int64_t> cas;
  std::optional<bencode::value> immutable_value;
  /// get_mutable: items whose signature already checked out; the k responders usually return
  /// the same item, and verifying it once instead of k times halves a get's CPU cost.
  std::vector<mutable_item> verified;
  bool putting = false;
  size_t puts_pending = 0;
  size_t puts_stalled = 0;  // puts past their short timeout, still open
  time_point deadline = time_point::max();  // lookup_max_duration (adaptive)
  time_point started{};
  completion result;

  command(const node_id& target, const lookup_set::config& cfg)
      : set(target, cfg), set6(target, cfg) {}

  lookup_set& set_for(uint8_t family) noexcept { return family == 6 ? set6 : set; }
  bool runs_on(uint8_t family) const noexcept { return fams & krpc::want::of_family(family); }
  bool lookups_done() const noexcept {
    return (!runs_on(4) || set.done()) && (!runs_on(6) || set6.done());
  }
  /// Adds a bootstrap address to its family's set (ignored if the command does not run there).
  void add_seed(const endpoint& ep) {
    if (runs_on(ep.family))
      set_for(ep.family).add_seed(ep);
  }
};

node::node(node_config cfg, node_effects& fx, crypto::random_source& rng)
    : cfg_(std::move(cfg)),
      fx_(fx),
      rng_(rng),
      table_(cfg_.id ? *cfg_.id : random_id(rng), cfg_.table),
      table6_(table_.own_id(), cfg_.table),
      store_(cfg_.storage),
      tokens_(rng),
      limiter_(cfg_.rate_limit_per_ip, cfg_.rate_burst_per_ip),
      verify_tokens_(cfg_.verify_burst),
      votes_(external_votes::config{cfg_.external_voters, cfg_.external_min_votes}),
      n_(std::make_unique<counters>()) {}

node::~node() = default;

std::map<std::string, uint64_t> node::stats() const {
  std::map<std::string, uint64_t> out{
    {"packets_in", n_->packets_in},         {"packets_out", n_->packets_out},
    {"bytes_in", n_->bytes_in},             {"bytes_out", n_->bytes_out},
    {"bad_packets", n_->bad_packets},       {"queries_in", n_->queries_in},
    {"responses_in", n_->responses_in},     {"errors_in", n_->errors_in},
    {"errors_sent", n_->errors_sent},       {"unknown_tid", n_->unknown_tid},
    {"id_mismatch", n_->id_mismatch},       {"rate_limited", n_->rate_limited},
    {"dropped_read_only", n_->dropped_read_only}, {"timeouts", n_->timeouts},
    {"puts_stored", n_->puts_stored},       {"puts_rejected", n_->puts_rejected},
    {"invalid_items", n_->invalid_items},   {"commands_refused", n_->commands_refused},
    {"queries_out", n_->queries_out},
    // Both families (BEP 32); table6_* is the IPv6 table alone.
    {"table_size", table_.size() + table6_.size()},
    {"table_buckets", table_.bucket_count() + (cfg_.ipv6 ? table6_.bucket_count() : 0)},
    {"table_replacements", table_.replacement_count() + table6_.replacement_count()},
    {"table6_size", table6_.size()},
    {"refused_node_records", n_->refused_node_records},
    {"stored_items", store_.size()},        {"in_flight", rpc_.in_flight()},
    {"commands", lookups_.size()},      {"verify_pings", n_->verify_pings},
    {"verify_in_flight", verifying_.size()},
    {"external_address_known", external_address() ? 1 : 0},
    {"external_votes", votes_.counted()}, {"external_votes_ignored", votes_.ignored()},
    {"external_address_changes", votes_.changes()},
    {"short_timeouts", n_->short_timeouts}, {"late_responses", n_->late_responses},
    {"responses_after_timeout", n_->responses_after_timeout},
    {"lookups_timed_out", n_->lookups_timed_out},
    {"questionable_pings", n_->questionable_pings},
    {"rtt_all_ms", static_cast<uint64_t>(rtt_all_.srtt)},
  };
  for (size_t i = 0; i < refusal_kinds; ++i)
    out[std::string("refused_") + refusal_name(static_cast<refusal>(i))] = n_->refused[i];
  for (size_t i = 0; i <= krpc_error_codes.size(); ++i) {
    auto code = i < krpc_error_codes.size() ? std::to_string(krpc_error_codes[i]) : "other";
    out["errors_in_" + code] = n_->errors_by_code[i];
    out["errors_out_" + code] = n_->errors_sent_by_code[i];
  }
  for (size_t i = 0; i < query_kinds; ++i) {
    out[std::string("queries_in_") + query_kind_name(i)] = n_->queries_in_by_kind[i];
    out[std::string("queries_out_") + query_kind_name(i)] = n_->queries_out_by_kind[i];
  }
  return out;
}

void node::refuse(refusal r, const endpoint& from) {
  ++n_->refused[static_cast<size_t>(r)];
  fx_.on_refused(r, from);
}

void node::note_table(const admission& a, const endpoint& from) {
  switch (a.outcome) {
    case table_outcome::in_bucket:
    case table_outcome::candidate:
      return;
    case table_outcome::own_id:
      return refuse(refusal::table_own_id, from);
    case table_outcome::address_mismatch:
      return refuse(refusal::table_address_mismatch, from);
    case table_outcome::address_taken:
      return refuse(refusal::table_address_taken, from);
    case table_outcome::bad_node_id:
      return refuse(refusal::table_bad_node_id, from);
    case table_outcome::full:
      return refuse(refusal::table_full, from);
  }
}

endpoint node::address_key(const endpoint& ep) const noexcept {
  return cfg_.table.one_per_ip ? address_unit(ep) : ep;
}

uint8_t node::families() const noexcept {
  return static_cast<uint8_t>((cfg_.ipv4 ? krpc::want::n4 : 0) | (cfg_.ipv6 ? krpc::want::n6 : 0));
}

size_t node::table_total() const noexcept {
  return (cfg_.ipv4 ? table_.size() : 0) + (cfg_.ipv6 ? table6_.size() : 0);
}

std::vector<node_entry> node::table_nodes() const {
  auto out = table_.all();
  auto six = table6_.all();
  out.insert(out.end(), six.begin(), six.end());
  return out;
}

void node::seed_from_tables(command& c) {
  for (uint8_t fam : {uint8_t{4}, uint8_t{6}})
    if (c.runs_on(fam))
      c.set_for(fam).add(table_for(fam).closest(c.set.target(), cfg_.lookup.k * 2), 0, now_);
}

node::verify_result node::verify(const node_entry& n, time_point now) {
  auto k = address_key(n.ep);
  if (verifying_.count(k))
    return verify_result::busy;
  if (verify_refilled_ != time_point{}) {
    double dt = std::chrono::duration<double>(now - verify_refilled_).count();
    verify_tokens_ = std::min(cfg_.verify_burst, verify_tokens_ + dt * cfg_.verify_rate);
  }
  verify_refilled_ = now;
  if (verifying_.size() >= cfg_.max_verify_in_flight || verify_tokens_ < 1
      || rpc_.in_flight() >= cfg_.max_in_flight)
    return verify_result::no_budget;
  verify_tokens_ -= 1;
  verifying_.insert(k);
  ++n_->verify_pings;
  send_query(0, n, true, base_query(krpc::method::ping), now, true);
  return verify_result::sent;
}

void node::vote_external(const endpoint& voter, const endpoint& reported) {
  // An IPv4-mapped report is no IPv6 address of ours (external_votes ignores reports of
  // another family than their voter's). Each family is decided apart (BEP 32).
  if (is_v4_mapped(reported))
    return;
  if (votes_.vote(voter, reported) != external_votes::outcome::changed)
    return;
  auto cur = votes_.current(voter.family);
  if (!cur)
    return;
  auto& ext = cur->family == 6 ? external6_ : external_;
  ext = *cur;
  ext->port = 0;
  table_for(cur->family).set_node_id_checks(!is_local_address(*ext));
  fx_.on_external_address(*cur);
}

void node::set_own_address(const endpoint& ep) {
  if (std::find(own_addresses_.begin(), own_addresses_.end(), ep) == own_addresses_.end()
      && own_addresses_.size() < 8)
    own_addresses_.push_back(ep);
}

bool node::is_own_address(const endpoint& ep) const noexcept {
  auto loopback = [](const endpoint& e) {
    if (e.family == 4)
      return e.ip[0] == 127;
    for (size_t i = 0; i < 15; ++i)
      if (e.ip[i] != 0)
        return false;
    return e.ip[15] == 1;
  };
  for (auto& own : own_addresses_) {
    if (own == ep)
      return true;
    if (own.port != ep.port || own.family != ep.family)
      continue;
    bool unspecified = std::all_of(own.ip.begin(), own.ip.end(), [](uint8_t b) { return b == 0; });
    auto& ext = ep.family == 6 ? external6_ : external_;
    if (unspecified && (loopback(ep) || (ext && ext->ip == ep.ip)))
      return true;
  }
  return false;
}

void node::rtt_estimate::sample(double ms) {
  // RFC 6298 section 2: alpha = 1/8, beta = 1/4.
  if (!valid) {
    srtt = ms;
    rttvar = ms / 2;
    valid = true;
    return;
  }
  rttvar = 0.75 * rttvar + 0.25 * std::abs(srtt - ms);
  srtt = 0.875 * srtt + 0.125 * ms;
}

void node::sample_rtt(const endpoint& ep, time_point sent, time_point now) {
  if (sent == time_point{} || now < sent)
    return;
  double ms = std::chrono::duration<double, std::milli>(now - sent).count();
  rtt_all_.sample(ms);
  auto it = rtt_.find(ep);
  if (it == rtt_.end()) {
    if (rtt_.size() >= cfg_.max_rtt_entries)
      rtt_.erase(std::next(rtt_.begin(), static_cast<std::ptrdiff_t>(
                                           crypto::uniform_below(rng_, rtt_.size()))));
    it = rtt_.emplace(ep, rtt_estimate{}).first;
  }
  it->second.sample(ms);
}

std::chrono::milliseconds node::short_timeout_for(const endpoint& ep) const {
  double ms = static_cast<double>(cfg_.short_timeout_max.count());
  auto it = rtt_.find(ep);
  if (it != rtt_.end())
    ms = it->second.srtt + 4 * it->second.rttvar;  // RFC 6298 (2.3) without its 1 s floor
  else if (rtt_all_.valid)
    ms = cfg_.short_timeout_factor * rtt_all_.srtt;
  auto t = std::chrono::milliseconds(static_cast<int64_t>(ms) + 1);
  return std::clamp(t, cfg_.short_timeout_min, cfg_.short_timeout_max);
}

// ---- incoming ------------------------------------------------------------------------------

void node::handle_packet(byte_view packet, const endpoint& from, time_point now) {
  now_ = now;
  ++n_->packets_in;
  n_->bytes_in += packet.size();
  if (from.port == 0) {
    ++n_->bad_packets;
    return refuse(refusal::malformed_packet, from);
  }
  auto m = krpc::decode(packet);
  if (!m) {
    ++n_->bad_packets;
    if (auto* p = rpc_.find_by_address(from)) {
      auto it = lookups_.find(p->owner);
      if (it != lookups_.end())
        ++it->second->result.malformed;
    }
    return refuse(refusal::malformed_packet, from);
  }
  if (m->y == krpc::message::type::query)
    handle_query(*m, from, now);
  else
    handle_answer(*m, from, now);
}

void node::reply(const endpoint& to, krpc::message m) {
  m.ip = to; // BEP 42: tell the querier its address
  auto out = krpc::encode(m);
  ++n_->packets_out;
  n_->bytes_out += out.size();
  if (m.y == krpc::message::type::error) {
    ++n_->errors_sent;
    ++n_->errors_sent_by_code[code_slot(m.e.code)];
  }
  fx_.send(to, std::move(out));
}

void node::handle_query(const krpc::message& m, const endpoint& from, time_point now) {
  ++n_->queries_in;
  ++n_->queries_in_by_kind[m.unknown_method ? query_kinds - 1 : static_cast<size_t>(m.q.m)];
  if (cfg_.read_only) {
    ++n_->dropped_read_only; // BEP 43: read-only nodes answer no queries
    return;
  }
  if (!limiter_.allow(from, now)) {
    ++n_->rate_limited;
    return refuse(refusal::rate_limited, from);
  }
  auto error_reply = [&](int64_t code, std::string text) {
    auto e = krpc::make_error(m.tid, code, std::move(text));
    e.version = cfg_.version;
    reply(from, e);
  };
  if (m.reject_code) {
    ++n_->bad_packets;
    refuse(refusal::bad_query, from);
    error_reply(m.reject_code, m.reject_reason);
    return;
  }
  const auto& q = m.q;
  if (!q.read_only && !is_own_address(from)) {
    // A node that only queries us waits as a candidate; if its bucket would take it, ping it
    // (bounded) and let it in when it answers.
    auto a = table_for(from.family).heard_from({q.id, from}, now, false);
    note_table(a, from);
    if (a.wanted && verify({q.id, from}, now) == verify_result::no_budget)
      refuse(refusal::verify_budget, from);
  }
  krpc::response r;
  r.id = id();
  // BEP 32: the nodes of the families the querier wants ("want"), by default of the family
  // it asked over; k of each from its table.
  auto closest = [&] {
    uint8_t wanted = q.want ? q.want : krpc::want::of_family(from.family);
    std::vector<node_entry> out;
    if (wanted & krpc::want::n4)
      out = table_.closest(q.target, cfg_.table.k);
    if (wanted & krpc::want::n6) {
      auto six = table6_.closest(q.target, cfg_.table.k);
      out.insert(out.end(), six.begin(), six.end());
    }
    return out;
  };
  switch (q.m) {
    case krpc::method::ping:
      break;
    case krpc::method::find_node:
      r.nodes = closest();
      break;
    case krpc::method::get_peers: {
      r.token = tokens_.make(from);
      auto it = peers_.find(q.target);
      if (it != peers_.end())
        for (auto& p : it->second) // BEP 32: peers of the querier's family only
          if (p.family == from.family && r.values.size() < max_peers_returned)
            r.values.push_back(p);
      if (r.values.empty())
        r.nodes = closest();
      break;
    }
    case krpc::method::announce_peer: {
      if (!tokens_.check(q.token, from)) {
        refuse(refusal::bad_token, from);
        return error_reply(krpc::code::protocol, "bad token");
      }
      endpoint peer = from;
      if (!q.implied_port)
        peer.port = q.port;
      auto it = peers_.find(q.target);
      if (it == peers_.end()) {
        if (peers_.size() >= max_peer_hashes)
          peers_.erase(peers_.begin());
        it = peers_.emplace(q.target, std::vector<endpoint>{}).first;
      }
      auto& ps = it->second;
      if (std::find(ps.begin(), ps.end(), peer) == ps.end()) {
        if (ps.size() >= max_peers_per_hash)
          ps.erase(ps.begin());
        ps.push_back(peer);
      }
      break;
    }
    case krpc::method::get: {
      r.token = tokens_.make(from);
      r.nodes = closest();
      if (auto* item = store_.get(q.target)) {
        bool fresh_enough = !item->k || !q.seq || item->seq > *q.seq;
        if (fresh_enough) {
          auto v = bencode::decode(item->v, krpc::krpc_limits());
          if (v) {
            r.v = std::move(*v);
            if (item->k) {
              r.k = item->k;
              r.sig = item->sig;
              r.seq = item->seq;
            }
          }
        }
      }
      break;
    }
    case krpc::method::put: {
      if (!tokens_.check(q.token, from)) {
        refuse(refusal::bad_token, from);
        return error_reply(krpc::code::protocol, "bad token");
      }
      auto v = bencode::encode(*q.v);
      int code = q.k ? store_.put_mutable(*q.k, q.salt, *q.seq, q.cas, v, *q.sig, now)
                     : store_.put_immutable(v, now);
      if (code != 0) {
        ++n_->puts_rejected;
        refuse(refusal::put_rejected, from);
        const char* text = code == krpc::code::value_too_big  ? "message (v field) too big"
                           : code == krpc::code::salt_too_big ? "salt too big"
                           : code == krpc::code::bad_signature ? "invalid signature"
                           : code == krpc::code::cas_mismatch  ? "CAS mismatch"
                           : code == krpc::code::seq_too_small
                             ? "sequence number less than current"
                             : "error";
        return error_reply(code, text);
      }
      ++n_->puts_stored;
      break;
    }
  }
  auto resp = krpc::make_response(m.tid, std::move(r));
  resp.version = cfg_.version;
  reply(from, resp);
}

void node::handle_answer(const krpc::message& m, const endpoint& from, time_point now) {
  auto p = rpc_.take(m.tid, from);
  if (!p && rpc_.take_timed_out(m.tid, from, now)) {
    ++n_->responses_after_timeout; // late, not unsolicited: counted, not a refusal
    return;
  }
  if (!p) {
    ++n_->unknown_tid;
    return refuse(refusal::unexpected_response, from);
  }
  if (p->verify)
    verifying_.erase(address_key(p->to));
  sample_rtt(from, p->sent, now);
  if (p->short_fired)
    ++n_->late_responses;
  bool is_error = m.y == krpc::message::type::error;
  if (is_error) {
    ++n_->errors_in;
    auto code = m.e.code;
    ++n_->errors_by_code[code_slot(code)];
    if (p->verify && p->expected_id)
      table_for(p->to.family).failed(*p->expected_id);
  } else {
    ++n_->responses_in;
    n_->refused_node_records += m.r.refused_nodes;
    if (p->expected_id && *p->expected_id != m.r.id) {
      ++n_->id_mismatch;
      refuse(refusal::id_mismatch, from);
      table_for(p->to.family).failed(*p->expected_id);
      is_error = true;
    } else if (!is_own_address(from)) {
      note_table(table_for(from.family).heard_from({m.r.id, from}, now, true), from);
      if (m.ip)
        vote_external(from, *m.ip);
    }
  }
  auto it = lookups_.find(p->owner);
  if (it == lookups_.end())
    return;
  if (is_error) {
    int code = m.y == krpc::message::type::error ? static_cast<int>(m.e.code) : krpc::code::generic;
    on_command_failure(*it->second, *p, code, now);
  } else {
    on_command_response(*it->second, *p, m, from, now);
  }
}

// ---- commands ------------------------------------------------------------------------------

krpc::query node::base_query(krpc::method m) const {
  krpc::query q;
  q.m = m;
  q.id = id();
  q.read_only = cfg_.read_only;
  return q;
}

void node::send_query(request_id owner, const node_entry& to, bool id_known, krpc::query q,
                      time_point now, bool verify) {
  rpc_manager::pending p;
  p.tid = rpc_.next_tid();
  p.to = to.ep;
  if (id_known)
    p.expected_id = to.id;
  p.m = q.m;
  p.owner = owner;
  p.verify = verify;
  p.deadline = now + cfg_.request_timeout;
  p.sent = now;
  if (owner != 0 && cfg_.lookup.adaptive)
    p.short_deadline = now + short_timeout_for(to.ep);
  if (auto it = lookups_.find(owner); it != lookups_.end())
    ++it->second->result.queries;
  auto msg = krpc::make_query(p.tid, std::move(q));
  msg.version = cfg_.version;
  auto out = krpc::encode(msg);
  ++n_->packets_out;
  ++n_->queries_out;
  ++n_->queries_out_by_kind[static_cast<size_t>(p.m)];
  n_->bytes_out += out.size();
  rpc_.add(std::move(p));
  fx_.send(to.ep, std::move(out));
}

request_id node::start(std::unique_ptr<command> c, time_point now) {
  c->id = next_request_++;
  c->result.id = c->id;
  c->result.op = c->op;
  c->result.target = c->set.target();
  if (!c->fams)
    c->fams = families();
  auto id = c->id;
  now_ = now;
  bool bootstrapping = std::any_of(lookups_.begin(), lookups_.end(), [](auto& e) {
    return e.second->op == operation::bootstrap;
  });
  if (c->op != operation::bootstrap && table_total() == 0 && !bootstrapping && !seeds_.empty()
      && parked_.size() < cfg_.max_lookups && now - last_bootstrap_ >= cfg_.request_timeout) {
    // An empty table (every node failed or the first bootstrap was lost): bootstrap again
    // now rather than fail the command at once (issue 16).
    last_bootstrap_ = now;
    auto b = std::make_unique<command>(table_.own_id(), cfg_.lookup);
    b->op = operation::bootstrap;
    b->internal = true;
    b->fams = families();
    for (size_t i = 0; i < seeds_.size() && i < max_seeds; ++i)
      if (!is_own_address(seeds_[i]))
        b->add_seed(seeds_[i]);
    start(std::move(b), now);
    bootstrapping = true;
  }
  if (c->op != operation::bootstrap && table_total() == 0 && bootstrapping
      && parked_.size() < cfg_.max_lookups) {
    parked_.push_back(std::move(c)); // mainline: commands wait for the bootstrap to finish
    return id;
  }
  if (lookups_.size() >= cfg_.max_lookups) {
    ++n_->commands_refused;
    if (!c->internal)
      fx_.on_done(c->result);
    return id;
  }
  launch(std::move(c), now);
  return id;
}

void node::launch(std::unique_ptr<command> c, time_point now) {
  seed_from_tables(*c);
  if (cfg_.lookup.adaptive)
    c->deadline = now + cfg_.lookup_max_duration;
  c->started = now;
  c->result.seeded = c->set.size() + c->set6.size();
  if (last_trouble_ != time_point{} && now - last_trouble_ < cfg_.trouble_memory) {
    c->set.mark_troubled();
    c->set6.mark_troubled();
  }
  auto& ref = *c;
  auto id = c->id;
  lookups_.emplace(id, std::move(c));
  pump(ref, now);
}

void node::pump(command& c, time_point now) {
  if (!c.putting) {
    bool dual = families() == (krpc::want::n4 | krpc::want::n6);
    for (uint8_t fam : {uint8_t{4}, uint8_t{6}}) {
      if (!c.runs_on(fam))
        continue;
      size_t budget = rpc_.in_flight() < cfg_.max_in_flight
                        ? cfg_.max_in_flight - rpc_.in_flight() : 0;
      // BEP 32 "want": a dual-stack node asks for both families' nodes in find_node (tables of
      // either family fill from the other's answers), and in get_peers/get only while the
      // other family's table is thin: a BEP 44 reply with a 1000-byte value and both node lists
      // would pass IPv6's minimum MTU of 1280 bytes.
      uint8_t other = fam == 6 ? 4 : 6;
      bool find = c.op == operation::bootstrap || c.op == operation::find_node;
      uint8_t want = dual && (find || table_for(other).size() < cfg_.table.k)
                       ? static_cast<uint8_t>(krpc::want::n4 | krpc::want::n6) : 0;
      for (auto& to : c.set_for(fam).next(budget, now)) {
        krpc::query q;
        switch (c.op) {
          case operation::bootstrap:
          case operation::find_node:
            q = base_query(krpc::method::find_node);
            break;
          case operation::get_peers:
            q = base_query(krpc::method::get_peers);
            break;
          default:
            q = base_query(krpc::method::get);
            break;
        }
        q.target = c.set.target();
        q.want = want;
        send_query(c.id, to.node, to.id_known, std::move(q), now);
      }
    }
    if (!c.lookups_done())
      return;
    bool is_put = c.op == operation::put_mutable || c.op == operation::put_immutable;
    if (!is_put)
      return finish(c.id);
    // Lookup done: put to the k closest responders that gave us a token, in each DHT.
    c.putting = true;
    auto closest = c.set.closest_responded(c.runs_on(4) ? cfg_.lookup.k : 0);
    auto closest6 = c.set6.closest_responded(c.runs_on(6) ? cfg_.lookup.k : 0);
    closest.insert(closest.end(), closest6.begin(), closest6.end());
    for (auto* cand : closest) {
      if (cand->token.empty())
        continue;
      auto q = base_query(krpc::method::put);
      q.token = cand->token;
      if (c.item) {
        q.v = bencode::value::string(c.item->value);
        q.k = c.item->key;
        q.sig = c.item->signature;
        q.salt = c.item->salt;
        q.seq = c.item->seq;
        q.cas = c.cas;
      } else {
        q.v = c.immutable_value;
      }
      ++c.puts_pending;
      send_query(c.id, cand->node, true, std::move(q), now);
    }
  }
  // Adaptive: once a quorum stored it, puts past their short timeout are not waited for.
  if (c.puts_pending == 0
      || (cfg_.lookup.adaptive && c.puts_pending == c.puts_stalled
          && c.result.put.stored >= cfg_.put_quorum))
    finish(c.id);
}

void node::pump_all(time_point now) {
  std::vector<request_id> ids;
  for (auto& [id, c] : lookups_)
    ids.push_back(id);
  for (auto id : ids) {
    auto it = lookups_.find(id);
    if (it != lookups_.end())
      pump(*it->second, now);
  }
}

void node::finish(request_id id) {
  auto it = lookups_.find(id);
  if (it == lookups_.end())
    return;
  auto c = std::move(it->second);
  lookups_.erase(it);
  if (c->op == operation::bootstrap && !parked_.empty()) {
    auto parked = std::move(parked_);
    parked_.clear();
    for (auto& p : parked)
      launch(std::move(p), now_);
  }
  // Queries still in flight stay registered: their answers still feed the routing table.
  // `latest` keeps the latest of `at` over the closest, as time since the start.
  auto latest = [&](std::chrono::microseconds& into, time_point at) {
    into = std::max(into, std::chrono::duration_cast<std::chrono::microseconds>(at - c->started));
  };
  for (uint8_t fam : {uint8_t{4}, uint8_t{6}})
    if (c->runs_on(fam))
      for (auto* cand : c->set_for(fam).closest_responded(cfg_.lookup.k)) {
        c->result.closest.push_back(cand->node);
        latest(c->result.settled, cand->answered_at);
        latest(c->result.discovered, cand->added_at);
        latest(c->result.queried, cand->queried_at);
      }
  const auto& target = c->set.target();
  std::stable_sort(c->result.closest.begin(), c->result.closest.end(),
                   [&](const node_entry& a, const node_entry& b) {
                     return closer(target, a.id, b.id);
                   });
  if (!c->result.closest.empty()) {
    const auto& ep = c->result.closest.front().ep;
    c->result.hops = 1 + size_t{c->set_for(ep.family).depth_of(ep)};
  }
  for (uint8_t fam : {uint8_t{4}, uint8_t{6}}) {
    if (!c->runs_on(fam))
      continue;
    auto t = c->set_for(fam).tail_of(cfg_.lookup.k);
    c->result.tail_failed += t.failed;
    c->result.tail_stalled += t.stalled;
    c->result.tail_late += t.late;
  }
  // Puts not acknowledged when the command ends count as no response.
  c->result.put.no_response += c->puts_pending;
  if (!c->internal)
    fx_.on_done(c->result);
}

void node::on_command_response(command& c, const rpc_manager::pending& p,
                               const krpc::message& m, const endpoint& from, time_point now) {
  if (p.m == krpc::method::put) {
    ++c.result.put.stored;
    --c.puts_pending;
    if (p.short_fired && c.puts_stalled > 0)
      --c.puts_stalled;
    return pump(c, now);
  }
  auto& own_set = c.set_for(from.family);
  if (!c.runs_on(from.family) || !own_set.responded(from, m.r.id, m.r.token, now))
    return pump(c, now);
  ++c.result.responses;
  auto depth = static_cast<uint8_t>(std::min(own_set.depth_of(from) + 1, 255));
  // Never ourselves: a responder may list us, under our id or another (issue 16). Each node
  // goes to its own family's lookup (BEP 32: "nodes6" from an IPv4 reply feed the IPv6 one),
  // if the command runs there.
  std::vector<node_entry> by_family[2];
  for (auto& n : m.r.nodes)
    if (n.id != id() && !is_own_address(n.ep) && c.runs_on(n.ep.family))
      by_family[n.ep.family == 6].push_back(n);
  c.set.add(by_family[0], depth, now);
  c.set6.add(by_family[1], depth, now);
  const auto& r = m.r;
  switch (c.op) {
    case operation::get_peers:
      for (auto& ep : r.values) {
        if (c.result.peers.size() >= 512)
          break;
        if (std::find(c.result.peers.begin(), c.result.peers.end(), ep) == c.result.peers.end())
          c.result.peers.push_back(ep);
      }
      break;
    case operation::get_mutable:
      if (r.v && r.k && r.sig && r.seq) {
        if (*r.k != c.key || !r.v->is_string()) {
          ++n_->invalid_items;
          ++c.result.invalid_items;
          refuse(refusal::invalid_item, from);
          break;
        }
        mutable_item item;
        item.key = *r.k;
        item.salt = c.salt;
        item.seq = *r.seq;
        auto vb = r.v->as_bytes();
        item.value.assign(vb.begin(), vb.end());
        item.signature = *r.sig;
        bool known = std::find(c.verified.begin(), c.verified.end(), item) != c.verified.end();
        if (!known && !item.verify()) {
          ++n_->invalid_items;
          ++c.result.invalid_items;
          refuse(refusal::invalid_item, from);
          break;
        }
        if (!known && c.verified.size() < 4)
          c.verified.push_back(item);
        ++c.result.items;
        fx_.on_item(c.id, item);
        if (c.max_items && c.result.items >= c.max_items)
          return finish(c.id);
      }
      break;
    case operation::get_immutable:
      if (r.v) {
        auto enc = bencode::encode(*r.v);
        if (crypto::bep44::immutable_target(enc) == c.set.target()) {
          c.result.immutable_value = std::move(enc);
          c.result.items = 1;
          return finish(c.id);
        }
        ++n_->invalid_items;
        ++c.result.invalid_items;
        refuse(refusal::invalid_item, from);
      }
      break;
    default:
      break;
  }
  pump(c, now);
}

void node::on_command_failure(command& c, const rpc_manager::pending& p, int code,
                              time_point now) {
  if (code == 0)
    ++c.result.timeouts;
  else
    ++c.result.errors[code];
  if (p.m == krpc::method::put) {
    if (p.short_fired && c.puts_stalled > 0)
      --c.puts_stalled;
    if (code == 0)
      ++c.result.put.no_response;
    else if (code == krpc::code::cas_mismatch)
      ++c.result.put.cas_mismatch;
    else if (code == krpc::code::seq_too_small)
      ++c.result.put.seq_too_small;
    else
      ++c.result.put.other_errors;
    --c.puts_pending;
    return pump(c, now);
  }
  c.set_for(p.to.family).failed(p.to);
  pump(c, now);
}

void node::on_short_timeout(command& c, const rpc_manager::pending& p, time_point now) {
  ++n_->short_timeouts;
  ++c.result.stalls;
  if (p.m == krpc::method::put)
    ++c.puts_stalled;
  else
    c.set_for(p.to.family).stalled(p.to);
  pump(c, now);
}

request_id node::bootstrap(const std::vector<endpoint>& seeds, time_point now) {
  for (auto& s : seeds) {
    if (seeds_.size() >= 64)
      break;
    if (std::find(seeds_.begin(), seeds_.end(), s) == seeds_.end())
      seeds_.push_back(s);
  }
  last_bootstrap_ = now;
  auto c = std::make_unique<command>(id(), cfg_.lookup);
  c->op = operation::bootstrap;
  c->fams = families();
  size_t n = 0;
  for (auto& s : seeds) {
    if (is_own_address(s) || !c->runs_on(s.family))
      continue;
    if (n++ >= max_seeds)
      break;
    c->add_seed(s);
  }
  return start(std::move(c), now);
}

request_id node::find_node(const node_id& target, time_point now) {
  auto c = std::make_unique<command>(target, cfg_.lookup);
  c->op = operation::find_node;
  return start(std::move(c), now);
}

request_id node::get_peers(const node_id& info_hash, time_point now) {
  auto c = std::make_unique<command>(info_hash, cfg_.lookup);
  c->op = operation::get_peers;
  return start(std::move(c), now);
}

request_id node::get_mutable(const bytes32& key, bytes salt, time_point now, size_t max_items) {
  auto c = std::make_unique<command>(crypto::bep44::mutable_target(key, salt), cfg_.lookup);
  c->op = operation::get_mutable;
  c->key = key;
  c->salt = std::move(salt);
  c->max_items = max_items;
  return start(std::move(c), now);
}

request_id node::put_mutable(const mutable_item& item, std::optional<int64_t> cas,
                             time_point now) {
  auto c = std::make_unique<command>(item.target(), cfg_.lookup);
  c->op = operation::put_mutable;
  c->item = item;
  c->cas = cas;
  return start(std::move(c), now);
}

request_id node::get_immutable(const node_id& target, time_point now) {
  auto c = std::make_unique<command>(target, cfg_.lookup);
  c->op = operation::get_immutable;
  return start(std::move(c), now);
}

request_id node::put_immutable(bytes bencoded_value, time_point now) {
  auto target = crypto::bep44::immutable_target(bencoded_value);
  auto c = std::make_unique<command>(target, cfg_.lookup);
  c->op = operation::put_immutable;
  auto v = bencode::decode(bencoded_value, krpc::krpc_limits());
  if (!v || bencoded_value.size() > crypto::bep44::max_value_size) {
    // Not storable: complete at once with nothing stored.
    c->id = next_request_++;
    c->result.id = c->id;
    c->result.op = c->op;
    c->result.target = target;
    c->result.put.other_errors = 1;
    fx_.on_done(c->result);
    return c->id;
  }
  c->immutable_value = std::move(*v);
  return start(std::move(c), now);
}

void node::cancel(request_id id) {
  parked_.erase(std::remove_if(parked_.begin(), parked_.end(),
                               [&](auto& p) { return p->id == id; }),
                parked_.end());
  auto it = lookups_.find(id);
  if (it == lookups_.end())
    return;
  lookups_.erase(it);
}

// ---- time ----------------------------------------------------------------------------------

time_point node::next_tick() const {
  auto t = last_housekeeping_ + housekeeping_period;
  if (auto d = rpc_.next_deadline(); d && *d < t)
    t = *d;
  for (auto& [id, c] : lookups_)
    if (!c->putting && c->deadline < t)
      t = c->deadline;
  return t;
}

void node::tick(time_point now) {
  now_ = now;
  for (auto& p : rpc_.expire(now)) {
    ++n_->timeouts;
    last_trouble_ = now;
    if (p.verify)
      verifying_.erase(address_key(p.to));
    if (p.expected_id)
      table_for(p.to.family).failed(*p.expected_id);
    auto it = lookups_.find(p.owner);
    if (it != lookups_.end())
      on_command_failure(*it->second, p, 0, now);
  }
  for (auto& p : rpc_.expire_short(now)) {
    auto it = lookups_.find(p.owner);
    if (it != lookups_.end())
      on_short_timeout(*it->second, p, now);
  }
  // Lookups past their time bound end on the nodes that answered (adaptive).
  std::vector<request_id> late;
  for (auto& [id, c] : lookups_)
    if (!c->putting && c->deadline <= now)
      late.push_back(id);
  for (auto id : late) {
    auto it = lookups_.find(id);
    if (it == lookups_.end())
      continue;
    ++n_->lookups_timed_out;
    it->second->result.timed_out = true;
    it->second->set.give_up();
    it->second->set6.give_up();
    pump(*it->second, now);
  }
  if (now - last_housekeeping_ < housekeeping_period) {
    pump_all(now);
    return;
  }
  last_housekeeping_ = now;
  tokens_.tick(now);
  if (now - last_expiry_ >= storage_expiry_period) {
    last_expiry_ = now;
    store_.expire(now);
  }
  // Candidates that queried us while the budget was spent, or wait for a slot that opened.
  bool thin = false;  // an enabled family's table below k
  for (uint8_t fam : {uint8_t{4}, uint8_t{6}}) {
    if (!has_family(fam))
      continue;
    auto& table = table_for(fam);
    thin = thin || table.size() < cfg_.table.k;
    if (!cfg_.read_only)
      for (auto& n : table.wanted_candidates(4))
        if (verify(n, now) == verify_result::no_budget)
          break;
    // Ping before evict: a bucket node that failed once is pinged; if that fails too, a
    // confirmed replacement takes its slot (routing_table::failed).
    for (auto& n : table.questionable(4)) {
      auto r = verify(n, now);
      if (r == verify_result::no_budget)
        break;
      if (r == verify_result::sent)
        ++n_->questionable_pings;
    }
    if (table.size() > 0) {
      for (auto& target : table.refresh_targets(now, rng_)) {
        auto c = std::make_unique<command>(target, cfg_.lookup);
        c->op = operation::find_node;
        c->internal = true;
        c->fams = krpc::want::of_family(fam);  // that table's DHT only
        start(std::move(c), now);
      }
    }
  }
  bool bootstrapping = std::any_of(lookups_.begin(), lookups_.end(), [](auto& e) {
    return e.second->op == operation::bootstrap;
  });
  if (!bootstrapping && !seeds_.empty() && thin
      && now - last_bootstrap_ >= cfg_.rebootstrap_interval) {
    last_bootstrap_ = now;
    auto c = std::make_unique<command>(id(), cfg_.lookup);
    c->op = operation::bootstrap;
    c->internal = true;
    c->fams = families();
    for (size_t i = 0; i < seeds_.size() && i < max_seeds; ++i)
      if (!is_own_address(seeds_[i]))
        c->add_seed(seeds_[i]);
    start(std::move(c), now);
  }
  pump_all(now);
}

} // namespace dtt::dht
