// Embedding dtt in an application's own caf::actor_system: a tiny chat.
//
//   embed_chat --topic my-room --secret s3cret [--bootstrap 127.0.0.1:6881,...] [--name alice]
//
// The application owns the actor system (with dtt's types registered) and runs dtt::runtime
// beside its own actors. One of its actors consumes the topic's events by asking the topic actor
// for the next event, so nothing blocks a scheduler thread; main() reads stdin and broadcasts
// each line. Without --bootstrap the node joins the public mainline DHT.
//
// Try it on one machine with a local DHT testnet:
//   build/app/dtt testnet --nodes 20 --port 6881 &
//   build/examples/embed_chat --topic room --secret s --bootstrap 127.0.0.1:6881 --name alice
//   build/examples/embed_chat --topic room --secret s --bootstrap 127.0.0.1:6881 --name bob
#include "actors/runtime.hpp"
#include "config/caf_options.hpp"
#include "messages/atoms.hpp"

#include <caf/all.hpp>

#include <fmt/format.h>

#include <iostream>
#include <sstream>

namespace {

// The application's actor: prints what the topic delivers, one event at a time.
caf::behavior printer(caf::event_based_actor* self, caf::actor topic) {
  auto ask = [=] {
    // timespan::max(): the topic answers when an event arrives, with no timer in between.
    self->request(topic, caf::infinite, dtt::next_event_atom::value, caf::timespan::max())
      .then(
        [=](const dtt::gossip::event& ev) {
          using kind = dtt::gossip::event::kind;
          auto peer = dtt::to_hex(dtt::byte_view(ev.peer).sub(0, 4));
          if (ev.k == kind::received)
            std::cout << "<" << peer << "> "
                      << std::string(ev.content.begin(), ev.content.end()) << std::endl;
          else if (ev.k == kind::neighbor_up)
            std::cout << "* " << peer << " is a neighbour" << std::endl;
          else if (ev.k == kind::neighbor_down)
            std::cout << "* " << peer << " left" << std::endl;
          self->send(self, dtt::next_event_atom::value);
        },
        [=](const caf::error& e) {
          std::cerr << "topic closed: " << self->system().render(e) << std::endl;
          self->quit(); // the topic is gone; asking again would only spin
        });
  };
  ask();
  return {[=](dtt::next_event_atom) { ask(); }};
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, ',');)
    if (!part.empty())
      out.push_back(part);
  return out;
}

} // namespace

int main(int argc, char** argv) {
  std::string topic_name, secret, bootstrap, name = "anon";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k == "--topic") topic_name = argv[i + 1];
    else if (k == "--secret") secret = argv[i + 1];
    else if (k == "--bootstrap") bootstrap = argv[i + 1];
    else if (k == "--name") name = argv[i + 1];
  }
  if (topic_name.empty() || secret.empty()) {
    std::cerr << "usage: embed_chat --topic T --secret S [--bootstrap host:port,...] [--name N]\n";
    return 2;
  }

  // The application's actor system; dtt::system_config registers dtt's message types.
  dtt::system_config cfg;
  caf::actor_system sys{cfg};

  dtt::runtime_options ro;
  if (!bootstrap.empty())
    ro.dht.bootstrap = split(bootstrap);
  auto rt = dtt::runtime::start(sys, dtt::crypto::signing_key::generate(), ro);
  if (!rt) {
    std::cerr << "cannot start dtt: " << rt.err().message() << "\n";
    return 1;
  }
  std::cout << "node " << dtt::to_hex((*rt)->node().id()) << ", joining '" << topic_name
            << "'..." << std::endl;
  {
    auto topic = (*rt)->node().join_no_wait(topic_name, dtt::byte_view::of(secret));
    auto p = sys.spawn(printer, topic.handle());
    for (std::string line; std::getline(std::cin, line);) {
      auto text = name + ": " + line;
      if (auto st = topic.broadcast(dtt::bytes(text.begin(), text.end())); !st)
        std::cerr << "not sent: " << st.err().message() << "\n";
    }
    caf::anon_send_exit(p, caf::exit_reason::user_shutdown);
  } // the last topic handle is gone: the topic's actors stop
  rt->reset();
  return 0;
}
