#pragma once

#include <string>

namespace dtt::test {

/// What a shell command printed (stdout and stderr merged) and how it ended.
struct command_result {
  int exit_code = -1; ///< -1 when it could not be started or was killed by a signal
  std::string output;
};

/// Runs `command` through /bin/sh with stderr merged into stdout and waits for it. Callers bound
/// the run time themselves (e.g. `timeout 60 ...` or the program's own deadline).
command_result run_command(const std::string& command);

} // namespace dtt::test
