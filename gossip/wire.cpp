#include "gossip/wire.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace dtt::gossip {

namespace msg {

bool operator==(const join& a, const join& b) { return a.data == b.data; }
bool operator==(const forward_join& a, const forward_join& b) {
  return a.peer == b.peer && a.ttl == b.ttl;
}
bool operator==(const shuffle& a, const shuffle& b) {
  return a.origin == b.origin && a.nodes == b.nodes && a.ttl == b.ttl;
}
bool operator==(const shuffle_reply& a, const shuffle_reply& b) { return a.nodes == b.nodes; }
bool operator==(const neighbor& a, const neighbor& b) {
  return a.prio == b.prio && a.data == b.data;
}
bool operator==(const disconnect& a, const disconnect& b) { return a.alive == b.alive; }
bool operator==(const gossip& a, const gossip& b) {
  return a.id == b.id && a.content == b.content && a.scope == b.scope;
}
bool operator==(const prune&, const prune&) { return true; }
bool operator==(const graft& a, const graft& b) { return a.id == b.id && a.round == b.round; }
bool operator==(const ihave& a, const ihave& b) { return a.entries == b.entries; }

} // namespace msg

namespace {

constexpr uint8_t family_swarm = 0;
constexpr uint8_t family_gossip = 1;

// An address in binary form; nullopt if it cannot travel on the wire.
struct raw_address {
  uint8_t family; // 4 or 6
  uint8_t ip[16];
  uint16_t port;
};

std::optional<raw_address> to_raw(const socket_address& a) {
  if (a.port == 0)
    return std::nullopt;
  raw_address r{};
  r.port = a.port;
  if (inet_pton(AF_INET, a.ip.c_str(), r.ip) == 1) {
    r.family = 4;
    return r;
  }
  if (inet_pton(AF_INET6, a.ip.c_str(), r.ip) == 1) {
    r.family = 6;
    return r;
  }
  return std::nullopt;
}

// ---- writing ---------------------------------------------------------------------------------

// Writes into a buffer of the exact size (encoded_size) or, with no buffer, only counts.
class writer {
public:
  explicit writer(uint8_t* out) : out_(out) {}
  void u8(uint8_t v) {
    if (out_)
      out_[size_] = v;
    ++size_;
  }
  void u16(uint16_t v) {
    u8(static_cast<uint8_t>(v >> 8));
    u8(static_cast<uint8_t>(v));
  }
  void u32(uint32_t v) {
    u16(static_cast<uint16_t>(v >> 16));
    u16(static_cast<uint16_t>(v));
  }
  void raw(const uint8_t* p, size_t n) {
    if (out_ && n > 0)
      std::memcpy(out_ + size_, p, n);
    size_ += n;
  }
  template <size_t N>
  void fixed(const byte_array<N>& a) {
    raw(a.data(), N);
  }
  size_t size() const { return size_; }

private:
  uint8_t* out_;
  size_t size_ = 0;
};

void write_peer_data(writer& w, const std::optional<peer_data>& d) {
  if (!d) {
    w.u8(0);
    return;
  }
  w.u8(1);
  std::vector<raw_address> addrs;
  for (const auto& a : *d) {
    if (addrs.size() == max_peer_addresses)
      break;
    if (auto r = to_raw(a))
      addrs.push_back(*r);
  }
  w.u8(static_cast<uint8_t>(addrs.size()));
  for (const auto& r : addrs) {
    w.u8(r.family);
    w.raw(r.ip, r.family == 4 ? 4 : 16);
    w.u16(r.port);
  }
}

void write_peer_info(writer& w, const peer_info& p) {
  w.fixed(p.id);
  write_peer_data(w, p.data);
}

void write_nodes(writer& w, const std::vector<peer_info>& nodes) {
  size_t n = std::min(nodes.size(), max_shuffle_nodes);
  w.u8(static_cast<uint8_t>(n));
  for (size_t i = 0; i < n; ++i)
    write_peer_info(w, nodes[i]);
}

struct body_writer {
  writer& w;
  void operator()(const msg::join& m) { write_peer_data(w, m.data); }
  void operator()(const msg::forward_join& m) {
    write_peer_info(w, m.peer);
    w.u16(m.ttl);
  }
  void operator()(const msg::shuffle& m) {
    w.fixed(m.origin);
    write_nodes(w, m.nodes);
    w.u16(m.ttl);
  }
  void operator()(const msg::shuffle_reply& m) { write_nodes(w, m.nodes); }
  void operator()(const msg::neighbor& m) {
    w.u8(static_cast<uint8_t>(m.prio));
    write_peer_data(w, m.data);
  }
  void operator()(const msg::disconnect& m) { w.u8(m.alive ? 1 : 0); }
  void operator()(const msg::gossip& m) {
    w.fixed(m.id);
    if (m.scope.k == delivery_scope::kind::neighbors) {
      w.u8(1);
    } else {
      w.u8(0);
      w.u16(m.scope.round);
    }
    w.u32(static_cast<uint32_t>(m.content.size()));
    w.raw(m.content.data(), m.content.size());
  }
  void operator()(const msg::prune&) {}
  void operator()(const msg::graft& m) {
    if (m.id) {
      w.u8(1);
      w.fixed(*m.id);
    } else {
      w.u8(0);
    }
    w.u16(m.round);
  }
  void operator()(const msg::ihave& m) {
    size_t n = std::min<size_t>(m.entries.size(), UINT16_MAX);
    w.u16(static_cast<uint16_t>(n));
    for (size_t i = 0; i < n; ++i) {
      w.fixed(m.entries[i].id);
      w.u16(m.entries[i].round);
    }
  }
};

void write_message(writer& w, const message& m) {
  w.fixed(m.topic);
  auto index = m.body.index();
  if (msg::is_swarm(m.body)) {
    w.u8(family_swarm);
    w.u8(static_cast<uint8_t>(index));
  } else {
    w.u8(family_gossip);
    w.u8(static_cast<uint8_t>(index - 6));
  }
  std::visit(body_writer{w}, m.body);
}

// ---- reading ---------------------------------------------------------------------------------

// A cursor over the input with a sticky first error: after a failure every read yields zeros
// and the caller checks ok() before trusting any value it built.
class reader {
public:
  /// `whole`, if given, is the buffer `in` views entirely: payloads are then slices of it.
  explicit reader(byte_view in, const shared_buffer* whole = nullptr)
    : in_(in), whole_(whole) {}

