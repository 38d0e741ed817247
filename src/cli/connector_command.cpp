// `roo connector NAME [ARGS...]`: runs a connector script Roo ships (python/wallaroo/connectors,
// docs/connectors-shipped.md) as `/usr/bin/python3 -m wallaroo.connectors.<NAME, - as _> ARGS...`, with Roo's python
// folder first on PYTHONPATH. `roo connector --list` prints the shipped names.
#include "commands.hpp"

#include "roo/core/error.hpp"
#include "roo/runtime/python_package_dir.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

namespace roo::cli {
namespace {

namespace fs = std::filesystem;

// The interpreter whose Debian packages the connectors' clients come from (as `roo run` uses for Bruco's venvs).
constexpr const char* python = "/usr/bin/python3";

struct ConnectorOptions {
  bool list = false;
  std::string name;
};

/// A module name as users type it: `_` shown as `-` (kafka_source -> kafka-source).
std::string shown_name(std::string module) {
  std::replace(module.begin(), module.end(), '_', '-');
  return module;
}

/// The shipped connectors: every `*.py` module of wallaroo/connectors whose name does not start with `_`, sorted.
std::vector<std::string> shipped_connectors(const fs::path& python_dir) {
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(python_dir / "wallaroo" / "connectors", error)) {
    std::string stem = entry.path().stem().string();
    if (entry.path().extension() == ".py" && !stem.empty() && stem.front() != '_') {
      names.push_back(shown_name(stem));
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string joined(const std::vector<std::string>& names) {
  std::string text;
  for (const auto& name : names) {
    text += (text.empty() ? "" : ", ") + name;
  }
  return text.empty() ? "none" : text;
}

/// Replaces this process with the connector's script; returns only to throw.
[[noreturn]] void exec_connector(const fs::path& python_dir, const std::string& name,
                                 const std::vector<std::string>& args) {
  std::string module = name;
  std::replace(module.begin(), module.end(), '-', '_');
  std::string path = python_dir.string();
  if (const char* existing = std::getenv("PYTHONPATH"); existing != nullptr && *existing != '\0') {
    path += ":" + std::string(existing);
  }
  ::setenv("PYTHONPATH", path.c_str(), 1);
  std::vector<std::string> argv{python, "-m", "wallaroo.connectors." + module};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> pointers;
  for (auto& arg : argv) {
    pointers.push_back(arg.data());
  }
  pointers.push_back(nullptr);
  std::fflush(nullptr);
  ::execv(python, pointers.data());
  throw core::Error("run connector '" + name + "': " + python + ": " + std::strerror(errno));
}

void run_connector(const ConnectorOptions& options, const std::vector<std::string>& args) {
  fs::path python_dir = runtime::python_package_dir();
  std::vector<std::string> names = shipped_connectors(python_dir);
  if (options.list) {
    for (const auto& name : names) {
      std::printf("%s\n", name.c_str());
    }
    return;
  }
  if (options.name.empty()) {
    throw core::UsageError("run a connector: name one (roo connector NAME ...); Roo ships " + joined(names));
  }
  if (std::find(names.begin(), names.end(), shown_name(options.name)) == names.end()) {
    throw core::UsageError("run connector '" + options.name + "': there is no such connector; Roo ships " +
                           joined(names));
  }
  exec_connector(python_dir, shown_name(options.name), args);
}

}  // namespace

void add_connector_command(CLI::App& app) {
  auto options = std::make_shared<ConnectorOptions>();
  auto* sub = app.add_subcommand("connector", "Run a connector script Roo ships (a source or sink of another system)");
  sub->footer(
      "Runs python3 -m wallaroo.connectors.NAME (- in NAME stands for _) with Roo's python folder on PYTHONPATH;\n"
      "everything after NAME is the connector's: --application-module APP --connector CONFIG_NAME "
      "--CONFIG_NAME-<param> ...\n"
      "(docs/connectors-shipped.md).\n\n"
      "Examples:\n"
      "  roo connector --list\n"
      "  roo connector file-source --application-module my_app --connector in --in-path records.bin");
  sub->add_flag("--list", options->list, "Print the names of the shipped connectors, one a line, and exit");
  sub->add_option("name", options->name, "The connector to run (see --list)")->type_name("NAME");
  sub->prefix_command();
  sub->callback([options, sub] { run_connector(*options, sub->remaining()); });
}

}  // namespace roo::cli
