// dttd's HTTP server (app/dttd/http_server.hpp) on its own io_context: well-formed requests are
// answered, malformed, oversized and slow ones get a 4xx or are cut off and harm nothing (the
// next client is served), the connection bound holds, and a token is checked.
#include "app/dttd/http_server.hpp"

#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/executor_work_guard.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
namespace http = dtt::http;

// A server with a trivial handler on its own io thread, stopped at the end of the test.
struct fixture {
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{
    boost::asio::make_work_guard(io)};
  std::unique_ptr<http::server> srv;
  std::thread thread;

  explicit fixture(http::server_options o = {}, http::handlers h = {}) {
    if (!h.on_request)
      h.on_request = [](http::request r, http::responder reply) {
        http::response resp;
        resp.body = r.method + " " + r.target + " " + std::to_string(r.body.size());
        reply(std::move(resp));
      };
    auto s = http::server::start(io, std::move(o), std::move(h));
    REQUIRE(s.ok());
    srv = std::move(*s);
    thread = std::thread([this] { io.run(); });
  }
  ~fixture() {
    srv->stop();
    work.reset();
    io.stop();
    thread.join();
  }
  uint16_t port() const { return srv->local_address().port; }
};

// A blocking client socket with a receive deadline.
struct client {
  int fd = -1;
  explicit client(uint16_t port, std::chrono::milliseconds rcv_timeout = 3000ms,
                  int rcvbuf = 0) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf > 0)
      ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    timeval tv{};
    tv.tv_sec = rcv_timeout.count() / 1000;
    tv.tv_usec = (rcv_timeout.count() % 1000) * 1000;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  }
  ~client() { ::close(fd); }
  bool send(const std::string& s) {
    return ::send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size());
  }
  // Reads until the peer closes, the deadline passes or `until` appears.
  std::string read(const std::string& until = "") {
    std::string out;
    char buf[4096];
    for (;;) {
      auto n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0)
        return out;
      out.append(buf, static_cast<size_t>(n));
      if (!until.empty() && out.find(until) != std::string::npos)
        return out;
    }
  }
  // True if the server closed the connection (EOF or reset) within the receive deadline.
  bool closed_by_peer() {
    char c;
    auto n = ::recv(fd, &c, 1, 0);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
  }
};

std::string status_line(const std::string& response) {
  return response.substr(0, response.find("\r\n"));
}

