// dtt: command-line tool: derive, record seal/open, testnet, demo, dht put/get.
#include "app/cli/demo.hpp"
#include "app/cli/dht_commands.hpp"
#include "app/cli/record_commands.hpp"

#include <CLI/CLI.hpp>

int main(int argc, char** argv) {
  CLI::App app{"dtt: distributed topic tracker tool"};
  app.require_subcommand(1);
  dtt::app::add_record_commands(app);
  dtt::app::add_network_commands(app);
  dtt::app::add_dht_commands(app);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
