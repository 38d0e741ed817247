#pragma once

#include <filesystem>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace roo::checkpoint {

/// A file operation that failed: which file and the OS's reason ("no space left on device"). The store words it
/// into a core::Error with what it was doing.
class FileError : public std::runtime_error {
 public:
  FileError(std::filesystem::path path, std::string cause)
      : std::runtime_error(path.string() + ": " + cause), path_(std::move(path)), cause_(std::move(cause)) {}
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  [[nodiscard]] const std::string& cause() const { return cause_; }

 private:
  std::filesystem::path path_;
  std::string cause_;
};

/// errno as Roo prints OS errors: strerror's text with a lower-case first letter ("permission denied").
[[nodiscard]] std::string describe_errno(int error);

/// Writes `pieces` one after another to `temporary`, fsyncs it, renames it to `path` and fsyncs the directory, so
/// `path` holds either its old content or all of the new one, even after a crash. On failure the temporary file is
/// removed and FileError names `path`.
void write_file_durably(const std::filesystem::path& path, const std::filesystem::path& temporary,
                        std::initializer_list<std::string_view> pieces);

/// Fsyncs a directory, so renames and removals in it survive a crash.
void sync_directory(const std::filesystem::path& dir);

/// The whole content of `path`.
[[nodiscard]] std::vector<char> read_whole_file(const std::filesystem::path& path);

}  // namespace roo::checkpoint
