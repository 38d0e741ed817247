#include "commands.hpp"

namespace roo::cli {

void add_send_command(CLI::App& app) { app.add_subcommand("send", "placeholder"); }

}  // namespace roo::cli
