#include "gossip/transport/frame.hpp"

namespace dtt::net {

void append_frame(bytes& out, byte_view message) {
  put_be32(out, static_cast<uint32_t>(message.size()));
  append(out, message);
}

void append_control(bytes& out, control c) {
  put_be32(out, control_flag | static_cast<uint32_t>(c));
}

void append_control(bytes& out, control c, byte_view body) {
  uint32_t length = c == control::relay ? static_cast<uint32_t>(body.size()) << 8 : 0;
  put_be32(out, control_flag | length | static_cast<uint32_t>(c));
  append(out, body);
}

void append_admit(bytes& out, byte_view body) { append_control(out, control::admit, body); }

} // namespace dtt::net
