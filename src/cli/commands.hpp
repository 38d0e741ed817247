#pragma once

#include <CLI/CLI.hpp>

namespace roo::cli {

// One file per subcommand; main.cpp registers them all. Each returns nothing: the subcommand's
// callback runs the command and throws core::Error / core::UsageError for main to report.
void add_run_command(CLI::App& app);
void add_send_command(CLI::App& app);
void add_receive_command(CLI::App& app);
void add_ctl_command(CLI::App& app);
void add_shutdown_command(CLI::App& app);
void add_top_command(CLI::App& app);
void add_connector_command(CLI::App& app);

/// `machida` / `machida3`: Wallaroo's launcher flags, translated to a worker run. Returns the exit code.
int machida_main(int argc, char** argv);

/// `cluster_shutdown HOST:PORT`: Wallaroo's tool, the same as `roo shutdown --external HOST:PORT`. Returns the exit
/// code.
int cluster_shutdown_main(int argc, char** argv);

/// `cluster_shrinker --external HOST:PORT (--workers a,b | --count N | --query)`: Wallaroo's tool, the same as
/// `roo ctl shrink`. Returns the exit code.
int cluster_shrinker_main(int argc, char** argv);

}  // namespace roo::cli
