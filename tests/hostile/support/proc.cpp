#include "proc.hpp"

#include <dirent.h>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

namespace dtt::hostile {

proc_sample sample_process(pid_t pid) {
  proc_sample s;
  s.at = std::chrono::steady_clock::now();
  const std::string dir = "/proc/" + std::to_string(pid);
  std::ifstream stat(dir + "/stat");
  std::string text;
  if (!std::getline(stat, text))
    return s;
  // Field 2 (comm) may hold spaces and parentheses: parse after the last ')'.
  auto close = text.rfind(')');
  if (close == std::string::npos)
    return s;
  std::istringstream rest(text.substr(close + 2));
  std::string field;
  // Fields from 3 (state); utime and stime are fields 14 and 15.
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14)
      utime = std::stoull(field);
    if (i == 15)
      stime = std::stoull(field);
  }
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  s.cpu_seconds = static_cast<double>(utime + stime) / tick;
  std::ifstream statm(dir + "/statm");
  unsigned long long size = 0, resident = 0;
  if (!(statm >> size >> resident))
    return s;
  s.rss_bytes = static_cast<size_t>(resident) * static_cast<size_t>(sysconf(_SC_PAGESIZE));
  DIR* d = opendir((dir + "/fd").c_str());
  if (!d)
    return s;
  size_t n = 0;
  while (auto* e = readdir(d))
    if (e->d_name[0] != '.')
      ++n;
  closedir(d);
  s.open_fds = pid == getpid() ? n - 1 : n; // our own opendir holds one
  s.ok = true;
  return s;
}

double cpu_percent(const proc_sample& before, const proc_sample& after) {
  double wall = std::chrono::duration<double>(after.at - before.at).count();
  if (wall <= 0)
    return 0;
  return 100.0 * (after.cpu_seconds - before.cpu_seconds) / wall;
}

} // namespace dtt::hostile
