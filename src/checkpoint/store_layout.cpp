#include "store_layout.hpp"

#include "durable_file.hpp"

#include <fmt/format.h>

#include <vector>

namespace roo::checkpoint {

std::string safe_name(std::string_view name) {
  std::string out;
  for (char c : name) {
    bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                c == '_' || c == '-';
    out += keep ? c : '_';
  }
  // "" "." and ".." would name the parent folder or nothing.
  if (out.empty() || out == "." || out == "..") {
    out = "_" + out;
  }
  return out;
}

std::string snapshot_file_name(std::uint64_t checkpoint_id, bool full) {
  return fmt::format("snapshot-{:020}.{}", checkpoint_id, full ? "full" : "delta");
}

std::map<std::uint64_t, std::filesystem::path, std::greater<>> list_manifests(const std::filesystem::path& folder) {
  std::map<std::uint64_t, std::filesystem::path, std::greater<>> out;
  std::error_code error;
  for (std::filesystem::directory_iterator it(folder, error), end; !error && it != end; it.increment(error)) {
    if (auto id = manifest_id(it->path().filename().string())) {
      out.emplace(*id, it->path());
    }
  }
  if (error) {
    throw FileError(folder, describe_errno(error.value()));
  }
  return out;
}

std::optional<Manifest> read_manifest(const std::filesystem::path& path) {
  std::vector<char> bytes = read_whole_file(path);
  return parse_manifest(std::string_view(bytes.data(), bytes.size()));
}

}  // namespace roo::checkpoint
