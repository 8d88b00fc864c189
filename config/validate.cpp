#include "config/validate.hpp"

#include "crypto/log.hpp"

#include <fmt/core.h>

#include <arpa/inet.h>

#include <algorithm>

#include <map>
#include <optional>

namespace dtt {

namespace {

constexpr auto npos = std::string_view::npos;

/// Lines a multi-line list may span (dtt's choice; bounds the work on a hostile file).
constexpr size_t max_list_lines = 1000;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
// CAF's key and section-segment characters (caf/detail/parser/read_ini.hpp).
bool is_name_char(char c) { return is_alnum(c) || c == '_' || c == '-'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && is_space(s.back()))
    s.remove_suffix(1);
  return s;
}

/// The text for a message: at most 64 bytes, control and non-ASCII bytes as \xNN.
std::string shown(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < 64; ++i) {
    auto u = static_cast<unsigned char>(s[i]);
    if (u < 0x20 || u >= 0x7f)
      out += fmt::format("\\x{:02x}", u);
    else
      out += s[i];
  }
  if (s.size() > 64)
    out += "...";
  return out;
}

/// Index just past the closing quote of the string that starts at s[0] == '"', or npos.
size_t end_of_quoted(std::string_view s) {
  for (size_t i = 1; i < s.size(); ++i) {
    if (s[i] == '\\')
      ++i;
    else if (s[i] == '"')
      return i + 1;
  }
  return npos;
}

/// Calls f(i) for each index of `s` outside double-quoted strings until f returns false.
template <class F>
void for_each_unquoted(std::string_view s, F f) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '"') {
      auto end = end_of_quoted(s.substr(i));
      if (end == npos)
        return;
      i += end - 1;
    } else if (!f(i)) {
      return;
    }
  }
}

/// Drops a ';' comment that is not inside a quoted string.
std::string_view strip_comment(std::string_view s) {
  size_t cut = s.size();
  for_each_unquoted(s, [&](size_t i) {
    cut = s[i] == ';' ? i : cut;
    return s[i] != ';';
  });
  return s.substr(0, cut);
}

/// '[' minus ']' outside quoted strings.
int bracket_balance(std::string_view s) {
  int depth = 0;
  for_each_unquoted(s, [&](size_t i) {
    depth += s[i] == '[' ? 1 : s[i] == ']' ? -1 : 0;
    return true;
  });
  return depth;
}

/// True when `s` is one or more dot-separated CAF names.
bool is_dotted_name(std::string_view s) {
  if (s.empty())
    return false;
  size_t seg = 0;
  for (char c : s) {
    if (c == '.') {
      if (seg == 0)
        return false;
      seg = 0;
    } else if (is_name_char(c) && (seg > 0 || c != '-')) {
      ++seg;
    } else {
      return false;
    }
  }
  return seg > 0;
}

/// A decimal integer with an optional sign; nullopt if malformed, `overflow` set if it does
/// not fit in int64.
std::optional<int64_t> parse_int(std::string_view s, bool& overflow) {
  overflow = false;
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty())
    return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (!is_digit(c))
      return std::nullopt;
    if (v > (uint64_t{1} << 63) / 10) {
      overflow = true;
      continue;
    }
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (overflow || v > (uint64_t{1} << 63) - (neg ? 0 : 1)) {
    overflow = true;
    return neg ? std::numeric_limits<int64_t>::min() : std::numeric_limits<int64_t>::max();
  }
  return neg ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
}

std::string check_quoted(std::string_view key_name, std::string_view v) {
  if (!v.empty() && v[0] == '"' && end_of_quoted(v) == v.size())
    return {};
  if (!v.empty() && v[0] == '"')
    return "string without its closing quote";
  return fmt::format("must be a quoted string: {}=\"{}\"", key_name, shown(v));
}

std::string check_duration(std::string_view v) {
  size_t digits = 0;
  while (digits < v.size() && is_digit(v[digits]))
    ++digits;
  if (!v.empty() && v[0] == '-')
    return fmt::format("{} must not be negative", shown(v));
  if (digits == 0)
    return fmt::format("{} is not a duration (e.g. 500ms, 10s, 2min)", shown(v));
  auto unit = v.substr(digits);
  if (unit.empty())
    return fmt::format("{} has no unit (write e.g. {}s; units: ns, us, ms, s, min, h)", shown(v),
                       shown(v));
  // Nanoseconds per unit (CAF's timespan units, caf/detail/parser/read_timespan.hpp).
  static constexpr std::pair<std::string_view, int64_t> units[] = {
    {"ns", 1}, {"us", 1000}, {"ms", 1000000}, {"s", 1000000000}, {"min", 60000000000},
    {"h", 3600000000000}};
  for (auto& [name, ns] : units) {
    if (unit != name)
      continue;
    bool overflow = false;
    auto n = parse_int(v.substr(0, digits), overflow);
    if (!n || overflow || *n > std::numeric_limits<int64_t>::max() / ns)
      return fmt::format("{} is too long", shown(v));
    return {};
  }
  return fmt::format("{}: unknown unit (units: ns, us, ms, s, min, h)", shown(v));
}