  bool ok() const { return !err_; }
  const std::optional<error>& err() const { return err_; }
  size_t remaining() const { return in_.size() - pos_; }

  void fail(errc c, const char* what) {
    if (!err_)
      err_ = error{c, what};
  }
  uint8_t u8(const char* what) {
    if (!take(1, what))
      return 0;
    return in_[pos_++];
  }
  uint16_t u16(const char* what) {
    if (!take(2, what))
      return 0;
    uint16_t v = static_cast<uint16_t>(in_[pos_] << 8 | in_[pos_ + 1]);
    pos_ += 2;
    return v;
  }
  uint32_t u32(const char* what) {
    if (!take(4, what))
      return 0;
    uint32_t v = get_be32(in_.data() + pos_);
    pos_ += 4;
    return v;
  }
  bool boolean(const char* what) {
    uint8_t v = u8(what);
    if (v > 1)
      fail(errc::malformed, what);
    return v == 1;
  }
  template <size_t N>
  byte_array<N> fixed(const char* what) {
    byte_array<N> a{};
    if (take(N, what)) {
      std::memcpy(a.data(), in_.data() + pos_, N);
      pos_ += N;
    }
    return a;
  }
  bool raw(uint8_t* out, size_t n, const char* what) {
    if (!take(n, what))
      return false;
    std::memcpy(out, in_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  bytes sized(size_t n, const char* what) {
    if (ok() && n > remaining()) {
      fail(errc::length_mismatch, what);
      return {};
    }
    if (!ok())
      return {};
    bytes b(in_.data() + pos_, in_.data() + pos_ + n);
    pos_ += n;
    return b;
  }
  // n bytes as a payload: a slice of the whole buffer when there is one, else a copy.
  shared_bytes payload(size_t n, const char* what) {
    if (!whole_)
      return sized(n, what);
    if (ok() && n > remaining())
      fail(errc::length_mismatch, what);
    if (!ok())
      return {};
    shared_bytes s(*whole_, pos_, n);
    pos_ += n;
    return s;
  }

private:
  bool take(size_t n, const char* what) {
    if (!ok())
      return false;
    if (n > remaining()) {
      fail(errc::truncated, what);
      return false;
    }
    return true;
  }

  byte_view in_;
  const shared_buffer* whole_;
  size_t pos_ = 0;
  std::optional<error> err_;
};

std::optional<peer_data> read_peer_data(reader& r) {
  if (!r.boolean("peer_data flag"))
    return std::nullopt;
  uint8_t n = r.u8("address count");
  if (n > max_peer_addresses) {
    r.fail(errc::too_large, "too many addresses");
    return std::nullopt;
  }
  peer_data d;
  for (uint8_t i = 0; i < n && r.ok(); ++i) {
    uint8_t family = r.u8("address family");
    if (r.ok() && family != 4 && family != 6) {
      r.fail(errc::malformed, "address family");
      break;
    }
    uint8_t ip[16];
    r.raw(ip, family == 4 ? 4 : 16, "address");
    uint16_t port = r.u16("port");
    if (!r.ok())
      break;
    if (port == 0) {
      r.fail(errc::malformed, "port 0");
      break;
    }
    char text[INET6_ADDRSTRLEN] = {};
    inet_ntop(family == 4 ? AF_INET : AF_INET6, ip, text, sizeof text);
    d.push_back(socket_address{text, port});
  }
  return d;
}

peer_info read_peer_info(reader& r) {
  peer_info p;
  p.id = r.fixed<32>("peer id");
  p.data = read_peer_data(r);
  return p;
}

std::vector<peer_info> read_nodes(reader& r) {
  uint8_t n = r.u8("node count");
  if (n > max_shuffle_nodes) {
    r.fail(errc::too_large, "too many nodes");
    return {};
  }
  // Each node takes at least 33 bytes: refuse a count the input cannot hold before allocating.
  if (r.ok() && size_t{n} * 33 > r.remaining()) {
    r.fail(errc::length_mismatch, "node count");
    return {};
  }
  std::vector<peer_info> nodes;
  nodes.reserve(n);
  for (uint8_t i = 0; i < n && r.ok(); ++i)
    nodes.push_back(read_peer_info(r));
  return nodes;
}

delivery_scope read_scope(reader& r) {
  delivery_scope s;
  uint8_t tag = r.u8("scope");
  if (tag == 0) {
    s.k = delivery_scope::kind::swarm;
    s.round = r.u16("round");
  } else if (tag == 1) {
    s.k = delivery_scope::kind::neighbors;
  } else {
    r.fail(errc::malformed, "scope tag");
  }
  return s;
}

std::optional<msg::body> read_body(reader& r, uint8_t family, uint8_t variant) {
  if (family == family_swarm) {
    switch (variant) {
      case 0:
        return msg::join{read_peer_data(r)};
      case 1: {
        msg::forward_join m;
        m.peer = read_peer_info(r);
        m.ttl = r.u16("ttl");
        return m;
      }
      case 2: {
        msg::shuffle m;
        m.origin = r.fixed<32>("origin");
        m.nodes = read_nodes(r);
        m.ttl = r.u16("ttl");
        return m;
      }
      case 3:
        return msg::shuffle_reply{read_nodes(r)};
      case 4: {
        msg::neighbor m;
        uint8_t p = r.u8("priority");
        if (p > 1)
          r.fail(errc::malformed, "priority");
        m.prio = static_cast<priority>(p);
        m.data = read_peer_data(r);
        return m;
      }
      case 5:
        return msg::disconnect{r.boolean("alive")};
    }
  } else if (family == family_gossip) {
    switch (variant) {
      case 0: {
        msg::gossip m;
        m.id = r.fixed<32>("message id");
        m.scope = read_scope(r);
        uint32_t len = r.u32("content length");
        m.content = r.payload(len, "content");
        return m;
      }
      case 1:
        return msg::prune{};
      case 2: {
        msg::graft m;
        if (r.boolean("graft id flag"))
          m.id = r.fixed<32>("graft id");
        m.round = r.u16("round");
        return m;
      }
      case 3: {
        msg::ihave m;
        uint16_t n = r.u16("ihave count");
        if (r.ok() && n == 0)
          r.fail(errc::malformed, "empty ihave");
        if (r.ok() && size_t{n} * ihave_entry_size > r.remaining())
          r.fail(errc::length_mismatch, "ihave count");
        if (!r.ok())
          return m;
        m.entries.reserve(n);
        for (uint16_t i = 0; i < n && r.ok(); ++i) {
          msg::ihave_entry e;
          e.id = r.fixed<32>("ihave id");
          e.round = r.u16("ihave round");
          m.entries.push_back(e);
        }
        return m;
      }
    }
  }
  r.fail(errc::malformed, "unknown message tag");
  return std::nullopt;
}

} // namespace

bytes encode(const message& m) {
  bytes out(encoded_size(m));
  writer w(out.data());
  write_message(w, m);
  return out;
}

shared_buffer encode_shared(const message& m) {
  auto out = shared_buffer::allocate(encoded_size(m));
  writer w(out.mutable_data());
  write_message(w, m);
  return out;
}

size_t encoded_size(const message& m) {
  writer w(nullptr);
  write_message(w, m);
  return w.size();
}

namespace {
result<message> decode_from(reader& r, size_t size, size_t max_message_size) {
  if (size > max_message_size)
    return error{errc::too_large, "gossip message over the max message size"};
  message m;
  m.topic = r.fixed<32>("topic");
  uint8_t family = r.u8("family");
  uint8_t variant = r.u8("variant");
  if (!r.ok())
    return *r.err();
  auto body = read_body(r, family, variant);
  if (r.ok() && r.remaining() != 0)
    r.fail(errc::malformed, "trailing bytes after gossip message");
  if (!r.ok())
    return *r.err();
  m.body = std::move(*body);
  return m;
}
} // namespace

result<message> decode(byte_view in, size_t max_message_size) {
  reader r(in);
  return decode_from(r, in.size(), max_message_size);
}

result<message> decode(shared_buffer frame, size_t max_message_size) {
  reader r(frame.view(), &frame);
  return decode_from(r, frame.size(), max_message_size);
}

gossip_peek peek_gossip(byte_view frame) noexcept {
  // topic (32), family, variant, then a Gossip body starts with its id (32).
  if (frame.size() < 66 || frame.data()[32] != family_gossip || frame.data()[33] != 0)
    return {};
  return {frame.data(), frame.data() + 34};
}

bool is_ip_literal(const std::string& ip) {
  return to_raw(socket_address{ip, 1}).has_value();
}

} // namespace dtt::gossip
