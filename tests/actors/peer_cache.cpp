// The peer cache file: sans-IO encode/decode (strict, bounded), merge order, file name and the
// atomic 0600 write.
#include "actors/peer_cache.hpp"
#include "crypto/ed25519.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

using namespace dtt;
using namespace dtt::peer_cache;

namespace {

gossip::endpoint_id id(uint8_t n) {
  bytes32 seed{};
  seed[0] = n;
  seed[3] = 0xc4;
  return crypto::signing_key::from_seed(seed).public_key_bytes();
}

entry e(uint8_t n, int64_t t, std::vector<gossip::socket_address> a = {}) {
  return entry{id(n), std::move(a), t};
}

} // namespace

TEST_CASE("peer cache: encode and decode round-trip, addresses and times kept") {
  std::vector<entry> in{e(1, 1000, {{"127.0.0.1", 4001}, {"::1", 4002}}), e(2, 900),
                        e(3, 800, {{"10.0.0.7", 65535}})};
  auto data = encode(in);
  auto out = decode(data);
  REQUIRE_MESSAGE(out, (out ? "" : out.err().message()));
  CHECK(*out == in);
  auto empty = decode(encode({}));
  REQUIRE(empty);
  CHECK(empty->empty());
}

TEST_CASE("peer cache: the decoder refuses every malformed or oversized input") {
  auto good = encode({e(1, 5, {{"127.0.0.1", 4001}}), e(2, 6)});
  REQUIRE(decode(good));
  // Every truncation fails (and none throws).
  for (size_t n = 0; n < good.size(); ++n)
    CHECK_FALSE(decode(byte_view{good.data(), n}));
  auto trailing = good;
  trailing.push_back(0);
  CHECK(decode(trailing).err().code == errc::length_mismatch);
  auto bad_magic = good;
  bad_magic[0] = 'X';
  CHECK(decode(bad_magic).err().code == errc::malformed);
  // The size limit is checked before anything else.
  CHECK(decode(good, good.size() - 1).err().code == errc::too_large);
  CHECK(decode(bytes(max_file_size + 1, 0)).err().code == errc::too_large);
  // Count over 64.
  auto many = good;
  many[8] = 65;
  many[9] = 0;
  CHECK(decode(many).err().code == errc::too_large);
  // A duplicate peer.
  CHECK_FALSE(decode(encode({e(1, 5), e(1, 4)})));
  // Not an Ed25519 point.
  auto not_point = encode({e(1, 5)});
  std::fill(not_point.begin() + 10, not_point.begin() + 42, 0);
  not_point[10] = 2;
  CHECK(decode(not_point).err().code == errc::bad_key);
  // A time past 2^53.
  auto far = good;
  far[10 + 32 + 7] = 0x01;
  CHECK_FALSE(decode(far));
  // An endpoint record that does not parse.
  auto bad_record = encode({e(1, 5, {{"127.0.0.1", 4001}})});
  bad_record[bad_record.size() - 1] = 'x'; // "127.0.0.1:400x"
  CHECK(decode(bad_record).err().code == errc::malformed);
}

TEST_CASE("peer cache: merge puts neighbours first, keeps old addresses, bounds the list") {
  std::vector<entry> cached{e(1, 100, {{"127.0.0.1", 1}}), e(2, 300), e(3, 200)};
  auto out = merge(cached, {e(1, 0), e(4, 0, {{"127.0.0.1", 4}})}, 500, 3);
  REQUIRE(out.size() == 3);
  CHECK(out[0].id == id(1));
  CHECK(out[0].last_seen == 500);
  CHECK(out[0].addresses == std::vector<gossip::socket_address>{{"127.0.0.1", 1}});
  CHECK(out[1].id == id(4));
  CHECK(out[2].id == id(2)); // the most recently seen of the rest; 3 falls off
  std::vector<entry> big;
  for (int i = 0; i < 100; ++i)
    big.push_back(e(static_cast<uint8_t>(i), i));
  CHECK(merge(big, {}, 1000).size() == max_entries);
  CHECK(decode(encode(merge(big, {}, 1000))));
}

TEST_CASE("peer cache: the file name hides the topic, the file is written atomically with 0600") {
  auto topic = crypto::topic_id::from_name("secret-project-topic");
  auto ish = crypto::initial_secret_hash(byte_view::of("s"));
  auto name = file_name(topic, ish);
  CHECK(name.rfind("peers-", 0) == 0);
  CHECK(name.size() == 6 + 32 + 4);
  CHECK(name.find("secret") == std::string::npos);
  CHECK(name.find(to_hex(byte_view(topic.hash()).sub(0, 4))) == std::string::npos);
  CHECK(name != file_name(topic, crypto::initial_secret_hash(byte_view::of("t"))));

  auto dir = "/tmp/dtt-peer-cache-test-" + std::to_string(::getpid());
  auto path = dir + "/" + name;
  auto data = encode({e(1, 5, {{"127.0.0.1", 4001}})});
  REQUIRE(write_file_atomic(path, data));
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(::stat(dir.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  auto back = read_file(path);
  REQUIRE(back);
  CHECK(*back == data);
  CHECK(read_file(path, data.size() - 1).err().code == errc::too_large);
  CHECK(read_file(dir + "/missing").err().code == errc::closed);
  // A second write replaces the file; no temporary file is left behind.
  REQUIRE(write_file_atomic(path, encode({})));
  CHECK(read_file(path)->size() == 10);
  std::remove(path.c_str());
  CHECK(::rmdir(dir.c_str()) == 0); // empty: nothing else was left in it
}
