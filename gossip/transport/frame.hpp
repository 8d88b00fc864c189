#pragma once

#include "crypto/bytes.hpp"
#include "crypto/error.hpp"

#include <algorithm>
#include <cstdint>
#include <string>

namespace dtt::net {

/// Peer-link framing: `BE32(length) || message` (PROTOCOL.md §8.1, as iroh-gossip's streams).
/// dtt extension: a header with the top bit set is a control frame; its low bits carry the
/// control code, which fixes the length of its body (none, except admit). Message lengths are
/// bounded far below 2^31, so the two never meet.
inline constexpr uint32_t control_flag = 0x80000000u;

/// Control codes (dtt extension, see control_flag).
enum class control : uint32_t {
  keepalive = 1, ///< sent when a link has been write-idle for the keep-alive interval
  goodbye = 2,   ///< the sender writes nothing more on this connection (duplicate settlement)
  admit = 3,     ///< body: topic_id[32] proof[32], membership of a topic (docs/ADMISSION.md)
};

/// Body bytes of an admit control frame.
inline constexpr size_t admit_body_size = 64;

/// Appends one message frame to `out`.
void append_frame(bytes& out, byte_view message);

/// Appends one control frame without a body (keepalive, goodbye) to `out`.
void append_control(bytes& out, control c);

/// Appends one admit control frame with its admit_body_size-byte body to `out`.
void append_admit(bytes& out, byte_view body);

/// One decoded frame: a message, or a control frame.
struct frame {
  bool is_control = false;
  control code = control::keepalive; ///< when is_control
  bytes message;                     ///< the message, or a control frame's body
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
  /// Only a frame split across two calls is buffered: whole frames are taken straight from
  /// `in`, each byte copied once (into its frame).
  template <class F>
  status feed(byte_view in, F&& on_frame) {
    const uint8_t* p = in.data();
    size_t n = in.size();
    auto take = [&](size_t k) {
      k = std::min(k, n);
      buf_.insert(buf_.end(), p, p + k);
      p += k;
      n -= k;
    };
    if (!buf_.empty()) {
      // Complete the buffered frame first, taking from `in` only the bytes it lacks.
      if (buf_.size() < 4)
        take(4 - buf_.size());
      if (buf_.size() < 4)
        return ok_status();
      auto len = frame_length(get_be32(buf_.data()));
      if (!len)
        return len.err();
      take(*len - buf_.size());
      if (buf_.size() < *len)
        return ok_status();
      // deliver() copies the frame out before calling back, so the buffer can be cleared
      // afterwards and keeps its storage for the next split frame.
      bool go = deliver(buf_.data(), buf_.size(), on_frame);
      buf_.clear();
      if (!go) {
        take(n);
        return ok_status();
      }
    }
    while (n >= 4) {
      auto len = frame_length(get_be32(p));
      if (!len)
        return len.err();
      if (n < *len)
        break;
      bool go = deliver(p, *len, on_frame);
      p += *len;
      n -= *len;
      if (!go)
        break;
    }
    take(n);
    return ok_status();
  }

  /// Bytes buffered for an incomplete frame.
  size_t buffered() const noexcept { return buf_.size(); }

private:
  // Bytes of the frame with this header (header included), or why it is refused.
  result<size_t> frame_length(uint32_t header) const {
    if (header & control_flag) {
      auto code = header & ~control_flag;
      if (code == static_cast<uint32_t>(control::admit))
        return 4 + admit_body_size;
      if (code != static_cast<uint32_t>(control::keepalive)
          && code != static_cast<uint32_t>(control::goodbye))
        return error{errc::malformed, "unknown control frame code " + std::to_string(code)};
      return size_t{4};
    }
    if (header > max_)
      return error{errc::too_large, "frame of " + std::to_string(header)
                                      + " bytes over the limit of " + std::to_string(max_)};
    return 4 + size_t{header};
  }

  // Hands the complete frame at `d` (`len` bytes, checked by frame_length) to `on_frame`.
  template <class F>
  static bool deliver(const uint8_t* d, size_t len, F& on_frame) {
    frame f;
    uint32_t header = get_be32(d);
    if (header & control_flag) {
      f.is_control = true;
      f.code = static_cast<control>(header & ~control_flag);
    }
    f.message.assign(d + 4, d + len);
    return on_frame(std::move(f));
  }

  uint32_t max_;
  bytes buf_;
};

} // namespace dtt::net
