#include "app/dttd/line_reader.hpp"

#include <cerrno>

#include <poll.h>
#include <unistd.h>

namespace dtt {

void line_reader::feed(std::string_view data) {
  while (!data.empty()) {
    auto nl = data.find('\n');
    auto chunk = data.substr(0, nl);
    if (!skipping_) {
      if (partial_.size() + chunk.size() > max_line_) {
        skipping_ = true;
        partial_.clear();
        partial_.shrink_to_fit();
        on_too_long_();
      } else {
        partial_.append(chunk.data(), chunk.size());
      }
    }
    if (nl == std::string_view::npos)
      return;
    if (!skipping_)
      on_line_(std::move(partial_));
    partial_.clear();
    skipping_ = false;
    data.remove_prefix(nl + 1);
  }
}

void line_reader::finish() {
  if (!skipping_ && !partial_.empty())
    on_line_(std::move(partial_));
  partial_.clear();
  skipping_ = false;
}

input_end read_lines(int fd, int stop_fd, line_reader& reader) {
  char buf[16384];
  for (;;) {
    pollfd p[2] = {{stop_fd, POLLIN, 0}, {fd, POLLIN, 0}};
    int n = ::poll(p, 2, -1);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      reader.finish();
      return input_end::eof;
    }
    if (p[0].revents != 0)
      return input_end::stopped;
    if (p[1].revents & POLLNVAL) {
      reader.finish();
      return input_end::eof;
    }
    if (p[1].revents == 0)
      continue;
    // POLLIN or POLLHUP (a pipe whose writers are gone: read returns what is left, then 0).
    ssize_t got = ::read(fd, buf, sizeof buf);
    if (got < 0 && (errno == EINTR || errno == EAGAIN))
      continue;
    if (got <= 0) {
      reader.finish();
      return input_end::eof;
    }
    reader.feed(std::string_view(buf, static_cast<size_t>(got)));
  }
}

} // namespace dtt
