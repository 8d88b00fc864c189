#include "crypto/record.hpp"

#include <algorithm>

namespace dtt::crypto {

gossip_record_content gossip_record_content::make(const std::vector<bytes32>& peers,
                                                  const std::vector<bytes32>& hashes) {
  gossip_record_content c;
  std::copy_n(peers.begin(), std::min(peers.size(), max_record_peers), c.active_peers.begin());
  std::copy_n(hashes.begin(), std::min(hashes.size(), max_message_hashes),
              c.last_message_hashes.begin());
  return c;
}

bytes gossip_record_content::encode() const {
  bytes out;
  out.reserve(encoded_size);
  for (auto& p : active_peers)
    append(out, p);
  for (auto& h : last_message_hashes)
    append(out, h);
  return out;
}

result<gossip_record_content> gossip_record_content::decode(byte_view content) {
  if (content.size() < encoded_size)
    return error{errc::truncated, "record content shorter than 320 bytes"};
  gossip_record_content c;
  for (size_t i = 0; i < max_record_peers; ++i)
    c.active_peers[i] = to_array<32>(content.sub(32 * i, 32));
  for (size_t i = 0; i < max_message_hashes; ++i)
    c.last_message_hashes[i] = to_array<32>(content.sub(32 * (max_record_peers + i), 32));
  return c;
}

namespace {
std::vector<bytes32> non_zero(const bytes32* first, size_t n) {
  std::vector<bytes32> out;
  for (size_t i = 0; i < n; ++i)
    if (!is_zero(first[i]))
      out.push_back(first[i]);
  return out;
}
} // namespace

std::vector<bytes32> gossip_record_content::peers() const {
  return non_zero(active_peers.data(), active_peers.size());
}

std::vector<bytes32> gossip_record_content::hashes() const {
  return non_zero(last_message_hashes.data(), last_message_hashes.size());
}

record record::sign(const bytes32& topic_hash, uint64_t minute, byte_view content,
                    const signing_key& node_key) {
  record r;
  r.topic_ = topic_hash;
  r.minute_ = minute;
  r.pub_key_ = node_key.public_key_bytes();
  r.content_ = content.to_bytes();
  r.signature_ = node_key.sign(r.signed_data());
  return r;
}

result<record> record::from_bytes(byte_view data) {
  if (data.size() < min_size)
    return error{errc::truncated, "record shorter than 136 bytes"};
  record r;
  r.topic_ = to_array<32>(data.sub(0, 32));
  r.minute_ = get_le64(data.data() + 32);
  r.pub_key_ = to_array<32>(data.sub(40, 32));
  r.content_ = data.sub(header_size, data.size() - min_size).to_bytes();
  r.signature_ = to_array<64>(data.sub(data.size() - signature_size));
  return r;
}

bytes record::signed_data() const {
  bytes out;
  out.reserve(header_size + content_.size());
  append(out, topic_);
  put_le64(out, minute_);
  append(out, pub_key_);
  append(out, content_);
  return out;
}

bytes record::to_bytes() const {
  bytes out = signed_data();
  append(out, signature_);
  return out;
}

status record::verify(const bytes32& expected_topic, uint64_t expected_minute) const {
  if (topic_ != expected_topic)
    return error{errc::wrong_topic, "record is for topic " + to_hex(topic_)};
  if (minute_ != expected_minute)
    return error{errc::wrong_minute, "record is for minute " + std::to_string(minute_)
                                       + ", expected " + std::to_string(expected_minute)};
  if (!is_valid_public_key(pub_key_))
    return error{errc::bad_key, "record pub_key is not a valid Ed25519 point"};
  if (!verify_strict(pub_key_, signed_data(), signature_))
    return error{errc::bad_signature, "record signature does not verify"};
  return ok_status();
}

} // namespace dtt::crypto
