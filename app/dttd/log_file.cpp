#include "app/dttd/log_file.hpp"

#include "dtt/log.hpp"

#include <cerrno>
#include <cstring>
#include <memory>

#include <fcntl.h>
#include <unistd.h>

namespace dtt {

namespace {

/// Closes its descriptor when the last sink holding it is gone.
struct fd_holder {
  int fd;
  ~fd_holder() { ::close(fd); }
};

result<std::shared_ptr<fd_holder>> open_fd(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
  if (fd < 0)
    return error{errc::io_error, "cannot open log file " + path + ": " + std::strerror(errno)};
  return std::shared_ptr<fd_holder>(new fd_holder{fd}); // no temporary that would close it
}

void install(std::shared_ptr<fd_holder> h) {
  // The log writer calls the sink under its mutex; the previous sink (and its descriptor) is
  // released after the swap, so no line is written to a closed descriptor.
  log::set_sink([h](std::string_view line) {
    size_t off = 0;
    while (off < line.size()) {
      ssize_t n = ::write(h->fd, line.data() + off, line.size() - off);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return; // a full disk loses log lines, not the node
      off += static_cast<size_t>(n);
    }
  });
}

} // namespace

result<log_file> log_file::open(const std::string& path) {
  auto h = open_fd(path);
  if (!h)
    return h.err();
  install(std::move(*h));
  return log_file{path};
}

status log_file::reopen() {
  auto h = open_fd(path_);
  if (!h)
    return h.err();
  install(std::move(*h));
  return ok_status();
}

} // namespace dtt
