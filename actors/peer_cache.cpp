#include "actors/peer_cache.hpp"

#include "actors/endpoint_record.hpp"
#include "crypto/ed25519.hpp"
#include "crypto/hash.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

namespace dtt::peer_cache {

namespace {

constexpr int64_t max_time = int64_t{1} << 53;
constexpr size_t max_record = 1000; // BEP 44's bound on the endpoint record value

void put_le16(bytes& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v));
  out.push_back(static_cast<uint8_t>(v >> 8));
}

uint16_t get_le16(const uint8_t* p) noexcept {
  return static_cast<uint16_t>(p[0] | (p[1] << 8));
}

std::string sys_error(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

} // namespace

bytes encode(const std::vector<entry>& entries) {
  bytes out(magic.begin(), magic.end());
  auto n = std::min(entries.size(), max_entries);
  put_le16(out, static_cast<uint16_t>(n));
  for (size_t i = 0; i < n; ++i) {
    auto& e = entries[i];
    out.insert(out.end(), e.id.begin(), e.id.end());
    put_le64(out, static_cast<uint64_t>(std::clamp<int64_t>(e.last_seen, 0, max_time)));
    std::vector<gossip::socket_address> addrs(
      e.addresses.begin(), e.addresses.begin() + std::min(e.addresses.size(), max_addresses));
    auto record = addrs.empty() ? bytes{} : encode_endpoint_record(addrs);
    put_le16(out, static_cast<uint16_t>(record.size()));
    out.insert(out.end(), record.begin(), record.end());
  }
  return out;
}

result<std::vector<entry>> decode(byte_view data, size_t max_size) {
  if (data.size() > max_size || data.size() > max_file_size)
    return error{errc::too_large, "peer cache over " + std::to_string(max_size) + " bytes"};
  if (data.size() < magic.size() + 2)
    return error{errc::truncated, "peer cache shorter than its header"};
  if (!(data.sub(0, magic.size()) == byte_view::of(magic)))
    return error{errc::malformed, "not a peer cache file (bad magic)"};
  const uint8_t* p = data.data() + magic.size();
  const uint8_t* end = data.data() + data.size();
  size_t count = get_le16(p);
  p += 2;
  if (count > max_entries)
    return error{errc::too_large, "peer cache lists " + std::to_string(count) + " peers"};
  std::vector<entry> out;
  std::set<gossip::endpoint_id> ids;
  for (size_t i = 0; i < count; ++i) {
    if (static_cast<size_t>(end - p) < 32 + 8 + 2)
      return error{errc::truncated, "peer cache entry " + std::to_string(i) + " truncated"};
    entry e;
    std::copy(p, p + 32, e.id.begin());
    p += 32;
    auto t = get_le64(p);
    p += 8;
    size_t n = get_le16(p);
    p += 2;
    if (t > static_cast<uint64_t>(max_time))
      return error{errc::malformed, "peer cache entry " + std::to_string(i) + ": bad time"};
    e.last_seen = static_cast<int64_t>(t);
    if (n > max_record)
      return error{errc::too_large, "peer cache entry " + std::to_string(i) + ": record over 1000 bytes"};
    if (static_cast<size_t>(end - p) < n)
      return error{errc::truncated, "peer cache entry " + std::to_string(i) + " truncated"};
    if (!crypto::is_valid_public_key(e.id))
      return error{errc::bad_key, "peer cache entry " + std::to_string(i) + ": not an endpoint id"};
    if (!ids.insert(e.id).second)
      return error{errc::malformed, "peer cache lists a peer twice"};
    if (n > 0) {
      auto addrs = decode_endpoint_record(byte_view{p, n});
      if (!addrs)
        return error{addrs.err().code,
                     "peer cache entry " + std::to_string(i) + ": " + addrs.err().what};
      if (addrs->size() > max_addresses)
        return error{errc::too_large, "peer cache entry " + std::to_string(i) + ": too many addresses"};
      e.addresses = std::move(*addrs);
    }
    p += n;
    out.push_back(std::move(e));
  }
  if (p != end)
    return error{errc::length_mismatch, "peer cache has trailing bytes"};
  return out;
}

std::vector<entry> merge(const std::vector<entry>& cached, const std::vector<entry>& seen,
                         int64_t now, size_t bound) {
  std::vector<entry> out;
  std::set<gossip::endpoint_id> ids;
  for (auto& s : seen) {
    if (!ids.insert(s.id).second)
      continue;
    auto e = s;
    e.last_seen = now;
    if (e.addresses.empty()) {
      auto old = std::find_if(cached.begin(), cached.end(),
                              [&](const entry& c) { return c.id == s.id; });
      if (old != cached.end())
        e.addresses = old->addresses;
    }
    out.push_back(std::move(e));
  }
  std::vector<entry> rest;
  for (auto& c : cached)
    if (ids.insert(c.id).second)
      rest.push_back(c);
  std::stable_sort(rest.begin(), rest.end(),
                   [](const entry& a, const entry& b) { return a.last_seen > b.last_seen; });
  out.insert(out.end(), rest.begin(), rest.end());
  if (out.size() > bound)
    out.resize(bound);
  return out;
}

std::string file_name(const crypto::topic_id& topic, const bytes32& initial_secret_hash) {
  bytes in;
  auto label = byte_view::of("dtt peer cache v1");
  in.insert(in.end(), label.begin(), label.end());
  in.insert(in.end(), topic.hash().begin(), topic.hash().end());
  in.insert(in.end(), initial_secret_hash.begin(), initial_secret_hash.end());
  auto h = crypto::sha256(in);
  return "peers-" + to_hex(byte_view(h).sub(0, 16)) + ".bin";
}

result<bytes> read_file(const std::string& path, size_t max_size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT)
      return error{errc::closed, "no file " + path};
    return error{errc::io_error, sys_error("cannot open", path)};
  }
  bytes out;
  uint8_t buf[4096];
  for (;;) {
    auto n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      auto e = error{errc::io_error, sys_error("cannot read", path)};
      ::close(fd);
      return e;
    }
    if (n == 0)
      break;
    if (out.size() + static_cast<size_t>(n) > max_size) {
      ::close(fd);
      return error{errc::too_large, path + " is over " + std::to_string(max_size) + " bytes"};
    }
    out.insert(out.end(), buf, buf + n);
  }
  ::close(fd);
  return out;
}

status write_file_atomic(const std::string& path, byte_view data) {
  auto slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    auto dir = path.substr(0, slash);
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
      return error{errc::io_error, sys_error("cannot create directory", dir)};
  }
  auto tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return error{errc::io_error, sys_error("cannot create", tmp)};
  const uint8_t* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    auto n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      auto e = error{errc::io_error, sys_error("cannot write", tmp)};
      ::close(fd);
      ::unlink(tmp.c_str());
      return e;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  bool synced = ::fsync(fd) == 0;
  bool closed = ::close(fd) == 0;
  if (!synced || !closed) {
    auto e = error{errc::io_error, sys_error("cannot flush", tmp)};
    ::unlink(tmp.c_str());
    return e;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    auto e = error{errc::io_error, sys_error("cannot rename onto", path)};
    ::unlink(tmp.c_str());
    return e;
  }
  return ok_status();
}

} // namespace dtt::peer_cache
