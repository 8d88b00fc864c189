#pragma once

#include <CLI/CLI.hpp>

namespace dtt::app {

/// Adds `dtt dht put` and `dtt dht get`: one BEP 44 mutable put or get through a read-only DHT
/// client bootstrapped from the given addresses (e.g. a `dtt testnet`, or mainline routers).
void add_dht_commands(CLI::App& app);

} // namespace dtt::app
