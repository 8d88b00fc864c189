#pragma once

// inspect() overloads that make the sans-IO boundary types CAF message types. They live in the
// types' own namespaces for ADL; CAF is needed only for the type names.
#include "dht/item.hpp"
#include "dtt/actors.hpp"
#include "gossip/types.hpp"

#include <caf/meta/type_name.hpp>

namespace dtt::dht {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, mutable_item& x) {
  return f(caf::meta::type_name("dtt.dht.mutable_item"), x.key, x.salt, x.seq, x.value,
           x.signature);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, put_outcome& x) {
  return f(caf::meta::type_name("dtt.dht.put_outcome"), x.stored, x.cas_mismatch,
           x.seq_too_small, x.other_errors, x.no_response);
}

} // namespace dtt::dht

// delivery_scope, event and socket_address: include/dtt/actors.hpp.
