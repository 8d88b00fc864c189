// Fuzz target: dttd's HTTP request reading (app/dttd/http_server.hpp parse_request: Beast's
// parser under the server's limits, then the server's own checks), i.e. what any client that
// can reach the HTTP port makes of its bytes before a handler runs.
//
// Input: one control byte, then the bytes a client sends. Control bit 0 sets a bearer token
// ("t0k3n-xyz"), bits 1-2 pick smaller limits (so that the limits themselves are reached), bit 3
// makes "/" a public path (GET without the token).
// Checked besides "no crash, no sanitizer report":
// - the parser never reports more bytes used than it was given;
// - an accepted request has a body within max_body, a method and a target, and used at most
//   max_header_bytes + max_body bytes;
// - with a token set, a request is accepted only if its bytes carry "Bearer <token>" or, on a
//   WebSocket upgrade, "dtt.bearer.<hex of the token>", or it is a GET of a public path;
//   without one, nothing is refused with 401;
// - a refusal is a 4xx with a body;
// - parsing is deterministic, and an accepted request parses the same from its first
//   `consumed` bytes alone (nothing after a request changes it).
#include "app/dttd/http_server.hpp"
#include "check.hpp"

#include <cstdint>
#include <string>
#include <string_view>

using namespace dtt;
using dtt::fuzz::require;

namespace {

constexpr const char* target = "fuzz_http_request";
constexpr std::string_view token = "t0k3n-xyz";
constexpr std::string_view token_item = "dtt.bearer.74306b336e2d78797a"; // hex of the token

bool same(const http::parsed_request& a, const http::parsed_request& b) {
  return a.what == b.what && a.consumed == b.consumed && a.upgrade == b.upgrade &&
         a.keep_alive == b.keep_alive && a.req.method == b.req.method &&
         a.req.target == b.req.target && a.req.body == b.req.body &&
         a.req.content_type == b.req.content_type && a.refusal.status == b.refusal.status;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0)
    return 0;
  const uint8_t ctl = data[0];
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  http::server_options o;
  if (ctl & 1)
    o.token = std::string(token);
  if (ctl & 2) {
    o.max_body = 64;
    o.max_header_count = 4;
  }
  if (ctl & 4)
    o.max_header_bytes = 256;
  if (ctl & 8)
    o.public_paths = {"/"};

  auto p = http::parse_request(in, o);
  require(p.consumed <= in.size(), target, "the parser used more bytes than it was given");
  using outcome = http::parsed_request::outcome;
  if (p.what == outcome::refused) {
    require(p.refusal.status >= 400 && p.refusal.status < 500, target, "a refusal that is not 4xx");
    require(!p.refusal.body.empty(), target, "a refusal without a body");
    require(p.refusal.status != 401 || !o.token.empty(), target, "401 without a token set");
  } else if (p.what == outcome::accepted) {
    require(p.req.body.size() <= o.max_body, target, "a body over max_body accepted");
    require(!p.req.method.empty() && !p.req.target.empty(), target,
            "an accepted request without method or target");
    require(p.consumed <= o.max_header_bytes + o.max_body, target,
            "an accepted request larger than the header and body limits");
    if (!o.token.empty()) {
      auto bytes = in.substr(0, p.consumed);
      bool bearer = bytes.find(std::string("Bearer ") + std::string(token)) != bytes.npos;
      bool item = p.upgrade && bytes.find(token_item) != bytes.npos;
      bool public_get = !o.public_paths.empty() && p.req.method == "GET" && p.req.target == "/";
      require(bearer || item || public_get, target, "a request without the token accepted");
    }
    auto again = http::parse_request(in.substr(0, p.consumed), o);
    require(same(p, again), target, "a request parses differently from its own bytes alone");
  }
  require(same(p, http::parse_request(in, o)), target, "parsing is not deterministic");
  return 0;
}
