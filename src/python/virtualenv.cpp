#include "virtualenv.hpp"

#include "roo/core/error.hpp"

#include <patchlevel.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

namespace fs = std::filesystem;

namespace roo::python {
namespace {

/// "3.12.1.final.0" -> "3.12"; "" when the text is no version.
std::string major_minor(const std::string& version) {
  std::size_t first = version.find('.');
  if (first == std::string::npos || first == 0) {
    return "";
  }
  std::size_t second = version.find_first_not_of("0123456789", first + 1);
  std::string result = version.substr(0, second);
  return result.size() > first + 1 ? result : "";
}

/// The Python version a virtualenv was made from: pyvenv.cfg's `version_info` (virtualenv, uv) or `version`
/// (python -m venv); else the one lib/pythonX.Y folder it holds; "" when neither tells.
std::string virtualenv_version(const fs::path& venv) {
  std::map<std::string, std::string> config;
  std::ifstream cfg(venv / "pyvenv.cfg");
  for (std::string line; std::getline(cfg, line);) {
    std::size_t eq = line.find('=');
    if (eq == std::string::npos) {
      continue;
    }
    auto trim = [](std::string text) {
      text.erase(0, text.find_first_not_of(" \t"));
      text.erase(text.find_last_not_of(" \t\r") + 1);
      return text;
    };
    config[trim(line.substr(0, eq))] = trim(line.substr(eq + 1));
  }
  for (const char* key : {"version_info", "version"}) {
    if (auto found = config.find(key); found != config.end() && !major_minor(found->second).empty()) {
      return major_minor(found->second);
    }
  }
  std::string from_folder;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(venv / "lib", error)) {
    std::string name = entry.path().filename().string();
    if (entry.is_directory() && name.starts_with("python") && !major_minor(name.substr(6)).empty()) {
      if (!from_folder.empty()) {
        return "";  // several: undecided
      }
      from_folder = major_minor(name.substr(6));
    }
  }
  return from_folder;
}

}  // namespace

std::optional<std::string> virtualenv_site_packages() {
  const char* venv = std::getenv("VIRTUAL_ENV");
  if (venv == nullptr || *venv == '\0') {
    return std::nullopt;
  }
  std::string embedded = std::to_string(PY_MAJOR_VERSION) + "." + std::to_string(PY_MINOR_VERSION);
  if (std::string made_from = virtualenv_version(venv); !made_from.empty() && made_from != embedded) {
    throw core::UsageError("use the virtualenv " + std::string(venv) + " (VIRTUAL_ENV): this virtualenv is Python " +
                           made_from + "; Roo embeds " + embedded + " (make it with /usr/bin/python3 -m venv)");
  }
  return std::string(venv) + "/lib/python" + embedded + "/site-packages";
}

}  // namespace roo::python
