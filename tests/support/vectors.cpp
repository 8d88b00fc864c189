#include "support/vectors.hpp"

#include <fstream>
#include <stdexcept>

namespace dtt::test {

nlohmann::json load_shared_json(const std::string& relative_path) {
  std::string path = std::string(DTT_SHARED_DIR) + "/" + relative_path;
  std::ifstream in(path);
  if (!in)
    throw std::runtime_error("cannot open vector file " + path);
  return nlohmann::json::parse(in);
}

bytes hex(const nlohmann::json& j) {
  auto b = from_hex(j.get<std::string>());
  if (!b)
    throw std::runtime_error("bad hex in vector file: " + j.get<std::string>());
  return *b;
}

bytes32 hex32(const nlohmann::json& j) {
  auto b = hex(j);
  if (b.size() != 32)
    throw std::runtime_error("expected 32 bytes of hex");
  return to_array<32>(b);
}

} // namespace dtt::test
