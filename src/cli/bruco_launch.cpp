#include "bruco_launch.hpp"

#include "tool_process.hpp"

#include "roo/bruco/bruco_config.hpp"
#include "roo/core/error.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <variant>

namespace roo::cli {
namespace fs = std::filesystem;

namespace {

/// The interpreter Roo embeds: pip and venv run on it, so what they install is importable in the workers.
constexpr const char* python = "/usr/bin/python3";

fs::path unpack_zip(const fs::path& zip) {
  std::string pattern = (fs::temp_directory_path() / "roo-bruco-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw core::Error("unpack " + zip.string() + ": cannot make a temporary folder");
  }
  ToolResult unzip = run_tool({python, "-m", "zipfile", "-e", zip.string(), pattern});
  if (unzip.status != 0) {
    throw core::UsageError("unpack " + zip.string() + ": " + unzip.last_lines(3));
  }
  std::fprintf(stderr, "roo run: unpacked %s into %s\n", zip.c_str(), pattern.c_str());
  return pattern;
}

/// The virtualenv requirements go into: the active one, else `.roo-venv` in the function's folder (made once).
fs::path requirements_venv(const fs::path& folder) {
  if (const char* active = std::getenv("VIRTUAL_ENV"); active != nullptr && *active != '\0') {
    return active;
  }
  fs::path venv = folder / ".roo-venv";
  if (!fs::exists(venv / "bin" / "python")) {
    ToolResult made = run_tool({python, "-m", "venv", venv.string()});
    if (made.status != 0) {
      throw core::Error("make the virtualenv " + venv.string() + " for requirements.txt: " + made.last_lines(5));
    }
  }
  ::setenv("VIRTUAL_ENV", venv.c_str(), 1);  // the workers import from it (python/virtualenv.cpp)
  return venv;
}

void install_requirements(const fs::path& folder) {
  fs::path requirements = folder / "requirements.txt";
  std::error_code error;
  if (!fs::is_regular_file(requirements, error)) {
    return;
  }
  if (const char* disabled = std::getenv("BRUCO_DISABLE_PIP"); disabled != nullptr && std::string(disabled) == "true") {
    std::fprintf(stderr, "roo run: BRUCO_DISABLE_PIP=true: not installing %s\n", requirements.c_str());
    return;
  }
  fs::path venv = requirements_venv(folder);
  ToolResult pip = run_tool({(venv / "bin" / "python").string(), "-m", "pip", "install", "--disable-pip-version-check",
                             "-q", "-r", requirements.string()});
  if (pip.status != 0) {
    throw core::Error("install " + requirements.string() + " with pip into " + venv.string() + ":\n" +
                      pip.last_lines(8));
  }
  std::fprintf(stderr, "roo run: installed %s into the virtualenv %s\n", requirements.c_str(), venv.c_str());
}

}  // namespace

bool is_bruco_function(const std::string& app) {
  fs::path path(app);
  std::string extension = path.extension().string();
  if (extension == ".yaml" || extension == ".yml" || extension == ".zip") {
    return true;
  }
  std::error_code error;
  if (!fs::is_directory(path, error)) {
    return false;
  }
  try {
    (void)bruco::find_bruco_config(path);  // config.yaml in it, or in its one subfolder
    return true;
  } catch (const core::UsageError&) {
    return false;
  }
}

std::vector<std::string> prepare_bruco_function(const std::string& path, int& workers) {
  fs::path where = path;
  if (where.extension() == ".zip") {
    if (!fs::is_regular_file(where)) {
      throw core::UsageError("run " + path + ": no such file");
    }
    where = unpack_zip(where);
  }
  bruco::BrucoConfig config = bruco::read_bruco_config(fs::absolute(bruco::find_bruco_config(where)));
  for (const auto& [name, value] : config.processor.env) {
    ::setenv(name.c_str(), value.c_str(), 1);
  }
  install_requirements(config.file.parent_path());
  workers = config.processor.workers;
  std::vector<std::string> argv = {"wallaroo._bruco", "--bruco-handler-folder", config.handler_folder().string(),
                                   "--bruco-module", config.processor.module_name};
  if (const auto* http = std::get_if<bruco::HttpSourceSettings>(&config.source)) {
    argv.insert(argv.end(), {"--bruco-source", "http", "--bruco-http-port", std::to_string(http->port)});
    if (http->ignore_processor_response) {
      argv.push_back("--bruco-ignore-response");
    }
  } else {
    throw core::UsageError("run " + config.file.string() + ": source.kind: " +
                           (std::holds_alternative<bruco::KafkaSourceSettings>(config.source) ? "kafka" : "nats") +
                           " is not supported in Bruco mode yet (http is)");
  }
  if (config.sink) {
    throw core::UsageError("run " + config.file.string() + ": sink.kind: " +
                           (std::holds_alternative<bruco::KafkaSinkSettings>(*config.sink) ? "kafka" : "nats") +
                           " is not supported in Bruco mode yet (leave the sink out: outputs go back to the caller)");
  }
  return argv;
}

}  // namespace roo::cli
