// Embedding dtt in an application's own caf::actor_system: a tiny chat.
//
//   embed_chat --topic my-room --secret s3cret [--bootstrap 127.0.0.1:6881,...] [--name alice]
//
// The application owns the actor system (dtt::system_config registers dtt's types) and runs a
// dtt::runtime beside its own actors. One of its actors subscribes to the topic and gets every
// event as a message, so nothing blocks a scheduler thread; main() reads stdin and broadcasts
// each line. Only the public API is used: include/dtt/. Without --bootstrap the node joins the
// public mainline DHT.
//
// Try it on one machine with a local DHT testnet:
//   build/app/dtt testnet --nodes 20 --port 6881 &
//   build/examples/embed_chat --topic room --secret s --bootstrap 127.0.0.1:6881 --name alice
//   build/examples/embed_chat --topic room --secret s --bootstrap 127.0.0.1:6881 --name bob
#include "dtt/all.hpp"

#include <caf/all.hpp>

#include <iostream>
#include <sstream>

namespace {

std::string short_hex(const dtt::endpoint_id& id) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < 4; ++i) {
    out += digits[id[i] >> 4];
    out += digits[id[i] & 15];
  }
  return out;
}

// The application's actor: subscribes to the topic and prints what it delivers.
dtt::event_subscriber::behavior_type printer(dtt::event_subscriber::pointer self,
                                             dtt::topic_actor topic) {
  self->request(topic, caf::infinite, dtt::subscribe_atom::value,
                caf::actor_cast<dtt::event_subscriber>(self))
    .then([](const std::vector<dtt::endpoint_id>&) {},
          [=](const caf::error& e) {
            std::cerr << "topic closed: " << self->system().render(e) << std::endl;
            self->quit();
          });
  return {
    [](dtt::event_atom, const dtt::bytes32&, const dtt::event& ev) {
      auto peer = short_hex(ev.peer);
      switch (ev.k) {
        case dtt::event::kind::received:
          std::cout << "<" << peer << "> " << std::string(ev.content.begin(), ev.content.end())
                    << std::endl;
          break;
        case dtt::event::kind::neighbor_up:
          std::cout << "* " << peer << " is a neighbour" << std::endl;
          break;
        case dtt::event::kind::neighbor_down:
          std::cout << "* " << peer << " left" << std::endl;
          break;
        case dtt::event::kind::lagged:
          std::cout << "* " << ev.lagged << " events lost" << std::endl;
          break;
      }
    },
  };
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

  dtt::options opts;
  opts.dht.bootstrap = split(bootstrap); // empty: the public mainline DHT
  auto rt = dtt::runtime::start(sys, dtt::node_key::generate(), opts);
  if (!rt) {
    std::cerr << "cannot start dtt: " << rt.err().message() << "\n";
    return 1;
  }
  std::cout << "node " << short_hex((*rt)->id()) << ", joining '" << topic_name << "'..."
            << std::endl;
  auto topic = (*rt)->join_no_wait(topic_name, secret);
  auto p = sys.spawn(printer, topic.handle());
  for (std::string line; std::getline(std::cin, line);) {
    auto text = name + ": " + line;
    // Waits up to the configured broadcast timeout when a peer's queue is full.
    if (auto st = topic.broadcast(dtt::bytes(text.begin(), text.end())); !st)
      std::cerr << "not sent: " << st.err().message() << "\n";
  }
  caf::anon_send_exit(p, caf::exit_reason::user_shutdown);
  rt->reset(); // stops the topic too: `topic` now answers errc::closed
  return 0;
}