/// The items of a list of quoted strings (still quoted), or an error message.
std::string split_list(std::string_view v, std::vector<std::string_view>& items) {
  if (v.empty() || v[0] != '[')
    return fmt::format("must be a list: [\"a\", \"b\"], not {}", shown(v));
  v.remove_prefix(1);
  for (;;) {
    v = trim(v);
    if (!v.empty() && v[0] == ']') {
      if (!trim(v.substr(1)).empty())
        return fmt::format("unexpected {} after the list", shown(trim(v.substr(1))));
      return {};
    }
    if (v.empty() || v[0] != '"')
      return fmt::format("list items must be quoted strings, not {}", shown(v));
    auto end = end_of_quoted(v);
    if (end == npos)
      return "string without its closing quote";
    items.push_back(v.substr(0, end));
    v = trim(v.substr(end));
    if (!v.empty() && v[0] == ',')
      v.remove_prefix(1);
    else if (v.empty() || v[0] != ']')
      return "list items must be separated by commas";
  }
}

std::string check_value(const option_spec& spec, std::string_view key_name,
                        std::string_view v) {
  if (v.empty())
    return "has no value";
  switch (spec.kind) {
    case option_kind::string:
      // The hint `key="value"` would put a secret in the error line, i.e. in the logs.
      if (spec.secret && v[0] != '"')
        return fmt::format("must be a quoted string: {}=\"...\" (the value of a secret is not "
                           "shown)",
                           key_name);
      return check_quoted(key_name, v);
    case option_kind::log_level: {
      if (auto e = check_quoted(key_name, v); !e.empty())
        return e;
      auto inner = v.substr(1, v.size() - 2);
      if (!log::parse_level(inner))
        return fmt::format("\"{}\" is not a log level (debug, info, warn, error, off)",
                           shown(inner));
      return {};
    }
    case option_kind::port_mapping: {
      if (auto e = check_quoted(key_name, v); !e.empty())
        return e;
      auto inner = v.substr(1, v.size() - 2);
      if (inner != "auto" && inner != "upnp" && inner != "natpmp" && inner != "pcp"
          && inner != "off")
        return fmt::format("\"{}\" is not a port-mapping mode (auto, upnp, natpmp, pcp, off)",
                           shown(inner));
      return {};
    }
    case option_kind::boolean:
      if (v == "true" || v == "false")
        return {};
      return fmt::format("expected true or false, not {}", shown(v));
    case option_kind::integer: {
      bool overflow = false;
      auto n = parse_int(v, overflow);
      if (!n)
        return fmt::format("{} is not an integer", shown(v));
      if (overflow || *n < spec.min || *n > spec.max)
        return fmt::format("{} is out of range ({}..{})", shown(v), spec.min, spec.max);
      return {};
    }
    case option_kind::duration:
      return check_duration(v);
    case option_kind::ipv6_address: {
      if (auto e = check_quoted(key_name, v); !e.empty())
        return e;
      std::string inner(v.substr(1, v.size() - 2));
      if (inner.empty())
        return {}; // none
      unsigned char a[16];
      if (inner.find('\0') != std::string::npos || inet_pton(AF_INET6, inner.c_str(), a) != 1)
        return fmt::format("\"{}\" is not a numeric IPv6 address (e.g. \"::\" or \"::1\")",
                           shown(inner));
      static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
      if (std::equal(mapped, mapped + 12, a))
        return fmt::format("\"{}\" is an IPv4-mapped address (set bind for IPv4)", shown(inner));
      return {};
    }
    case option_kind::string_list:
    case option_kind::host_port_list: {
      std::vector<std::string_view> items;
      if (auto e = split_list(v, items); !e.empty())
        return e;
      if (spec.kind == option_kind::string_list)
        return {};
      if (items.empty())
        return "empty list (leave the key out for the default)";
      for (auto item : items) {
        auto inner = item.substr(1, item.size() - 2);
        if (auto e = check_host_port(inner); !e.empty())
          return fmt::format("\"{}\" {}", shown(inner), e);
      }
      return {};
    }
  }
  return "unsupported option kind";
}

/// "bind, port, ..." : the keys directly under `section`.
std::string keys_of(std::string_view section, const std::vector<option_spec>& specs) {
  std::string out;
  for (auto& s : specs) {
    std::string_view k = s.key;
    if (k.size() <= section.size() + 1 || k.substr(0, section.size()) != section
        || k[section.size()] != '.')
      continue;
    auto rest = k.substr(section.size() + 1);
    if (rest.find('.') != npos)
      continue;
    out += (out.empty() ? "" : ", ") + std::string(rest);
  }
  return out;
}

/// "[dtt], [dtt.bootstrap], ...": every section that holds a declared key.
std::string sections_of(const std::vector<option_spec>& specs) {
  std::vector<std::string> names;
  for (auto& s : specs) {
    auto dot = s.key.rfind('.');
    if (dot == std::string::npos)
      continue;
    auto name = "[" + s.key.substr(0, dot) + "]";
    bool seen = false;
    for (auto& n : names)
      seen = seen || n == name;
    if (!seen)
      names.push_back(name);
  }
  std::string out;
  for (auto& n : names)
    out += (out.empty() ? "" : ", ") + n;
  return out;
}

} // namespace

