#pragma once

#include "crypto/ed25519.hpp"
#include "crypto/error.hpp"

#include <string>

namespace dtt {

/// Loads a node key (its 32-byte Ed25519 seed as 64 hex digits and a newline) from `path`, or
/// creates one there if the file does not exist.
///
/// A new file is written atomically and private whatever the umask: a temporary file in the
/// same directory opened with O_CREAT|O_EXCL and mode 0600, written, fsync'd, renamed over
/// `path`, and the directory fsync'd; a crash leaves either no key file or a whole one.
///
/// An existing file is refused (errc::refused, one line saying why and how to fix it, as ssh's
/// "UNPROTECTED PRIVATE KEY FILE") when it is accessible by group or others, or when it is not
/// a regular file (symbolic link, directory, FIFO, device); errc::malformed when it does not
/// hold exactly 64 hex digits (surrounding whitespace allowed, at most 4 KiB read).
/// An empty `path` yields a fresh key that is not stored. (Applications: dtt::node_key::load_or_create
/// in include/dtt/keys.hpp.)
result<crypto::signing_key> load_or_create_key_file(const std::string& path);

} // namespace dtt
