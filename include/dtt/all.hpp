#pragma once

// dtt's whole public API. Applications include this (or the single headers) with
// include/ on their include path; everything outside include/dtt/ is internal.

#include "dtt/actors.hpp"  // topic_actor, event_subscriber, atoms
#include "dtt/caf.hpp"     // system_config, register_types, load_config
#include "dtt/cluster.hpp" // prepare_cluster, cluster: zero-configuration CAF clusters
#include "dtt/config.hpp"  // the tracker's configuration (PROTOCOL.md §5 defaults)
#include "dtt/errors.hpp"  // errc, error, result, status
#include "dtt/events.hpp"  // bytes, endpoint_id, socket_address, event
#include "dtt/keys.hpp"    // node_key (and key files)
#include "dtt/log.hpp"     // the log writer: threshold, sink, lines, rate-limited warnings
#include "dtt/runtime.hpp" // options, runtime
#include "dtt/text.hpp"    // to_hex, is_utf8, base64
#include "dtt/topic.hpp"   // topic
