#pragma once

#include "crypto/bytes.hpp"
#include "crypto/error.hpp"

#include <cstdint>

namespace dtt::net {

/// Peer-link framing: `BE32(length) || message` (PROTOCOL.md §8.1, as iroh-gossip's streams).
/// dtt extension: a header with the top bit set is a control frame with no body; its low bits
/// carry the control code. Message lengths are bounded far below 2^31, so the two never meet.
inline constexpr uint32_t control_flag = 0x80000000u;

/// Control codes (dtt extension, see control_flag).
enum class control : uint32_t {
  keepalive = 1, ///< sent when a link has been write-idle for the keep-alive interval
  goodbye = 2,   ///< the sender writes nothing more on this connection (duplicate settlement)
};

/// Appends one message frame to `out`.
void append_frame(bytes& out, byte_view message);

/// Appends one control frame to `out`.
void append_control(bytes& out, control c);

/// One decoded frame: a message, or a control frame.
struct frame {
  bool is_control = false;
  control code = control::keepalive; ///< when is_control
  bytes message;                     ///< when !is_control
};

/// Incremental decoder for a byte stream of frames. Refuses a length over the limit before
/// buffering any of its body, and unknown control codes.
class frame_decoder {
public:
  /// `max_message_size` bounds the length field of message frames.
  explicit frame_decoder(uint32_t max_message_size) : max_(max_message_size) {}

  /// Consumes `in`, calling `on_frame(frame&&)` for every complete frame (the callback returns
  /// false to stop early, e.g. when the link was closed). Returns an error (too_large or
  /// malformed) on the first bad header; the decoder must not be used after that.
  template <class F>
  status feed(byte_view in, F&& on_frame) {
    append(buf_, in);
    size_t pos = 0;
    status st = ok_status();
    while (true) {
      if (buf_.size() - pos < 4)
        break;
      uint32_t header = get_be32(buf_.data() + pos);
      if (header & control_flag) {
        auto code = header & ~control_flag;
        if (code != static_cast<uint32_t>(control::keepalive)
            && code != static_cast<uint32_t>(control::goodbye)) {
          st = error{errc::malformed, "unknown control frame code " + std::to_string(code)};
          break;
        }
        pos += 4;
        frame f;
        f.is_control = true;
        f.code = static_cast<control>(code);
        if (!on_frame(std::move(f)))
          break;
        continue;
      }
      if (header > max_) {
        st = error{errc::too_large, "frame of " + std::to_string(header)
                                      + " bytes over the limit of " + std::to_string(max_)};
        break;
      }
      if (buf_.size() - pos - 4 < header)
        break;
      frame f;
      f.message.assign(buf_.begin() + static_cast<std::ptrdiff_t>(pos + 4),
                       buf_.begin() + static_cast<std::ptrdiff_t>(pos + 4 + header));
      pos += 4 + size_t{header};
      if (!on_frame(std::move(f)))
        break;
    }
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(pos));
    return st;
  }

  /// Bytes buffered for an incomplete frame.
  size_t buffered() const noexcept { return buf_.size(); }

private:
  uint32_t max_;
  bytes buf_;
};

} // namespace dtt::net
