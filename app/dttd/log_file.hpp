#pragma once

#include "dtt/errors.hpp"

#include <string>

namespace dtt {

/// dttd's log lines in a file instead of stderr (`[dttd] log-file`), opened for appending and
/// reopened on SIGHUP, so that logrotate can move the file away and the next lines go to a new
/// one at the same path.
class log_file {
public:
  /// Opens `path` (created 0600 if missing, appended to) and makes it the log's sink.
  static result<log_file> open(const std::string& path);
  /// Opens the path again and swaps the sink to it; on failure the old file stays in use.
  status reopen();
  /// The path.
  const std::string& path() const noexcept { return path_; }

private:
  explicit log_file(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

} // namespace dtt
