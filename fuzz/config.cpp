// Fuzz target: the strict configuration validator (config/validate.hpp) with dttd's real option
// list (config/daemon_options.hpp), the check dttd runs on its INI file before CAF reads it.
//
// Input: the INI text.
// Checked besides "no crash, no sanitizer report, no exception":
// - a refusal is errc::invalid_argument with one line "fuzz.ini:<n>: <key>: <what>", n a line
//   of the input, in printable ASCII (hostile bytes are escaped);
// - a refusal for a secret key (dttd.secret) does not repeat the value given for it (the issue:
//   secrets masked in every dump and log);
// - a trailing newline changes nothing;
// - check_host_port, on the input's first line, accepts only "host:port" / "[v6]:port" with a
//   port of 1..65535 written in at most 5 digits.
#include "check.hpp"
#include "config/daemon_options.hpp"
#include "config/validate.hpp"

#include <cstdint>
#include <string>
#include <string_view>

using namespace dtt;
using dtt::fuzz::require;

namespace {

constexpr const char* target = "fuzz_config";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

std::string_view line_of(std::string_view text, size_t n) {
  size_t pos = 0;
  for (size_t i = 1; i < n; ++i) {
    auto nl = text.find('\n', pos);
    if (nl == std::string_view::npos)
      return {};
    pos = nl + 1;
  }
  auto nl = text.find('\n', pos);
  return text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
}

bool is_secret_key(std::string_view key) {
  for (auto& s : daemon_option_specs())
    if (s.secret && s.key == key)
      return true;
  return false;
}

void check_refusal(std::string_view text, const error& e) {
  require(e.code == errc::invalid_argument, target, "a refusal that is not invalid_argument");
  const std::string& m = e.what;
  for (char c : m)
    require(c >= 0x20 && c < 0x7f, target, "a refusal line with a raw control or non-ASCII byte");
  const std::string prefix = "fuzz.ini:";
  require(m.compare(0, prefix.size(), prefix) == 0, target, "a refusal without file name");
  size_t p = prefix.size(), n = 0, digits = 0;
  while (p < m.size() && m[p] >= '0' && m[p] <= '9' && digits < 10) {
    n = n * 10 + static_cast<size_t>(m[p++] - '0');
    ++digits;
  }
  require(digits > 0 && p + 1 < m.size() && m[p] == ':' && m[p + 1] == ' ', target,
          "a refusal without \"file:line: \"");
  size_t lines = 1;
  for (char c : text)
    lines += c == '\n';
  require(n >= 1 && n <= lines, target, "a refusal names a line that is not in the input");
  auto key_end = m.find(": ", p + 2);
  require(key_end != std::string::npos, target, "a refusal without \"key: what\"");
  auto key = std::string_view(m).substr(p + 2, key_end - p - 2);
  if (is_secret_key(key)) {
    // The raw value of that line (before any ';' comment); only a value of some length can be
    // told apart from the words of the message.
    auto l = line_of(text, n);
    auto eq = l.find('=');
    if (eq != std::string_view::npos) {
      auto v = l.substr(eq + 1);
      v = trim(v.substr(0, v.find(';')));
      bool printable = true;
      for (char c : v)
        printable = printable && c >= 0x21 && c < 0x7f && c != '"' && c != '\\';
      if (printable && v.size() >= 6 && m.find(v) != std::string::npos) {
        // The value may spell words of the message itself ("secret="): it leaks only if the
        // message for another value of the same length does not hold it.
        std::string other(text);
        other.replace(static_cast<size_t>(v.data() - text.data()), v.size(), v.size(), 'Q');
        auto st = validate_daemon_config(other, "fuzz.ini");
        require(!st && st.err().what.find(v) != std::string::npos, target,
                "a refusal line repeats the value of a secret key");
      }
    }
  }
}

void check_host_port_line(std::string_view text) {
  auto s = text.substr(0, text.find('\n'));
  if (!check_host_port(s).empty())
    return;
  auto colon = s.rfind(':');
  require(colon != std::string_view::npos && colon > 0, target, "host:port without a colon");
  auto port = s.substr(colon + 1);
  require(!port.empty() && port.size() <= 5, target, "a port of 0 or more than 5 characters");
  uint32_t v = 0;
  for (char c : port) {
    require(c >= '0' && c <= '9', target, "a port with a non-digit");
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  require(v >= 1 && v <= 65535, target, "a port out of 1..65535");
  if (s[0] == '[')
    require(colon >= 2 && s[colon - 1] == ']', target, "a bracketed host without its ]");
  else
    require(s.substr(0, colon).find(':') == std::string_view::npos, target,
            "an unbracketed host with a colon");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto st = validate_daemon_config(text, "fuzz.ini");
  if (!st)
    check_refusal(text, st.err());
  std::string more(text);
  more += '\n';
  auto st2 = validate_daemon_config(more, "fuzz.ini");
  require(st.ok() == st2.ok(), target, "a trailing newline changes the verdict");
  check_host_port_line(text);
  return 0;
}
