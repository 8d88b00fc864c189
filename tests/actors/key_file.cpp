// Issue 11, finding 6: dttd created its key file 0644 (the private seed world-readable). The key
// file (actors/key_file.hpp) is created 0600 whatever the umask, atomically, and refused when
// group or others can read it or when it is not a regular file.
#include "actors/key_file.hpp"

#include <doctest/doctest.h>

#include <dirent.h>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

using namespace dtt;

namespace {

struct key_dir {
  std::string path;
  key_dir() {
    char tmpl[] = "/tmp/dtt-key-test-XXXXXX";
    path = ::mkdtemp(tmpl) != nullptr ? tmpl : "";
  }
  ~key_dir() { std::system(("rm -rf '" + path + "'").c_str()); }
  std::string file(const char* name) const { return path + "/" + name; }
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    if (DIR* d = ::opendir(path.c_str())) {
      while (auto* e = ::readdir(d))
        if (std::string(e->d_name) != "." && std::string(e->d_name) != "..")
          out.push_back(e->d_name);
      ::closedir(d);
    }
    return out;
  }
};

mode_t mode_of(const std::string& p) {
  struct stat st {};
  ::stat(p.c_str(), &st);
  return st.st_mode & 07777;
}

// Runs f with the process umask set to m.
template <class F>
auto with_umask(mode_t m, F f) {
  auto old = ::umask(m);
  auto r = f();
  ::umask(old);
  return r;
}

const std::string good_hex = std::string(64, 'a');

void write_file(const std::string& p, const std::string& text, mode_t mode) {
  std::ofstream(p) << text;
  ::chmod(p.c_str(), mode);
}

} // namespace

TEST_CASE("a new key file is 0600 whatever the umask, complete, and alone in its directory") {
  for (mode_t um : {mode_t{0}, mode_t{022}, mode_t{077}, mode_t{0277}}) {
    key_dir d;
    auto p = d.file("node.key");
    auto k = with_umask(um, [&] { return load_or_create_key_file(p); });
    REQUIRE(k);
    CHECK(mode_of(p) == 0600);
    CHECK(d.entries() == std::vector<std::string>{"node.key"}); // no temporary file left
    std::ifstream in(p);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(text == to_hex(k->seed()) + "\n");
    // Loading it again gives the same key.
    auto again = load_or_create_key_file(p);
    REQUIRE(again);
    CHECK(again->seed() == k->seed());
  }
}

TEST_CASE("a key file group or others can access is refused with one clear line") {
  for (mode_t m : {mode_t{0644}, mode_t{0640}, mode_t{0604}, mode_t{0660}, mode_t{0602}}) {
    key_dir d;
    auto p = d.file("node.key");
    write_file(p, good_hex + "\n", m);
    auto k = load_or_create_key_file(p);
    REQUIRE_FALSE(k);
    CHECK(k.err().code == errc::refused);
    CHECK(k.err().what.rfind("UNPROTECTED KEY FILE: " + p + " has mode 0", 0) == 0);
    CHECK(k.err().what.find("chmod 600 " + p) != std::string::npos);
    CHECK(k.err().what.find('\n') == std::string::npos);
    CHECK(mode_of(p) == m); // left as it was
  }
  key_dir d;
  write_file(d.file("ro.key"), good_hex, 0400);
  CHECK(load_or_create_key_file(d.file("ro.key")));
}

TEST_CASE("a key path that is not a regular file is refused") {
  key_dir d;
  write_file(d.file("real.key"), good_hex, 0600);
  REQUIRE(::symlink(d.file("real.key").c_str(), d.file("link.key").c_str()) == 0);
  auto link = load_or_create_key_file(d.file("link.key"));
  REQUIRE_FALSE(link);
  CHECK(link.err().what.find("symbolic link") != std::string::npos);
  REQUIRE(::mkdir(d.file("dir.key").c_str(), 0700) == 0);
  auto dir = load_or_create_key_file(d.file("dir.key"));
  REQUIRE_FALSE(dir);
  CHECK(dir.err().what == "key file " + d.file("dir.key") + " is a directory");
  REQUIRE(::mkfifo(d.file("fifo.key").c_str(), 0600) == 0);
  auto fifo = load_or_create_key_file(d.file("fifo.key")); // must not block
  REQUIRE_FALSE(fifo);
  CHECK(fifo.err().what.find("is a FIFO") != std::string::npos);
}

TEST_CASE("a key file without exactly 64 hex digits is refused") {
  for (std::string bad : {std::string{}, std::string(63, 'a'), std::string(65, 'a'),
                          std::string(62, 'a') + "zz", good_hex + " " + good_hex,
                          std::string(10000, 'a'), std::string("\0", 1) + good_hex}) {
    key_dir d;
    write_file(d.file("k"), bad, 0600);
    auto k = load_or_create_key_file(d.file("k"));
    REQUIRE_FALSE(k);
    CHECK(k.err().code == errc::malformed);
  }
  key_dir d;
  write_file(d.file("k"), "\n  " + good_hex + "\r\n", 0600);
  CHECK(load_or_create_key_file(d.file("k")));
}

TEST_CASE("a key file that cannot be created is an error, not a key") {
  CHECK_FALSE(load_or_create_key_file("/nonexistent-dir-dtt/node.key"));
  CHECK(load_or_create_key_file("")); // no path: an ephemeral key
}
