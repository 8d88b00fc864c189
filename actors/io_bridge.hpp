#pragma once

// The one way io-thread code (sockets and timers on the runtime's Boost.Asio thread) reaches
// its actor: the DHT actor's request results and timeouts, the gossip actor's frames, closes
// and timer wake-ups.
//
// - It holds a weak reference: the io side never keeps its actor alive (DESIGN.md, Lifetimes);
//   a message for an actor that is gone is dropped.
// - What the io side sends before the actor exists (a connection accepted while the gossip actor
//   is being spawned) is held, at most max_early messages, and sent on attach(), in order.
// - A message is packed once, straight into the mailbox element: no callable is allocated.

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/actor_cast.hpp>
#include <caf/message.hpp>
#include <caf/send.hpp>

#include <mutex>
#include <utility>
#include <vector>

namespace dtt {

class io_bridge {
public:
  /// Messages held before attach() (beyond them, early messages are dropped).
  static constexpr size_t max_early = 1024;

  /// Sends (xs...) to the actor, as an anonymous message; thread-safe.
  template <class... Ts>
  void send(Ts&&... xs) {
    caf::actor target;
    {
      std::lock_guard<std::mutex> guard(mu_);
      if (!attached_) {
        if (early_.size() < max_early)
          early_.push_back(caf::make_message(std::forward<Ts>(xs)...));
        return;
      }
      target = caf::actor_cast<caf::actor>(target_);
    }
    if (target)
      caf::anon_send(target, std::forward<Ts>(xs)...);
  }

  /// Names the actor; sends what was held. Thread-safe; call once.
  void attach(const caf::actor_addr& target) {
    std::vector<caf::message> early;
    {
      std::lock_guard<std::mutex> guard(mu_);
      target_ = target;
      attached_ = true;
      early.swap(early_);
    }
    if (auto handle = caf::actor_cast<caf::actor>(target))
      for (auto& m : early)
        caf::anon_send(handle, std::move(m));
  }

private:
  std::mutex mu_;
  caf::actor_addr target_;
  bool attached_ = false;
  std::vector<caf::message> early_;
};

} // namespace dtt
