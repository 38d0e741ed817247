#pragma once

#include <string>
#include <string_view>

namespace roo::core {

/// A secret shared by the workers of a cluster (--cluster-secret-file), or by a cluster's external channel and
/// its clients (--external-secret-file). Held in memory only; never logged or sent. Immutable; any thread.
class SharedSecret {
 public:
  SharedSecret() = default;
  explicit SharedSecret(std::string bytes) : bytes_(std::move(bytes)) {}

  /// Reads the secret from `path`; one trailing newline ("\n" or "\r\n") is not part of it, so `echo s > f`
  /// works. Throws UsageError "read <flag> '<path>': <cause>" when the file is missing or unreadable, empty, or
  /// over 4096 bytes.
  [[nodiscard]] static SharedSecret load(const std::string& path, std::string_view flag);

  /// 32 fresh random bytes (OpenSSL RAND_bytes), as 64 hex digits. Throws Error when no randomness is available.
  [[nodiscard]] static SharedSecret generate();
  /// Writes the secret to a new file at `path`, readable by its owner only (0600). Throws Error "write the
  /// cluster secret to '<path>': <cause>".
  void save(const std::string& path) const;

  [[nodiscard]] bool empty() const { return bytes_.empty(); }
  [[nodiscard]] const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

}  // namespace roo::core
