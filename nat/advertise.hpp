#pragma once

// Which addresses a node publishes in its endpoint record (issue 15), without I/O.

#include "dtt/events.hpp"

#include <string>
#include <vector>

namespace dtt::nat {

/// The endpoint record's addresses:
/// - `configured` (`[dttd.gossip] advertise`) when not empty, and nothing else;
/// - otherwise the TCP port mappings in force (`mapped`, the gateway's external address and
///   port) first, then the listening addresses `local`, the one whose IP is our external
///   address as DHT responders see it (`external_ip`: a public address on an interface) first
///   among them; duplicates dropped, order otherwise kept.
/// A discovered external IP that is neither mapped nor on an interface is not published: no
/// port is known to be open there. Loopback addresses (127.0.0.0/8, ::1) are published only
/// when every listening address is one (a node on loopback alone): to anyone else they name
/// the dialler's own host.
std::vector<socket_address> advertised_addresses(const std::vector<socket_address>& configured,
                                                 const std::vector<socket_address>& local,
                                                 const std::vector<socket_address>& mapped,
                                                 const std::string& external_ip);

} // namespace dtt::nat
