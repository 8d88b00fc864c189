#include "messages/types.hpp"

#include "messages/dht.hpp"
#include "messages/errors.hpp"
#include "messages/gossip.hpp"
#include "dtt/cluster.hpp"

namespace dtt {

void register_types(caf::actor_system_config& cfg) {
  cfg.add_error_category(caf::atom("dtt"), [](uint8_t code, caf::atom_value, const caf::message& ctx) {
    std::string out = "dtt.";
    out += to_string(static_cast<errc>(code));
    if (ctx.match_elements<std::string>()) {
      out += ": ";
      out += ctx.get_as<std::string>(0);
    }
    return out;
  });
  cfg.add_message_type<dht::mutable_item>("dtt.dht.mutable_item");
  cfg.add_message_type<dht::put_outcome>("dtt.dht.put_outcome");
  cfg.add_message_type<event>("dtt.event");
  cfg.add_message_type<socket_address>("dtt.socket_address");
  cfg.add_message_type<bytes32>("dtt.bytes32");
  cfg.add_message_type<bytes>("dtt.bytes");
  cfg.add_message_type<cluster_member>("dtt.cluster_member");
  cfg.add_message_type<std::vector<cluster_member>>("dtt.cluster_members");
  cfg.add_message_type<cluster_event>("dtt.cluster_event");
  cfg.add_message_type<std::vector<caf::actor>>("dtt.actors");
}

} // namespace dtt