// A well-formed request on a fresh connection gets its answer: the server still works.
void check_still_serving(uint16_t port) {
  client c(port);
  REQUIRE(c.send("GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  auto r = c.read();
  CHECK(status_line(r) == "HTTP/1.1 200 OK");
  CHECK(r.find("GET /ok 0") != std::string::npos);
}

} // namespace

TEST_CASE("http server: answers requests, keeps a connection alive, and reads bodies") {
  fixture f;
  client c(f.port());
  REQUIRE(c.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto r1 = c.read("GET /a 0");
  CHECK(status_line(r1) == "HTTP/1.1 200 OK");
  REQUIRE(c.send("POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"));
  auto r2 = c.read("POST /b 5");
  CHECK(r2.find("POST /b 5") != std::string::npos);
  CHECK(f.srv->stats().requests == 2);
}

TEST_CASE("http server: malformed, oversized and over-counted requests get a 4xx and harm "
          "nothing") {
  http::server_options o;
  o.max_body = 1024;
  fixture f(o);
  struct attempt {
    std::string request;
    std::string status;
  };
  std::vector<attempt> attempts{
    {"garbage\r\n\r\n", "HTTP/1.1 400 Bad Request"},
    {"GET / HTTP/9.9\r\n\r\n", "HTTP/1.1 400 Bad Request"},
    {"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -4\r\n\r\n", "HTTP/1.1 400 Bad Request"},
    {"GET / HTTP/1.1\r\nBad Header\r\n\r\n", "HTTP/1.1 400 Bad Request"},
    {"GET / HTTP/1.1\r\nX: " + std::string(9000, 'a') + "\r\n\r\n",
     "HTTP/1.1 431 Request Header Fields Too Large"},
    {"POST / HTTP/1.1\r\nContent-Length: 1000000000\r\n\r\n", "HTTP/1.1 413 Payload Too Large"},
    {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n" + std::string(2048, 'a')
       + "\r\n0\r\n\r\n",
     "HTTP/1.1 413 Payload Too Large"},
  };
  // A request line and header fields each under the 8 KiB limit, together over it, in one
  // write (Boost 1.74's parser checks the two apart when they come in one buffer).
  attempts.push_back({"GET /" + std::string(5000, 'p') + " HTTP/1.1\r\nX: " + std::string(5000, 'a')
                        + "\r\n\r\n",
                      "HTTP/1.1 431 Request Header Fields Too Large"});
  std::string many = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 65; ++i)
    many += "X-" + std::to_string(i) + ": 1\r\n";
  attempts.push_back({many + "\r\n", "HTTP/1.1 431 Request Header Fields Too Large"});
  for (auto& a : attempts) {
    CAPTURE(a.request.substr(0, 60));
    client c(f.port());
    c.send(a.request);
    auto r = c.read();
    CHECK(status_line(r) == a.status);
    CHECK(r.find("GET / ") == std::string::npos); // the handler never saw it
  }
  CHECK(f.srv->stats().bad_requests == attempts.size());
  check_still_serving(f.port());
}

TEST_CASE("http server: a slow client (slowloris) is cut off at the request deadline while "
          "others are served") {
  http::server_options o;
  o.request_timeout = 400ms;
  fixture f(o);
  client slow(f.port());
  auto start = std::chrono::steady_clock::now();
  bool cut = false;
  for (int i = 0; i < 40 && !cut; ++i) { // one header byte every 100 ms: never a full request
    if (i == 2)
      check_still_serving(f.port());
    cut = !slow.send(i == 0 ? "GET / HTTP/1.1\r\n" : "X");
    std::this_thread::sleep_for(100ms);
  }
  if (!cut)
    cut = slow.closed_by_peer();
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(cut);
  CHECK(took < 2s);
  CHECK(f.srv->stats().timeouts == 1);
  // An idle connection that sends nothing is closed as well.
  client idle(f.port(), 2000ms);
  CHECK(idle.closed_by_peer());
  check_still_serving(f.port());
}

TEST_CASE("http server: connections over the bound are closed at accept and counted") {
  http::server_options o;
  o.max_connections = 4;
  fixture f(o);
  std::vector<std::unique_ptr<client>> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(std::make_unique<client>(f.port()));
    // A request answered means the session exists (it counts towards the bound).
    REQUIRE(held.back()->send("GET /h HTTP/1.1\r\nHost: x\r\n\r\n"));
    CHECK(held.back()->read("GET /h 0").find("200 OK") != std::string::npos);
  }
  client over(f.port(), 2000ms);
  CHECK(over.closed_by_peer());
  CHECK(f.srv->stats().refused_connections == 1);
  held.clear();
  // The bound frees up once they close.
  auto deadline = std::chrono::steady_clock::now() + 3s;
  while (f.srv->stats().connections > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  check_still_serving(f.port());
}

TEST_CASE("http server: a token is required when set") {
  http::server_options o;
  o.token = "s3cret-token";
  fixture f(o);
  for (std::string auth : {"", "Authorization: Bearer wrong\r\n",
                           "Authorization: Bearer s3cret-tokenX\r\n",
                           "Authorization: Basic s3cret-token\r\n"}) {
    client c(f.port());
    c.send("GET /m HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n");
    auto r = c.read();
    CHECK(status_line(r) == "HTTP/1.1 401 Unauthorized");
    CHECK(r.find("GET /m") == std::string::npos);
  }
  client c(f.port());
  c.send("GET /m HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret-token\r\n\r\n");
  CHECK(status_line(c.read("GET /m 0")) == "HTTP/1.1 200 OK");
  CHECK(f.srv->stats().unauthorized == 4);
  CHECK(http::is_loopback("127.0.0.1"));
  CHECK(http::is_loopback("127.8.9.1"));
  CHECK(http::is_loopback("::1"));
  CHECK_FALSE(http::is_loopback("0.0.0.0"));
  CHECK_FALSE(http::is_loopback("192.0.2.1"));
  CHECK_FALSE(http::is_loopback("not an address"));
}

namespace {
// Reads server WebSocket frames (unmasked) from `c`, `pending` holding bytes read ahead; returns
// the next text message, or "" at EOF or the deadline. Pings and other control frames are
// skipped.
std::string next_ws_text(client& c, std::string& pending) {
  auto fill = [&](size_t want) {
    char buf[65536];
    while (pending.size() < want) {
      auto n = ::recv(c.fd, buf, sizeof buf, 0);
      if (n <= 0)
        return false;
      pending.append(buf, static_cast<size_t>(n));
    }
    return true;
  };
  for (;;) {
    if (!fill(2))
      return "";
    auto b0 = static_cast<uint8_t>(pending[0]), b1 = static_cast<uint8_t>(pending[1]);
    size_t head = 2, len = b1 & 0x7f;
    if (len == 126) {
      if (!fill(4))
        return "";
      len = size_t(uint8_t(pending[2])) << 8 | uint8_t(pending[3]);
      head = 4;
    } else if (len == 127) {
      if (!fill(10))
        return "";
      len = 0;
      for (int i = 0; i < 8; ++i)
        len = len << 8 | uint8_t(pending[2 + i]);
      head = 10;
    }
    if (!fill(head + len))
      return "";
    std::string payload = pending.substr(head, len);
    pending.erase(0, head + len);
    if ((b0 & 0x0f) == 1)
      return payload;
  }
}

// The number after `"key":` in a JSON line.
long long json_number(const std::string& line, const std::string& key) {
  auto at = line.find("\"" + key + "\":");
  return at == std::string::npos ? -1 : std::stoll(line.substr(at + key.size() + 3));
}
} // namespace

TEST_CASE("http server: a WebSocket client that does not read loses messages, each counted, and "
          "is told how many by one lagged line before the next message") {
  http::server_options o;
  o.max_ws_queue = 8;
  o.max_ws_queue_bytes = 64 * 1024;
  std::promise<std::shared_ptr<http::websocket>> opened;
  http::handlers h;
  h.on_upgrade = [](const http::request&) {
    http::response r;
    r.status = 101;
    return r;
  };
  h.on_open = [&](const http::request&, std::shared_ptr<http::websocket> ws) {
    opened.set_value(std::move(ws));
    return std::function<void()>{};
  };
  fixture f(o, h);
  client c(f.port(), 5000ms, 4096); // a small receive buffer: the client reads nothing at first
  REQUIRE(c.send("GET /events HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"));
  std::string pending = c.read("\r\n\r\n");
  REQUIRE(status_line(pending) == "HTTP/1.1 101 Switching Protocols");
  pending.erase(0, pending.find("\r\n\r\n") + 4);
  auto fut = opened.get_future();
  REQUIRE(fut.wait_for(5s) == std::future_status::ready);
  auto ws = fut.get();

  // 16 MiB of 1 KiB messages: more than the kernel's socket buffers (tcp_wmem's 4 MiB maximum
  // on the server's side, 4 KiB on the client's) and the server's 8-message queue hold.
  const std::string pad(1000, 'x');
  long long n = 0, accepted = 0, refused = 0;
  for (; n < 16 * 1024; ++n)
    (ws->send_text("{\"n\":" + std::to_string(n) + ",\"pad\":\"" + pad + "\"}") ? accepted
                                                                               : refused)++;
  CHECK(refused > 0);
  CHECK(f.srv->stats().ws_dropped == static_cast<uint64_t>(refused));

  // Now the client reads; an end marker (numbered on) is offered until the queue takes it, so
  // the drops since the last accepted message are reported too.
  std::atomic<bool> reading_done{false};
  long long received = 0, reported = 0, last = -1, end_at = -1;
  bool gaps_match = true, ordered = true;
  std::thread reader([&] {
    long long lagged_since_last = 0;
    for (;;) {
      auto m = next_ws_text(c, pending);
      if (m.empty())
        break;
      if (m.find("\"event\":\"lagged\"") != std::string::npos) {
        auto d = json_number(m, "dropped");
        reported += d;
        lagged_since_last += d;
        continue;
      }
      auto k = json_number(m, "n");
      ordered = ordered && k > last;
      gaps_match = gaps_match && (k - last - 1 == lagged_since_last);
      lagged_since_last = 0;
      last = k;
      if (m.find("\"end\":true") != std::string::npos) {
        end_at = k;
        break;
      }
      ++received;
    }
    reading_done = true;
  });
  auto deadline = std::chrono::steady_clock::now() + 30s;
  for (;; ++n) {
    bool ok = ws->send_text("{\"n\":" + std::to_string(n) + ",\"end\":true}");
    (ok ? accepted : refused)++;
    if (ok || std::chrono::steady_clock::now() > deadline)
      break;
    std::this_thread::sleep_for(5ms);
  }
  reader.join();
  CHECK(reading_done.load());
  CHECK(end_at == n);                    // the marker came, and nothing after it was lost
  CHECK(received == accepted - 1);       // every accepted message arrived (the marker aside)
  CHECK(reported == refused);            // every dropped one was reported, none twice
  CHECK(ordered);
  CHECK(gaps_match); // each lagged line says exactly how many came between two messages
  CHECK(f.srv->stats().ws_dropped == static_cast<uint64_t>(refused));
}

TEST_CASE("http server: public paths need no token, a WebSocket may carry it as a subprotocol "
          "item, and the events subprotocol is chosen") {
  http::server_options o;
  o.token = "p@ss word";
  o.public_paths = {"/"};
  http::handlers h;
  h.on_upgrade = [](const http::request&) {
    http::response r;
    r.status = 101;
    return r;
  };
  h.on_open = [](const http::request&, std::shared_ptr<http::websocket>) {
    return std::function<void()>{};
  };
  fixture f(o, h);
  auto get = [&](const std::string& head) {
    client c(f.port());
    c.send(head + "\r\n");
    return c.read("\r\n\r\n");
  };
  CHECK(status_line(get("GET / HTTP/1.1\r\nHost: x\r\n")) == "HTTP/1.1 200 OK");
  CHECK(status_line(get("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"))
        == "HTTP/1.1 401 Unauthorized");
  CHECK(status_line(get("GET /?x HTTP/1.1\r\nHost: x\r\n")) == "HTTP/1.1 401 Unauthorized");
  CHECK(status_line(get("GET /status HTTP/1.1\r\nHost: x\r\n")) == "HTTP/1.1 401 Unauthorized");
  const std::string upgrade = "GET /events HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                              "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
  const std::string hex = "7040737320776f7264"; // "p@ss word"
  // Refused: no token, wrong token, upper-case hex, the token not hex-encoded, a bare prefix.
  for (std::string item : {"", "dtt.bearer.7040737320776f7265", "dtt.bearer.7040737320776F7264",
                           "dtt.bearer.p@ss word", "dtt.bearer."}) {
    auto head = upgrade;
    if (!item.empty())
      head += "Sec-WebSocket-Protocol: dtt.events, " + item + "\r\n";
    CHECK(status_line(get(head)) == "HTTP/1.1 401 Unauthorized");
  }
  auto ok = get(upgrade + "Sec-WebSocket-Protocol: dtt.events,dtt.bearer." + hex + "\r\n");
  CHECK(status_line(ok) == "HTTP/1.1 101 Switching Protocols");
  CHECK(ok.find("Sec-WebSocket-Protocol: dtt.events\r\n") != std::string::npos);
  CHECK(ok.find(hex, ok.find("\r\n")) == std::string::npos); // the token is not echoed
  // The bearer header works for an upgrade too; no subprotocol offered, none chosen.
  auto plain_ws = get(upgrade + "Authorization: Bearer p@ss word\r\n");
  CHECK(status_line(plain_ws) == "HTTP/1.1 101 Switching Protocols");
  CHECK(plain_ws.find("Sec-WebSocket-Protocol") == std::string::npos);
  CHECK(f.srv->stats().unauthorized == 8);
}
