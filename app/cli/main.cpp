// dtt: command-line tool: derive, record seal/open, testnet, demo, dht put/get.
#include "app/cli/demo.hpp"
#include "app/cli/dht_commands.hpp"
#include "app/cli/record_commands.hpp"

#include "crypto/log.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>

int main(int argc, char** argv) {
  CLI::App app{"dtt: distributed topic tracker tool"};
  app.set_version_flag("--version", std::string("dtt ") + DTT_VERSION);
  app.require_subcommand(1);
  dtt::app::add_record_commands(app);
  dtt::app::add_network_commands(app);
  dtt::app::add_dht_commands(app);
  if (auto l = dtt::log::level_from_env(); !l) { // as dttd: a bad DTT_LOG is an error
    std::fprintf(stderr, "dtt: %s\n", l.err().what.c_str());
    return 2;
  }
  CLI11_PARSE(app, argc, argv);
  return 0;
}
