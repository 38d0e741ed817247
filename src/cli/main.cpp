// The `roo` command (and `machida`/`machida3`/`cluster_shutdown`/`cluster_shrinker`, chosen by the program name).
#include "commands.hpp"
#include "exit_status.hpp"

#include "roo/core/error.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstring>
#include <string>

namespace {

std::string program_name(const char* argv0) {
  const char* slash = std::strrchr(argv0, '/');
  return slash ? slash + 1 : argv0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string name = program_name(argv[0]);
  if (name == "machida" || name == "machida3") {
    return roo::cli::machida_main(argc, argv);
  }
  if (name == "cluster_shutdown") {
    return roo::cli::cluster_shutdown_main(argc, argv);
  }
  if (name == "cluster_shrinker") {
    return roo::cli::cluster_shrinker_main(argc, argv);
  }
  CLI::App app{"Roo: run Wallaroo-style Python stream processing applications on a C++ runtime"};
  app.name("roo");
  app.set_version_flag("--version", "roo " ROO_VERSION, "Print the version (roo X.Y.Z) and exit");
  app.require_subcommand(1);
  app.footer(
      "Examples:\n  roo run examples/alphabet/alphabet.py --in 'Alphabet'@127.0.0.1:7010 --out 127.0.0.1:7002\n"
      "  roo send --host 127.0.0.1:7010 --file votes.msg --binary --msg-size 9 --messages 1000\n"
      "  roo receive --listen 127.0.0.1:7002\n"
      "  roo ctl --external 127.0.0.1:5050 --type cluster-status-query --json\n"
      "  roo top --external 127.0.0.1:5050\n"
      "  roo connector --list");
  roo::cli::add_run_command(app);
  roo::cli::add_send_command(app);
  roo::cli::add_receive_command(app);
  roo::cli::add_ctl_command(app);
  roo::cli::add_shutdown_command(app);
  roo::cli::add_top_command(app);
  roo::cli::add_connector_command(app);
  std::string command = "roo";
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    for (auto* sub : app.get_subcommands()) {
      command = "roo " + sub->get_name();
    }
    std::fprintf(stderr, "%s: %s\n", command.c_str(), e.what());
    std::fprintf(stderr, "hint: run '%s --help' for usage\n", command.c_str());
    return roo::cli::exit_usage;
  } catch (const roo::cli::ExitRequest& e) {
    return e.code;
  } catch (const roo::core::UsageError& e) {
    for (auto* sub : app.get_subcommands()) {
      command = "roo " + sub->get_name();
    }
    std::fprintf(stderr, "%s: unable to %s\n", command.c_str(), e.what());
    return roo::cli::exit_usage;
  } catch (const roo::core::Error& e) {
    for (auto* sub : app.get_subcommands()) {
      command = "roo " + sub->get_name();
    }
    std::fprintf(stderr, "%s: unable to %s\n", command.c_str(), e.what());
    return roo::cli::exit_failure;
  }
  return 0;
}
