#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>

namespace dtt::hostile {

/// One look at a process through /proc (Linux).
struct proc_sample {
  bool ok = false;         ///< false if /proc/<pid> could not be read (the process is gone)
  double cpu_seconds = 0;  ///< utime + stime of every thread so far
  size_t rss_bytes = 0;    ///< resident set size
  size_t open_fds = 0;     ///< entries of /proc/<pid>/fd
  std::chrono::steady_clock::time_point at{};
};

/// Reads /proc/<pid>/stat, /proc/<pid>/statm and /proc/<pid>/fd.
proc_sample sample_process(pid_t pid);

/// CPU use between two samples of one process, in percent of one core.
double cpu_percent(const proc_sample& before, const proc_sample& after);

} // namespace dtt::hostile
