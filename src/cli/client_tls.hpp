#pragma once

#include "roo/core/tls_context.hpp"

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

namespace roo::cli {

/// The three --tls-* flags as files, or none when none is given. Throws core::UsageError "use TLS: give --tls-cert,
/// --tls-key and --tls-ca together" when only some are.
[[nodiscard]] std::optional<core::TlsFiles> tls_files(const std::optional<std::string>& cert,
                                                      const std::optional<std::string>& key,
                                                      const std::optional<std::string>& ca);

/// TLS on a tool's blocking client socket (roo ctl, roo shutdown to workers started with --tls-*): this side's
/// certificate, the worker's checked against the CA (OpenSSL). Owns the session, not the socket.
class ClientTls {
 public:
  /// Handshakes on the connected blocking socket `fd` within `timeout`. Throws core::Error "set up TLS with
  /// <name>: <why>", core::UsageError for unreadable files.
  [[nodiscard]] static std::unique_ptr<ClientTls> start(int fd, const core::TlsFiles& files, const std::string& name,
                                                        std::chrono::milliseconds timeout);
  ~ClientTls();
  ClientTls(const ClientTls&) = delete;
  ClientTls& operator=(const ClientTls&) = delete;

  /// Writes every byte; 0, or an errno-like code (EPIPE) when the session ended.
  [[nodiscard]] int write_all(const char* data, std::size_t size);
  /// Reads up to `size` bytes (blocks until some arrive); 0 when the worker closed, -1 on an error.
  [[nodiscard]] long read(char* data, std::size_t size);
  /// Decrypted bytes buffered already (read them before polling the socket).
  [[nodiscard]] bool has_pending() const;

 private:
  struct Impl;
  explicit ClientTls(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace roo::cli
