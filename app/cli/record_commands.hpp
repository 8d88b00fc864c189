#pragma once

#include <CLI/CLI.hpp>

namespace dtt::app {

/// Adds `derive`, `record seal` and `record open` to the CLI (PROTOCOL.md §1–§4.1).
void add_record_commands(CLI::App& app);

} // namespace dtt::app
