#pragma once

#include "crypto/bytes.hpp"
#include "crypto/error.hpp"
#include "gossip/buffer.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>

namespace dtt::net {

/// Peer-link framing: `BE32(length) || message` (PROTOCOL.md §8.1, as iroh-gossip's streams).
/// dtt extension: a header with the top bit set is a control frame; its low bits carry the
/// control code, which fixes the length of its body (none, except admit and the reversal
/// frames). Message lengths are bounded far below 2^31, so the two never meet.
///
/// Compatibility: a decoder refuses an unknown control code (the link is dropped), so a new
/// code may only be sent on a link whose peer is known to understand it. Codes 1-3 are
/// "dtt-gossip/2"; the reversal codes 4-8 are "dtt-gossip/3" (6, the IPv6 notice, and 7-8,
/// the punch hints, joined it before any release carried "dtt-gossip/3"), and a node offers both ALPN
/// protocols (transport_options::alpn, alpn_compat): the TLS handshake picks the newest one
/// both speak, and reversal frames go only over links that negotiated "dtt-gossip/3" (a
/// reversal frame arriving on a "dtt-gossip/2" link is malformed and drops it).
inline constexpr uint32_t control_flag = 0x80000000u;

/// Control codes (dtt extension, see control_flag).
enum class control : uint32_t {
  keepalive = 1, ///< sent when a link has been write-idle for the keep-alive interval
  goodbye = 2,   ///< the sender writes nothing more on this connection (duplicate settlement)
  admit = 3,     ///< body: topic_id[32] proof[32], membership of a topic (docs/ADMISSION.md)
  /// "dtt-gossip/3": connection reversal (gossip/transport/reversal.hpp), A -> C "ask B to dial me".
  reversal_request = 4,
  /// "dtt-gossip/3": connection reversal, C -> B "A asks you to dial it at this address".
  reversal_notice = 5,
  /// "dtt-gossip/3": the same notice with an IPv6 address to dial.
  reversal_notice6 = 6,
  /// "dtt-gossip/3": hole punching, C -> A "the target's link reaches me from this IPv4 address".
  punch_hint = 7,
  /// "dtt-gossip/3": the same hint with an IPv6 address.
  punch_hint6 = 8,
  /// "dtt-gossip/3": relayed links (gossip/transport/relay.hpp): open, incoming, data, close.
  /// The one control frame whose body length varies: the header carries it in bits 8..30
  /// (`control_flag | length << 8 | 9`), relay_body_min..relay_body_max bytes.
  relay = 9,
};

/// Body bytes of an admit control frame.
inline constexpr size_t admit_body_size = 64;
/// Body bytes of the reversal frames (gossip/transport/reversal.hpp's encodings; decoded there).
inline constexpr size_t reversal_request_body_size = 35;
inline constexpr size_t reversal_notice_body_size = 39;
inline constexpr size_t reversal_notice6_body_size = 51;
inline constexpr size_t punch_hint_body_size = 37;
inline constexpr size_t punch_hint6_body_size = 49;
/// Body bytes of a relay frame: a close (6) up to a data frame with the largest chunk
/// (gossip/transport/relay.hpp: 5 + max_relay_chunk).
inline constexpr size_t relay_body_min = 6;
inline constexpr size_t relay_body_max = 5 + 16384;
/// The control code in a control frame's header (its low 8 bits).
inline constexpr uint32_t control_code_mask = 0xFFu;

/// The body size a control code fixes, or nullopt for an unknown code or relay (whose size
/// varies: control_body_fits).
constexpr std::optional<size_t> control_body_size(uint32_t code) {
  switch (code) {
    case static_cast<uint32_t>(control::keepalive):
    case static_cast<uint32_t>(control::goodbye): return size_t{0};
    case static_cast<uint32_t>(control::admit): return admit_body_size;
    case static_cast<uint32_t>(control::reversal_request): return reversal_request_body_size;
    case static_cast<uint32_t>(control::reversal_notice): return reversal_notice_body_size;
    case static_cast<uint32_t>(control::reversal_notice6): return reversal_notice6_body_size;
    case static_cast<uint32_t>(control::punch_hint): return punch_hint_body_size;
    case static_cast<uint32_t>(control::punch_hint6): return punch_hint6_body_size;
  }
  return std::nullopt;
}

/// True if a control frame of code `c` may carry `n` body bytes.
constexpr bool control_body_fits(control c, size_t n) {
  if (c == control::relay)
    return n >= relay_body_min && n <= relay_body_max;
  auto fixed = control_body_size(static_cast<uint32_t>(c));
  return fixed && *fixed == n;
}

/// Appends one message frame to `out`.
void append_frame(bytes& out, byte_view message);

/// Appends one control frame without a body (keepalive, goodbye) to `out`.
void append_control(bytes& out, control c);

/// Appends one control frame with its body to `out` (control_body_fits(c, body.size()) must
/// hold: admit_body_size for admit, relay_body_min..relay_body_max for relay, and so on).
void append_control(bytes& out, control c, byte_view body);

/// Appends one admit control frame with its admit_body_size-byte body to `out`.
void append_admit(bytes& out, byte_view body);

/// One decoded frame: a message, or a control frame.
struct frame {
  bool is_control = false;
  control code = control::keepalive; ///< when is_control
  gossip::shared_buffer message;     ///< the message, or a control frame's body (pooled)
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
      auto code = header & control_code_mask;
      auto high = (header & ~control_flag) >> 8;
      if (code == static_cast<uint32_t>(control::relay)) {
        if (high < relay_body_min || high > relay_body_max)
          return error{errc::malformed, "relay frame of " + std::to_string(high) + " bytes"};
        return 4 + size_t{high};
      }
      auto body = control_body_size(code);
      if (!body || high != 0)
        return error{errc::malformed, "unknown control frame code "
                                        + std::to_string(header & ~control_flag)};
      return 4 + *body;
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
      f.code = static_cast<control>(header & control_code_mask);
    }
    f.message = gossip::shared_buffer::copy_of(byte_view{d + 4, len - 4});
    return on_frame(std::move(f));
  }

  uint32_t max_;
  bytes buf_;
};

} // namespace dtt::net
