#include "commands.hpp"

namespace roo::cli {

void add_receive_command(CLI::App& app) { app.add_subcommand("receive", "placeholder"); }

}  // namespace roo::cli
