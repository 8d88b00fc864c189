#pragma once

#include "crypto/bytes.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace dtt::test {

/// Loads a JSON file from ../shared (DTT_SHARED_DIR), e.g. "spec/vectors.json". Throws if the
/// file is missing so that a test cannot pass without its vectors.
nlohmann::json load_shared_json(const std::string& relative_path);

/// Hex string field → bytes (throws on bad hex).
bytes hex(const nlohmann::json& j);

/// Hex string field → 32 bytes (throws unless exactly 32).
bytes32 hex32(const nlohmann::json& j);

} // namespace dtt::test
