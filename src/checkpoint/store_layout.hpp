#pragma once

#include "manifest.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace roo::checkpoint {

/// The names of the checkpoint folder's files, shared by writing, recovery and retention.

/// Keeps letters, digits, '.', '_' and '-'; anything else (a '/', a space) becomes '_'.
[[nodiscard]] std::string safe_name(std::string_view name);

/// "snapshot-00000000000000000012.full" or ".delta".
[[nodiscard]] std::string snapshot_file_name(std::uint64_t checkpoint_id, bool full);

/// The manifests in `folder` by id, newest first. FileError when the folder cannot be listed.
[[nodiscard]] std::map<std::uint64_t, std::filesystem::path, std::greater<>> list_manifests(
    const std::filesystem::path& folder);

/// nullopt when the file is not a manifest; FileError when it cannot be read.
[[nodiscard]] std::optional<Manifest> read_manifest(const std::filesystem::path& path);

}  // namespace roo::checkpoint
