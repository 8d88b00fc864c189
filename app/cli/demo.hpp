#pragma once

#include <CLI/CLI.hpp>

namespace dtt::app {

/// Adds `dtt demo` (a loopback DHT testnet and N nodes joining one topic) and `dtt testnet`.
void add_network_commands(CLI::App& app);

} // namespace dtt::app
