// Issue 11, finding 2: a 12-byte broadcast that was not valid UTF-8 aborted every receiving
// dttd (nlohmann::json type_error 316 when writing the event). A library node on a loopback
// DHT testnet broadcasts every byte value, all 256 values in one message and invalid UTF-8
// sequences to a real dttd, which must survive and print each message exactly: `content` when
// the bytes are UTF-8, `content_b64` otherwise.
#include "actors/runtime.hpp"
#include "app/daemon.hpp"
#include "dht/subprocess.hpp"
#include "crypto/text.hpp"
#include "dht/testnet.hpp"
#include "messages/types.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <map>
#include <thread>

using namespace dtt;
using namespace std::chrono_literals;

namespace {

bytes of(std::initializer_list<int> v) {
  bytes b;
  for (int x : v)
    b.push_back(static_cast<uint8_t>(x));
  return b;
}

std::vector<bytes> hostile_messages() {
  std::vector<bytes> m;
  for (int i = 0; i < 256; ++i)
    m.push_back(of({i}));
  bytes all;
  for (int i = 0; i < 256; ++i)
    all.push_back(static_cast<uint8_t>(i));
  m.push_back(all);
  // Invalid UTF-8: overlong forms, surrogates, beyond U+10FFFF, truncated, stray bytes.
  for (auto s : {of({0xc0, 0x80}), of({0xc1, 0xbf, 0x41}), of({0xe0, 0x80, 0xaf}),
                 of({0xf0, 0x80, 0x80, 0xaf}), of({0xed, 0xa0, 0x80}), of({0xed, 0xbf, 0xbf}),
                 of({0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80}), of({0xf4, 0x90, 0x80, 0x80}),
                 of({0xe2, 0x82}), of({0x68, 0x69, 0xf0, 0x9f, 0x98}), of({0xff, 0xfe, 0xfd}),
                 of({0x80, 0x80}), of({0xc3, 0x28}), of({0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x20, 0xff,
                                                       0xfe, 0x77, 0x6f, 0x72, 0x6c})})
    m.push_back(s);
  // Valid UTF-8 with JSON's special characters: must come back as `content`.
  for (std::string s : {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "quote\" back\\slash\n\t",
                        "\xf4\x8f\xbf\xbf"})
    m.push_back(bytes(s.begin(), s.end()));
  return m;
}

} // namespace

TEST_CASE("dttd survives every byte value and invalid UTF-8 and prints each message exactly") {
  dht::testnet_options tno;
  tno.nodes = 8;
  dht::testnet net{tno};
  REQUIRE(net.start());

  test::temp_dir dir;
  std::string boot;
  for (auto& b : net.bootstrap())
    boot += (boot.empty() ? "\"" : ", \"") + b + "\"";
  auto ini = dir.write("dttd.ini", "[dttd]\ntopic=\"hostile-bytes\"\nsecret=\"s3cret\"\n"
                                   "[dttd.dht]\nbind=\"127.0.0.1\"\nbootstrap=["
                                     + boot + "]\n[dttd.gossip]\nbind=\"127.0.0.1\"\n");
  // DTT_LOG=warn: stderr (inherited) shows only what went wrong.
  test::subprocess d({"/usr/bin/env", "DTT_LOG=warn", test::daemon_path(), "--config-file=" + ini},
                     false);
  auto deadline = std::chrono::steady_clock::now() + 60s;
  auto next_line = [&] {
    return d.read_line(std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now()));
  };
  auto started = next_line();
  REQUIRE(started);
  REQUIRE(started->find("\"event\":\"started\"") != std::string::npos);

  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", 2);
  register_types(cfg);
  caf::actor_system sys{cfg};
  auto rt = start_runtime(sys, crypto::signing_key::generate(),
                           runtime_options::loopback(net.bootstrap()));
  REQUIRE(rt);
  config tc;
  tc.join_timeout = 45s;
  auto t = std::make_unique<topic>((*rt)->internal().node->join_no_wait("hostile-bytes",
                                                               byte_view::of("s3cret"), tc));
  REQUIRE(t->joined(45s));
  // dttd sees the link too before anything is sent (gossip keeps no history).
  bool dttd_up = false;
  while (!dttd_up) {
    auto line = next_line();
    REQUIRE(line);
    dttd_up = line->find("\"event\":\"neighbor_up\"") != std::string::npos;
  }

  auto messages = hostile_messages();
  std::map<bytes, int> expected;
  for (auto& m : messages) {
    ++expected[m];
    auto st = t->broadcast(m);
    for (int i = 0; !st && st.err().code == errc::busy && i < 500; ++i) {
      std::this_thread::sleep_for(10ms);
      st = t->broadcast(m);
    }
    REQUIRE(st);
  }
  REQUIRE(expected.size() == messages.size()); // every message distinct

  std::map<bytes, int> got;
  size_t received = 0, wrong_field = 0;
  while (received < messages.size()) {
    auto line = next_line();
    if (!line)
      break;
    auto j = nlohmann::json::parse(*line, nullptr, false);
    REQUIRE_FALSE(j.is_discarded());
    if (j.value("event", "") != "received")
      continue;
    ++received;
    bytes content;
    if (j.contains("content")) {
      auto s = j["content"].get<std::string>();
      content.assign(s.begin(), s.end());
      wrong_field += is_utf8(byte_view(content)) && !j.contains("content_b64") ? 0 : 1;
    } else {
      REQUIRE(j.contains("content_b64"));
      auto b = from_base64(j["content_b64"].get<std::string>());
      REQUIRE(b);
      content = *b;
      wrong_field += is_utf8(byte_view(content)) ? 1 : 0;
    }
    ++got[content];
  }
  CHECK(received == messages.size());
  CHECK(got == expected);
  CHECK(wrong_field == 0);
  CHECK(d.alive());
  t.reset();
  rt->reset();
  d.send_signal(SIGTERM);
  auto status = d.stop(10s);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  net.stop();
}
