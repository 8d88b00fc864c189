#pragma once

#include "dht/node_id.hpp"
#include "dht/routing_table.hpp"

#include <chrono>

namespace dtt::dht {

/// Write tokens (BEP 5 get_peers/announce_peer, BEP 44 get/put): token = first 8 bytes of
/// HMAC-SHA256(secret, ip). The secret rotates every 5 minutes and the previous one is still
/// accepted, so a token lives 5–10 minutes (BEP 5: "tokens up to ten minutes old are accepted").
class token_manager {
public:
  /// Rotation period (BEP 5 suggests changing the secret every five minutes).
  static constexpr std::chrono::minutes rotation{5};
  /// Token length in bytes (mainline and libtorrent use short tokens; BEP 5 leaves it open).
  static constexpr size_t token_size = 8;

  explicit token_manager(crypto::random_source& rng);

  /// Rotates the secret when a rotation period has passed since the last rotation.
  void tick(time_point now);
  /// The token for an address under the current secret.
  bytes make(const endpoint& from) const;
  /// True if the token was made for this address with the current or previous secret.
  bool check(byte_view token, const endpoint& from) const;

private:
  bytes compute(const bytes32& secret, const endpoint& from) const;

  crypto::random_source& rng_;
  bytes32 current_;
  bytes32 previous_;
  time_point rotated_{};
};

} // namespace dtt::dht
