#include "commands.hpp"

namespace roo::cli {

void add_run_command(CLI::App& app) { app.add_subcommand("run", "Run a Wallaroo application (placeholder)"); }

}  // namespace roo::cli
