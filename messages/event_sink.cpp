#include "messages/event_sink.hpp"

namespace dtt {

event_sink::event_sink(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

void event_sink::push(event ev) {
  {
    std::lock_guard<std::mutex> guard(mu_);
    if (closed_)
      return;
    switch (ev.k) {
      case event::kind::neighbor_up:
        neighbors_.insert(ev.peer);
        joined_ = true;
        break;
      case event::kind::neighbor_down:
        neighbors_.erase(ev.peer);
        joined_ = !neighbors_.empty();
        break;
      case event::kind::received:
        joined_ = true;
        break;
      case event::kind::lagged:
        break;
    }
    if (buffer_.size() >= capacity_) {
      buffer_.pop_front();
      ++lagged_;
    }
    buffer_.push_back(std::move(ev));
  }
  cv_.notify_all();
}

template <class Pred>
bool event_sink::wait(std::unique_lock<std::mutex>& lock, std::chrono::milliseconds timeout,
                      Pred ready) {
  if (timeout.count() <= 0) {
    cv_.wait(lock, ready);
    return true;
  }
  return cv_.wait_for(lock, timeout, ready);
}

result<event> event_sink::next(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  auto ready = [this] { return closed_ || lagged_ > 0 || !buffer_.empty(); };
  if (!wait(lock, timeout, ready))
    return error{errc::timeout, "no event within the wait"};
  if (lagged_ > 0) {
    event ev;
    ev.k = event::kind::lagged;
    ev.lagged = lagged_;
    lagged_ = 0;
    return ev;
  }
  if (buffer_.empty())
    return error{errc::closed, "the topic has stopped"};
  auto ev = std::move(buffer_.front());
  buffer_.pop_front();
  return ev;
}

status event_sink::wait_joined(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!wait(lock, timeout, [this] { return closed_ || joined_; }))
    return error{errc::timeout, "no neighbour within the wait"};
  if (closed_)
    return error{errc::closed, "the topic has stopped"};
  return ok_status();
}

bool event_sink::has_neighbors() const {
  std::lock_guard<std::mutex> guard(mu_);
  return !neighbors_.empty();
}

void event_sink::close() {
  {
    std::lock_guard<std::mutex> guard(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

bool event_sink::closed() const {
  std::lock_guard<std::mutex> guard(mu_);
  return closed_;
}

} // namespace dtt