bool is_dtt_section(std::string_view s) noexcept {
  for (std::string_view root : {"dtt", "dttd"})
    if (s == root || (s.size() > root.size() && s.substr(0, root.size()) == root
                      && s[root.size()] == '.'))
      return true;
  return false;
}

std::string check_host_port(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text[0] == '[') {
    auto close = text.find("]:");
    if (close == npos)
      return "is not [ipv6]:port";
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    if (host.empty())
      return "has an empty host";
    for (char c : host)
      if (!(is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':'
            || c == '.'))
        return "is not an IPv6 address in brackets";
  } else {
    auto colon = text.rfind(':');
    if (colon == npos)
      return "is not host:port";
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.empty())
      return "has an empty host";
    if (host.find(':') != npos)
      return "an IPv6 address needs brackets: [addr]:port";
    if (host.size() > 253) // DNS names (RFC 1035)
      return "has a host name over 253 characters";
    for (char c : host)
      if (!(is_alnum(c) || c == '.' || c == '-'))
        return "has a host that is neither a name nor an address";
  }
  bool overflow = false;
  auto p = port.size() <= 5 && !port.empty() && is_digit(port[0]) ? parse_int(port, overflow)
                                                                   : std::nullopt;
  if (!p)
    return fmt::format("port \"{}\" is not a number", shown(port));
  if (*p < 1 || *p > 65535)
    return fmt::format("port {} is out of range (1..65535)", *p);
  return {};
}

status validate_ini(std::string_view text, std::string_view file_name,
                    const std::vector<option_spec>& specs) {
  auto fail = [&](size_t line, std::string_view key, const std::string& what) -> status {
    return error{errc::invalid_argument,
                 fmt::format("{}:{}: {}: {}", shown(file_name), line, key, what)};
  };
  if (text.size() > max_config_file_size)
    return fail(0, "file", fmt::format("larger than {} bytes", max_config_file_size));
  std::vector<std::string_view> lines;
  for (size_t pos = 0; pos <= text.size();) {
    auto nl = text.find('\n', pos);
    if (nl == npos)
      nl = text.size();
    lines.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  std::string section; // "" before the first header (CAF's "global")
  std::map<std::string, size_t, std::less<>> sections_seen;
  std::map<std::string, size_t, std::less<>> keys_seen;
  for (size_t i = 0; i < lines.size(); ++i) {
    size_t line_no = i + 1;
    auto l = trim(strip_comment(lines[i]));
    if (l.empty())
      continue;
    if (l[0] == '[') {
      if (l.back() != ']')
        return fail(line_no, "[" + shown(l.substr(1)), "section header without its ]");
      auto name = trim(l.substr(1, l.size() - 2));
      auto label = "[" + shown(name) + "]";
      if (!is_dotted_name(name))
        return fail(line_no, label, "malformed section name");
      if (auto it = sections_seen.find(name); it != sections_seen.end())
        return fail(line_no, label,
                    fmt::format("section repeated (first on line {}); write its keys in one "
                                "section",
                                it->second));
      sections_seen.emplace(std::string(name), line_no);
      section = std::string(name);
      if (is_dtt_section(section) && keys_of(section, specs).empty())
        return fail(line_no, label,
                    fmt::format("unknown section (dtt's sections: {})", sections_of(specs)));
      continue;
    }
    auto eq = l.find('=');
    bool dtt = is_dtt_section(section);
    if (eq == npos) {
      if (dtt)
        return fail(line_no, shown(l), "expected key=value or [section]");
      continue; // another owner's syntax (e.g. a CAF map); CAF checks it
    }
    auto key = trim(l.substr(0, eq));
    std::string value(trim(l.substr(eq + 1)));
    // A list may span lines (CAF's INI lists do).
    if (!value.empty() && value[0] == '[') {
      int depth = bracket_balance(value);
      size_t first = i;
      while (depth > 0 && i + 1 < lines.size() && i - first < max_list_lines) {
        auto more = trim(strip_comment(lines[++i]));
        value += ' ';
        value += more;
        depth += bracket_balance(more);
      }
      if (depth > 0 && dtt)
        return fail(line_no, shown(key), "list without its closing ]");
    }
    if (!dtt)
      continue;
    std::string full = section + "." + std::string(key);
    if (key.empty() || !is_dotted_name(key) || key.find('.') != npos)
      return fail(line_no, shown(full), "malformed key name");
    const option_spec* spec = nullptr;
    for (auto& s : specs)
      if (s.key == full)
        spec = &s;
    if (spec == nullptr)
      return fail(line_no, shown(full),
                  fmt::format("unknown key (keys of [{}]: {})", section, keys_of(section, specs)));
    if (auto it = keys_seen.find(full); it != keys_seen.end())
      return fail(line_no, full, fmt::format("set twice (first on line {})", it->second));
    keys_seen.emplace(full, line_no);
    if (auto what = check_value(*spec, key, value); !what.empty())
      return fail(line_no, full, what);
  }
  return ok_status();
}

} // namespace dtt
