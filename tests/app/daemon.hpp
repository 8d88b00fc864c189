#pragma once

// Helpers for tests that run the dttd binary (tests/app).
#include <cstdlib>
#include <fstream>
#include <string>

#include <unistd.h>

namespace dtt::test {

/// The dttd under test: DTT_TEST_DAEMON overrides the one built here (to run an attack against
/// another build, e.g. the code before a fix).
inline std::string daemon_path() {
  const char* p = std::getenv("DTT_TEST_DAEMON");
  return p != nullptr ? p : DTT_DAEMON_PATH;
}

/// A temporary directory removed (with its files) at the end of the test.
struct temp_dir {
  std::string path;
  temp_dir() {
    char tmpl[] = "/tmp/dtt-test-XXXXXX";
    path = ::mkdtemp(tmpl) != nullptr ? tmpl : "";
  }
  ~temp_dir() {
    if (!path.empty())
      std::system(("rm -rf '" + path + "'").c_str());
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  /// Writes `text` to `name` in the directory and returns its path.
  std::string write(const std::string& name, const std::string& text) const {
    auto p = path + "/" + name;
    std::ofstream(p) << text;
    return p;
  }
};

} // namespace dtt::test
