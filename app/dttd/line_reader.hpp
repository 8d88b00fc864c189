#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace dtt {

/// Splits what dttd reads from its standard input into lines, with a bound: a line longer than
/// `max_line` bytes is dropped whole (reported once through `on_too_long`) instead of growing
/// the buffer without limit (stdin is outside input like any other).
class line_reader {
public:
  /// `on_line` gets each complete line without its '\n'; `on_too_long` each dropped one.
  line_reader(size_t max_line, std::function<void(std::string&&)> on_line,
              std::function<void()> on_too_long)
    : max_line_(max_line), on_line_(std::move(on_line)), on_too_long_(std::move(on_too_long)) {}

  /// Feeds bytes as read.
  void feed(std::string_view data);
  /// The input ended: a last line without '\n' is passed on as a line.
  void finish();

private:
  size_t max_line_;
  std::function<void(std::string&&)> on_line_;
  std::function<void()> on_too_long_;
  std::string partial_;
  bool skipping_ = false; ///< inside a line that was already too long
};

/// Why read_lines returned.
enum class input_end {
  eof,     ///< the input ended (end of file, closed, or a read error such as EIO on a hung-up tty)
  stopped, ///< `stop_fd` became readable
};

/// Reads `fd` until it ends or `stop_fd` becomes readable, feeding `reader`. Sleeps in poll()
/// on both, and reads only what poll() said is there, so that a stop request is seen whatever
/// the input does (an open pipe whose writer is silent, a terminal, /dev/null, a closed fd).
/// Never uses stdio, whose FILE lock a blocked reader would hold at exit.
input_end read_lines(int fd, int stop_fd, line_reader& reader);

} // namespace dtt
