#include "cluster/record.hpp"

#include <algorithm>

#include <arpa/inet.h>

namespace dtt::cluster_core {

namespace {

constexpr std::string_view magic = "DTTC";
constexpr uint8_t version = 1;
constexpr uint8_t flag_leaving = 1;
constexpr std::string_view sign_context = "dtt-cluster-record-v1";

bytes signed_message(const bytes32& cluster_id, byte_view body) {
  bytes m;
  append(m, byte_view::of(sign_context));
  append(m, cluster_id);
  append(m, body);
  return m;
}

// A bounds-checked reader: every read fails once the input is exhausted.
struct reader {
  byte_view in;
  size_t pos = 0;
  bool ok = true;
  bool need(size_t n) {
    if (!ok || in.size() - pos < n)
      ok = false;
    return ok;
  }
  uint8_t u8() { return need(1) ? in[pos++] : 0; }
  uint64_t be(size_t n) {
    uint64_t v = 0;
    if (need(n))
      for (size_t i = 0; i < n; ++i)
        v = (v << 8) | in[pos++];
    return v;
  }
  byte_view take(size_t n) {
    if (!need(n))
      return {};
    auto v = in.sub(pos, n);
    pos += n;
    return v;
  }
};

bool encode_address(bytes& out, const socket_address& a) {
  uint8_t buf[16];
  if (a.port == 0 || a.ip.size() > 45 || a.ip.find('\0') != std::string::npos)
    return false;
  if (inet_pton(AF_INET, a.ip.c_str(), buf) == 1) {
    out.push_back(4);
    out.insert(out.end(), buf, buf + 4);
  } else if (inet_pton(AF_INET6, a.ip.c_str(), buf) == 1) {
    out.push_back(6);
    out.insert(out.end(), buf, buf + 16);
  } else {
    return false;
  }
  out.push_back(static_cast<uint8_t>(a.port >> 8));
  out.push_back(static_cast<uint8_t>(a.port & 0xff));
  return true;
}

} // namespace

bool valid_name(std::string_view name, const record_limits& lim) {
  if (name.empty() || name.size() > lim.max_name_size)
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-' || c == ':' || c == '/';
  });
}

result<bytes> encode_record(const member_record& r, const crypto::signing_key& key,
                            const bytes32& cluster_id, const record_limits& lim) {
  if (key.public_key_bytes() != r.id)
    return error{errc::invalid_argument, "record id is not the signing key"};
  if (r.node.size() > lim.max_node_id_size || r.addresses.size() > lim.max_addresses ||
      r.names.size() > lim.max_names)
    return error{errc::too_large, "record over its limits"};
  for (size_t i = 0; i < r.names.size(); ++i)
    if (!valid_name(r.names[i], lim) || (i > 0 && !(r.names[i - 1] < r.names[i])))
      return error{errc::invalid_argument, "names must be valid, sorted and unique"};
  bytes out;
  append(out, byte_view::of(magic));
  out.push_back(version);
  out.push_back(r.leaving ? flag_leaving : 0);
  append(out, r.id);
  put_be64(out, r.incarnation);
  put_be64(out, r.seq);
  out.push_back(static_cast<uint8_t>(r.node.size()));
  append(out, r.node);
  out.push_back(static_cast<uint8_t>(r.addresses.size()));
  for (auto& a : r.addresses)
    if (!encode_address(out, a))
      return error{errc::invalid_argument, "address is not a numeric IP and port"};
  out.push_back(static_cast<uint8_t>(r.names.size()));
  for (auto& n : r.names) {
    out.push_back(static_cast<uint8_t>(n.size()));
    append(out, byte_view::of(n));
  }
  auto sig = key.sign(signed_message(cluster_id, out));
  append(out, sig);
  if (out.size() > lim.max_record_size)
    return error{errc::too_large, "record over max_record_size"};
  return out;
}

result<member_record> decode_record(byte_view wire, const bytes32& cluster_id,
                                    const record_limits& lim) {
  if (wire.size() > lim.max_record_size)
    return error{errc::too_large, "record over max_record_size"};
  if (wire.size() < magic.size() + 2 + 32 + 16 + 3 + 64)
    return error{errc::truncated, "record too short"};
  reader rd{wire.sub(0, wire.size() - 64)};
  if (rd.take(magic.size()).as_string() != magic)
    return error{errc::malformed, "not a cluster record"};
  if (rd.u8() != version)
    return error{errc::malformed, "unknown record version"};
  member_record r;
  auto flags = rd.u8();
  if ((flags & ~flag_leaving) != 0)
    return error{errc::malformed, "unknown record flags"};
  r.leaving = (flags & flag_leaving) != 0;
  r.id = to_array<32>(rd.take(32));
  r.incarnation = rd.be(8);
  r.seq = rd.be(8);
  size_t node_len = rd.u8();
  if (node_len > lim.max_node_id_size)
    return error{errc::too_large, "node id too long"};
  r.node = rd.take(node_len).to_bytes();
  size_t n_addr = rd.u8();
  if (n_addr > lim.max_addresses)
    return error{errc::too_large, "too many addresses"};
  for (size_t i = 0; i < n_addr && rd.ok; ++i) {
    auto fam = rd.u8();
    if (fam != 4 && fam != 6)
      return error{errc::malformed, "unknown address family"};
    auto raw = rd.take(fam == 4 ? 4 : 16);
    uint16_t port = static_cast<uint16_t>(rd.be(2));
    if (!rd.ok)
      break;
    if (port == 0)
      return error{errc::malformed, "port 0"};
    char text[INET6_ADDRSTRLEN] = {};
    if (inet_ntop(fam == 4 ? AF_INET : AF_INET6, raw.data(), text, sizeof(text)) == nullptr)
      return error{errc::malformed, "bad address"};
    r.addresses.push_back(socket_address{text, port});
  }
  size_t n_names = rd.u8();
  if (n_names > lim.max_names)
    return error{errc::too_large, "too many names"};
  for (size_t i = 0; i < n_names && rd.ok; ++i) {
    size_t len = rd.u8();
    auto name = rd.take(len).as_string();
    if (!rd.ok)
      break;
    if (!valid_name(name, lim))
      return error{errc::malformed, "invalid actor name"};
    if (!r.names.empty() && !(r.names.back() < name))
      return error{errc::malformed, "names not sorted and unique"};
    r.names.emplace_back(name);
  }
  if (!rd.ok)
    return error{errc::truncated, "record cut short"};
  if (rd.pos != rd.in.size())
    return error{errc::length_mismatch, "bytes after the names"};
  if (!crypto::is_valid_public_key(r.id))
    return error{errc::bad_key, "record id is not a valid key"};
  auto sig = to_array<64>(wire.sub(wire.size() - 64));
  if (!crypto::verify_strict(r.id, signed_message(cluster_id, rd.in), sig))
    return error{errc::bad_signature, "record signature"};
  return r;
}

} // namespace dtt::cluster_core
