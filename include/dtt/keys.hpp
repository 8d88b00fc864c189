#pragma once

#include "dtt/errors.hpp"
#include "dtt/events.hpp"

#include <string>

namespace dtt {

/// A node's identity: an Ed25519 key pair. Its public key is the node's endpoint id (in DHT
/// records and on the gossip transport); its 32-byte seed is secret and is wiped when the
/// object goes.
class node_key {
public:
  /// A fresh key from the operating system's random source.
  static node_key generate();
  /// The key of a 32-byte seed.
  static node_key from_seed(const bytes32& seed);
  /// Reads a key file (64 hex digits and a newline), or creates one with a fresh key when
  /// `path` does not exist. The rules for secrets at rest (docs/SECURITY.md): the file is
  /// created with mode 0600 by an atomic rename; an existing file is refused (errc::refused)
  /// when others may read it, when it is a symlink, a FIFO or not a regular file; a file that
  /// does not hold exactly one key is errc::malformed. Other failures: errc::io_error.
  static result<node_key> load_or_create(const std::string& path);

  node_key(const node_key&);
  node_key& operator=(const node_key&);
  ~node_key();

  /// The public key: this node's endpoint id.
  const endpoint_id& id() const noexcept { return id_; }
  /// The secret seed.
  const bytes32& seed() const noexcept { return seed_; }

private:
  node_key() = default;
  bytes32 seed_{};
  endpoint_id id_{};
};

} // namespace dtt
