#pragma once

// Shared by the sans-IO gossip tests: ids, a start time, and views of a core's effects.
#include "gossip/effects.hpp"

#include <chrono>
#include <utility>
#include <variant>
#include <vector>

namespace dtt::gossip::test {

/// An endpoint id whose first byte is `b` (the rest zero).
inline endpoint_id id_of(uint8_t b) {
  endpoint_id id{};
  id[0] = b;
  return id;
}

/// A fake clock's start.
inline const time_point t0 = time_point{} + std::chrono::seconds(1000);

/// Two topic ids for multi-topic tests.
inline const topic_id topic_a = [] {
  topic_id t{};
  t.fill(0xa1);
  return t;
}();
inline const topic_id topic_b = [] {
  topic_id t{};
  t.fill(0xb2);
  return t;
}();

/// The messages of type M the effects send, with their destinations.
template <class M>
std::vector<std::pair<endpoint_id, M>> sent(const effects& fx) {
  std::vector<std::pair<endpoint_id, M>> out;
  for (const auto& e : fx)
    if (auto* s = std::get_if<effect::send>(&e))
      if (auto* m = std::get_if<M>(&s->body))
        out.emplace_back(s->to, *m);
  return out;
}

/// The peers of the emitted events of kind k.
inline std::vector<endpoint_id> events(const effects& fx, event::kind k) {
  std::vector<endpoint_id> out;
  for (const auto& e : fx)
    if (auto* em = std::get_if<effect::emit>(&e))
      if (em->ev.k == k)
        out.push_back(em->ev.peer);
  return out;
}

/// The emitted `received` events.
inline std::vector<event> received(const effects& fx) {
  std::vector<event> out;
  for (const auto& e : fx)
    if (auto* em = std::get_if<effect::emit>(&e))
      if (em->ev.k == event::kind::received) {
        out.push_back(em->ev);
        out.back().content = em->payload.to_bytes();
      }
  return out;
}

/// The timers the effects arm.
inline std::vector<effect::timer> timers(const effects& fx) {
  std::vector<effect::timer> out;
  for (const auto& e : fx)
    if (auto* t = std::get_if<effect::timer>(&e))
      out.push_back(*t);
  return out;
}

} // namespace dtt::gossip::test
