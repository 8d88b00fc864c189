#pragma once

#include "crypto/error.hpp"
#include "dtt/events.hpp"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <set>

namespace dtt {

/// The bounded, thread-safe event buffer behind dtt::topic::next(): the gossip actor pushes a
/// topic's events into it directly (no actor message per event), application threads take
/// them. It keeps every event from the topic's creation until it is read (PROTOCOL.md §10.10);
/// past `capacity` unread events the oldest is dropped and the reader gets one event of kind
/// lagged with the number dropped, before the next kept event. It also knows whether the topic
/// has joined (a neighbour is up, or a message arrived), for topic::joined().
class event_sink {
public:
  explicit event_sink(size_t capacity);

  /// Adds an event (never blocks on readers). Ignored after close().
  void push(event ev);
  /// The next event, waiting at most `timeout` (zero: no limit): errc::timeout when none came,
  /// errc::closed once the topic has stopped and every buffered event was read.
  result<event> next(std::chrono::milliseconds timeout);
  /// Waits until the topic has joined, at most `timeout` (zero: no limit): errc::timeout, or
  /// errc::closed once the topic has stopped (joined or not).
  status wait_joined(std::chrono::milliseconds timeout);
  /// True if a neighbour is up now.
  bool has_neighbors() const;
  /// Wakes every waiter with errc::closed; later pushes are ignored (events already buffered
  /// can still be read).
  void close();
  /// True once close() was called.
  bool closed() const;

private:
  template <class Pred>
  bool wait(std::unique_lock<std::mutex>& lock, std::chrono::milliseconds timeout, Pred ready);

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<event> buffer_;
  size_t capacity_;
  uint64_t lagged_ = 0;
  std::set<endpoint_id> neighbors_;
  bool joined_ = false;
  bool closed_ = false;
};

} // namespace dtt
