#include "actors/key_file.hpp"

#include "crypto/random.hpp"

#include <fmt/core.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace dtt {

namespace {

/// Bytes read from a key file at most (its content is 65 bytes).
constexpr size_t max_key_file_size = 4096;

std::string sys_error(const std::string& what, const std::string& path) {
  return fmt::format("{} {}: {}", what, path, std::strerror(errno));
}

/// Closes a descriptor on scope exit.
struct fd_guard {
  int fd = -1;
  ~fd_guard() {
    if (fd >= 0)
      ::close(fd);
  }
};

std::string directory_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos)
    return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

bool write_all(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    auto n = ::write(fd, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

result<crypto::signing_key> create(const std::string& path) {
  auto key = crypto::signing_key::generate();
  byte_array<6> suffix;
  crypto::os_random().fill(suffix.data(), suffix.size());
  std::string tmp = path + ".tmp-" + to_hex(byte_view(suffix));
  fd_guard f{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600)};
  if (f.fd < 0)
    return error{errc::io_error, sys_error("cannot create key file", tmp)};
  bool ok = ::fchmod(f.fd, 0600) == 0 // whatever the umask took away or left
            && write_all(f.fd, to_hex(key.seed()) + "\n") && ::fsync(f.fd) == 0;
  if (!ok || ::close(f.fd) != 0) {
    f.fd = -1;
    auto e = error{errc::io_error, sys_error("cannot write key file", tmp)};
    ::unlink(tmp.c_str());
    return e;
  }
  f.fd = -1;
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    auto e = error{errc::io_error, sys_error("cannot rename key file to", path)};
    ::unlink(tmp.c_str());
    return e;
  }
  // Make the rename durable.
  fd_guard dir{::open(directory_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (dir.fd >= 0)
    ::fsync(dir.fd);
  return key;
}

const char* type_name(mode_t m) {
  if (S_ISDIR(m))
    return "a directory";
  if (S_ISFIFO(m))
    return "a FIFO";
  if (S_ISSOCK(m))
    return "a socket";
  if (S_ISCHR(m) || S_ISBLK(m))
    return "a device";
  return "not a regular file";
}

} // namespace

result<crypto::signing_key> load_or_create_key_file(const std::string& path) {
  if (path.empty())
    return crypto::signing_key::generate();
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT)
      return create(path);
    return error{errc::io_error, sys_error("cannot read key file", path)};
  }
  if (S_ISLNK(st.st_mode))
    return error{errc::refused,
                 fmt::format("key file {} is a symbolic link; give the path of the file itself",
                             path)};
  // O_NONBLOCK: opening a FIFO must not wait for a writer; O_NOFOLLOW: no link swapped in
  // between lstat and open.
  fd_guard f{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)};
  if (f.fd < 0)
    return error{errc::io_error, sys_error("cannot open key file", path)};
  if (::fstat(f.fd, &st) != 0)
    return error{errc::io_error, sys_error("cannot read key file", path)};
  if (!S_ISREG(st.st_mode))
    return error{errc::refused, fmt::format("key file {} is {}", path, type_name(st.st_mode))};
  if ((st.st_mode & 077) != 0)
    return error{errc::refused,
                 fmt::format("UNPROTECTED KEY FILE: {} has mode {:04o}, so group or others can "
                             "use it; it must be readable by its owner only (chmod 600 {})",
                             path, st.st_mode & 07777, path)};
  std::string text(max_key_file_size + 1, '\0');
  size_t len = 0;
  while (len < text.size()) {
    auto n = ::read(f.fd, text.data() + len, text.size() - len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return error{errc::io_error, sys_error("cannot read key file", path)};
    if (n == 0)
      break;
    len += static_cast<size_t>(n);
  }
  text.resize(len);
  auto begin = text.find_first_not_of(" \t\r\n");
  auto end = text.find_last_not_of(" \t\r\n");
  auto hex = begin == std::string::npos ? std::string_view{}
                                        : std::string_view(text).substr(begin, end - begin + 1);
  auto seed = hex.size() == 64 ? array_from_hex<32>(hex) : std::nullopt;
  if (!seed)
    return error{errc::malformed,
                 fmt::format("key file {} does not hold a key (64 hex digits)", path)};
  return crypto::signing_key::from_seed(*seed);
}

} // namespace dtt

// --- the public node_key (include/dtt/keys.hpp) ------------------------------------------------

#include "dtt/keys.hpp"

#include <sodium.h>

namespace dtt {

node_key node_key::from_seed(const bytes32& seed) {
  auto sk = crypto::signing_key::from_seed(seed);
  node_key k;
  k.seed_ = sk.seed();
  k.id_ = sk.public_key_bytes();
  return k;
}

node_key node_key::generate() {
  auto sk = crypto::signing_key::generate();
  return from_seed(sk.seed());
}

result<node_key> node_key::load_or_create(const std::string& path) {
  auto sk = load_or_create_key_file(path);
  if (!sk)
    return sk.err();
  return from_seed(sk->seed());
}

node_key::node_key(const node_key&) = default;
node_key& node_key::operator=(const node_key&) = default;

node_key::~node_key() { sodium_memzero(seed_.data(), seed_.size()); }

} // namespace dtt
