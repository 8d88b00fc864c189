#include "dht/krpc.hpp"

#include <cstring>

namespace dtt::dht::krpc {

namespace {

const char* const method_names[] = {"ping", "find_node", "get_peers", "announce_peer", "get",
                                    "put"};

using bencode::value;

const value* get_string(const value& d, std::string_view key) {
  auto* v = d.find(key);
  return v && v->is_string() ? v : nullptr;
}

const value* get_int(const value& d, std::string_view key) {
  auto* v = d.find(key);
  return v && v->is_int() ? v : nullptr;
}

template <size_t N>
bool get_array(const value& d, std::string_view key, byte_array<N>& out) {
  auto* v = get_string(d, key);
  if (!v || v->as_string().size() != N)
    return false;
  std::memcpy(out.data(), v->as_string().data(), N);
  return true;
}

bytes to_bytes(const std::string& s) { return bytes(s.begin(), s.end()); }

value str(byte_view b) { return value::string(b); }

// Sets reject_code and returns the message (it is still a message: the receiver answers it).
message reject(message m, int c, std::string why) {
  m.reject_code = c;
  m.reject_reason = std::move(why);
  return m;
}

// BEP 32 "want": a list of strings; "n4" and "n6" are known, anything else is ignored (as is a
// "want" that is not a list: the reply then carries the querier's own family).
uint8_t parse_want(const value& a) {
  auto* w = a.find("want");
  if (!w || !w->is_list())
    return 0;
  uint8_t out = 0;
  for (auto& f : w->as_list()) {
    if (!f.is_string())
      continue;
    if (f.as_string() == "n4")
      out |= want::n4;
    else if (f.as_string() == "n6")
      out |= want::n6;
  }
  return out;
}

message parse_query(message m, const value& root) {
  auto* q = get_string(root, "q");
  auto* a = root.find("a");
  m.unknown_method = true;
  if (!q)
    return reject(std::move(m), code::protocol, "missing q");
  auto meth = parse_method(q->as_string());
  if (!meth)
    return reject(std::move(m), code::method_unknown, "Method Unknown");
  m.unknown_method = false;
  m.q.m = *meth;
  if (!a || !a->is_dict())
    return reject(std::move(m), code::protocol, "missing a");
  if (!get_array(*a, "id", m.q.id))
    return reject(std::move(m), code::protocol, "missing or bad id");
  // BEP 43 puts "ro" in the top-level message dict (libtorrent does); older dtt builds put it
  // in "a", so that is accepted too.
  if (auto* ro = get_int(root, "ro"))
    m.q.read_only = ro->as_int() == 1;
  else if (auto* ro_a = get_int(*a, "ro"))
    m.q.read_only = ro_a->as_int() == 1;
  switch (*meth) {
    case method::ping:
      break;
    case method::find_node:
      if (!get_array(*a, "target", m.q.target))
        return reject(std::move(m), code::protocol, "missing or bad target");
      m.q.want = parse_want(*a);
      break;
    case method::get_peers:
      if (!get_array(*a, "info_hash", m.q.target))
        return reject(std::move(m), code::protocol, "missing or bad info_hash");
      m.q.want = parse_want(*a);
      break;
    case method::announce_peer: {
      if (!get_array(*a, "info_hash", m.q.target))
        return reject(std::move(m), code::protocol, "missing or bad info_hash");
      auto* tok = get_string(*a, "token");
      auto* port = get_int(*a, "port");
      if (!tok)
        return reject(std::move(m), code::protocol, "missing token");
      m.q.token = to_bytes(tok->as_string());
      if (auto* ip = get_int(*a, "implied_port"))
        m.q.implied_port = ip->as_int() == 1;
      if (!m.q.implied_port) {
        if (!port || port->as_int() < 1 || port->as_int() > 65535)
          return reject(std::move(m), code::protocol, "missing or bad port");
      }
      if (port && port->as_int() >= 0 && port->as_int() <= 65535)
        m.q.port = static_cast<uint16_t>(port->as_int());
      break;
    }
    case method::get:
      if (!get_array(*a, "target", m.q.target))
        return reject(std::move(m), code::protocol, "missing or bad target");
      m.q.want = parse_want(*a);
      if (auto* seq = get_int(*a, "seq"))
        m.q.seq = seq->as_int();
      break;
    case method::put: {
      auto* tok = get_string(*a, "token");
      auto* v = a->find("v");
      if (!tok || !v)
        return reject(std::move(m), code::protocol, "missing token or v");
      m.q.token = to_bytes(tok->as_string());
      m.q.v = *v;
      bool has_k = a->find("k") != nullptr;
      if (has_k) {
        bytes32 k;
        bytes64 sig;
        auto* seq = get_int(*a, "seq");
        if (!get_array(*a, "k", k) || !get_array(*a, "sig", sig) || !seq)
          return reject(std::move(m), code::protocol, "bad k, sig or seq");
        m.q.k = k;
        m.q.sig = sig;
        m.q.seq = seq->as_int();
        if (auto* salt = a->find("salt")) {
          if (!salt->is_string())
            return reject(std::move(m), code::protocol, "bad salt");
          m.q.salt = to_bytes(salt->as_string());
        }
        if (auto* cas = a->find("cas")) {
          if (!cas->is_int())
            return reject(std::move(m), code::protocol, "bad cas");
          m.q.cas = cas->as_int();
        }
      }
      break;
    }
  }
  return m;
}

result<message> parse_response(message m, const value& root) {
  auto* r = root.find("r");
  if (!r || !r->is_dict())
    return error{errc::malformed, "krpc: response without r"};
  if (!get_array(*r, "id", m.r.id))
    return error{errc::malformed, "krpc: response without id"};
  if (auto* tok = get_string(*r, "token"))
    m.r.token = to_bytes(tok->as_string());
  for (auto [key, fam] : {std::pair<const char*, uint8_t>{"nodes", 4}, {"nodes6", 6}}) {
    if (auto* nodes = r->find(key)) {
      if (!nodes->is_string())
        return error{errc::malformed, "krpc: nodes is not a string"};
      // BEP 32: 26-byte records in "nodes", 38-byte ones in "nodes6"; a length that is not a
      // multiple of the record drops the response.
      auto parsed = parse_compact_nodes(nodes->as_bytes(), fam, max_nodes_per_key,
                                        &m.r.refused_nodes);
      if (!parsed)
        return parsed.err();
      m.r.nodes.insert(m.r.nodes.end(), parsed->begin(), parsed->end());
    }
  }
  if (auto* vals = r->find("values")) {
    if (!vals->is_list())
      return error{errc::malformed, "krpc: values is not a list"};
    for (auto& p : vals->as_list()) {
      if (!p.is_string())
        return error{errc::malformed, "krpc: peer is not a string"};
      auto ep = parse_compact_endpoint(p.as_bytes());
      if (!ep)
        return error{errc::malformed, "krpc: bad compact peer"};
      m.r.values.push_back(*ep);
    }
  }
  if (auto* v = r->find("v"))
    m.r.v = *v;
  if (r->find("k")) {
    bytes32 k;
    if (!get_array(*r, "k", k))
      return error{errc::malformed, "krpc: bad k"};
    m.r.k = k;
  }
  if (r->find("sig")) {
    bytes64 sig;
    if (!get_array(*r, "sig", sig))
      return error{errc::malformed, "krpc: bad sig"};
    m.r.sig = sig;
  }
  if (auto* seq = r->find("seq")) {
    if (!seq->is_int())
      return error{errc::malformed, "krpc: bad seq"};
    m.r.seq = seq->as_int();
  }
  return m;
}

} // namespace

const char* method_name(method m) noexcept { return method_names[static_cast<int>(m)]; }

std::optional<method> parse_method(std::string_view s) noexcept {
  for (int i = 0; i < 6; ++i)
    if (s == method_names[i])
      return static_cast<method>(i);
  return std::nullopt;
}

bencode::limits krpc_limits() noexcept {
  bencode::limits lim;
  lim.max_input = max_packet_size;
  lim.max_depth = 8;    // KRPC nests 2 levels; BEP 44 v may nest, but stays small
  lim.max_items = 256;
  lim.max_int_digits = 20;
  lim.max_string = max_packet_size;
  return lim;
}

result<message> decode(byte_view packet) {
  auto root = bencode::decode(packet, krpc_limits());
  if (!root)
    return root.err();
  if (!root->is_dict())
    return error{errc::malformed, "krpc: not a dict"};
  message m;
  auto* t = get_string(*root, "t");
  auto* y = get_string(*root, "y");
  if (!t || !y)
    return error{errc::malformed, "krpc: missing t or y"};
  if (t->as_string().size() > 32)
    return error{errc::too_large, "krpc: transaction id too long"};
  m.tid = t->as_string();
  if (auto* v = get_string(*root, "v"))
    m.version = v->as_string().substr(0, 16);
  if (auto* ip = get_string(*root, "ip"))
    m.ip = parse_compact_endpoint(ip->as_bytes());
  const auto& ys = y->as_string();
  if (ys == "q") {
    m.y = message::type::query;
    return parse_query(std::move(m), *root);
  }
  if (ys == "r") {
    m.y = message::type::response;
    return parse_response(std::move(m), *root);
  }
  if (ys == "e") {
    m.y = message::type::error;
    auto* e = root->find("e");
    if (!e || !e->is_list() || e->as_list().empty() || !e->as_list()[0].is_int())
      return error{errc::malformed, "krpc: bad error list"};
    m.e.code = e->as_list()[0].as_int();
    if (e->as_list().size() > 1 && e->as_list()[1].is_string())
      m.e.message = e->as_list()[1].as_string().substr(0, 256);
    return m;
  }
  return error{errc::malformed, "krpc: unknown y"};
}

bytes encode(const message& m) {
  value root = value::dict();
  root.set("t", value::string(m.tid));
  if (!m.version.empty())
    root.set("v", value::string(m.version));
  if (m.ip && m.y != message::type::query)
    root.set("ip", str(compact_endpoint(*m.ip)));
  switch (m.y) {
    case message::type::query: {
      root.set("y", value::string("q"));
      root.set("q", value::string(method_name(m.q.m)));
      value a = value::dict();
      a.set("id", str(m.q.id));
      if (m.q.read_only)
        root.set("ro", value::integer(1)); // BEP 43: top level, not in "a"
      bool takes_want = m.q.m == method::find_node || m.q.m == method::get_peers
                        || m.q.m == method::get;
      if (takes_want && m.q.want) {
        value w = value::list();
        if (m.q.want & want::n4)
          w.push(value::string("n4"));
        if (m.q.want & want::n6)
          w.push(value::string("n6"));
        a.set("want", std::move(w));
      }
      switch (m.q.m) {
        case method::ping:
          break;
        case method::find_node:
          a.set("target", str(m.q.target));
          break;
        case method::get_peers:
          a.set("info_hash", str(m.q.target));
          break;
        case method::announce_peer:
          a.set("info_hash", str(m.q.target));
          a.set("port", value::integer(m.q.port));
          a.set("token", str(m.q.token));
          if (m.q.implied_port)
            a.set("implied_port", value::integer(1));
          break;
        case method::get:
          a.set("target", str(m.q.target));
          if (m.q.seq)
            a.set("seq", value::integer(*m.q.seq));
          break;
        case method::put:
          a.set("token", str(m.q.token));
          if (m.q.v)
            a.set("v", *m.q.v);
          if (m.q.k) {
            a.set("k", str(*m.q.k));
            a.set("sig", str(*m.q.sig));
            a.set("seq", value::integer(m.q.seq.value_or(0)));
            if (!m.q.salt.empty())
              a.set("salt", str(m.q.salt));
            if (m.q.cas)
              a.set("cas", value::integer(*m.q.cas));
          }
          break;
      }
      root.set("a", std::move(a));
      break;
    }
    case message::type::response: {
      root.set("y", value::string("r"));
      value r = value::dict();
      r.set("id", str(m.r.id));
      if (!m.r.token.empty())
        r.set("token", str(m.r.token));
      auto n4 = compact_nodes(m.r.nodes, 4);
      auto n6 = compact_nodes(m.r.nodes, 6);
      if (!n4.empty())
        r.set("nodes", str(n4));
      if (!n6.empty())
        r.set("nodes6", str(n6));
      if (!m.r.values.empty()) {
        value vals = value::list();
        for (auto& ep : m.r.values)
          vals.push(str(compact_endpoint(ep)));
        r.set("values", std::move(vals));
      }
      if (m.r.v)
        r.set("v", *m.r.v);
      if (m.r.k)
        r.set("k", str(*m.r.k));
      if (m.r.sig)
        r.set("sig", str(*m.r.sig));
      if (m.r.seq)
        r.set("seq", value::integer(*m.r.seq));
      root.set("r", std::move(r));
      break;
    }
    case message::type::error: {
      root.set("y", value::string("e"));
      value e = value::list();
      e.push(value::integer(m.e.code));
      e.push(value::string(m.e.message));
      root.set("e", std::move(e));
      break;
    }
  }
  return bencode::encode(root);
}

message make_query(std::string tid, query q) {
  message m;
  m.y = message::type::query;
  m.tid = std::move(tid);
  m.q = std::move(q);
  return m;
}

message make_response(std::string tid, response r) {
  message m;
  m.y = message::type::response;
  m.tid = std::move(tid);
  m.r = std::move(r);
  return m;
}

message make_error(std::string tid, int64_t c, std::string text) {
  message m;
  m.y = message::type::error;
  m.tid = std::move(tid);
  m.e.code = c;
  m.e.message = std::move(text);
  return m;
}

} // namespace dtt::dht::krpc
