#pragma once

#include "roo/core/tls_context.hpp"

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

namespace roo::cli {

/// The flags with which `roo ctl` and `roo shutdown` reach a secured worker's external channel: its external
/// secret and this client's TLS files.
struct ExternalClientFlags {
  std::optional<std::string> secret_file;  ///< --external-secret-file; else $ROO_EXTERNAL_SECRET_FILE
  std::optional<std::string> tls_cert;     ///< --tls-cert
  std::optional<std::string> tls_key;      ///< --tls-key
  std::optional<std::string> tls_ca;       ///< --tls-ca

  /// Adds the four flags to `command`, bound to this (which must outlive parsing).
  void add_to(CLI::App& command);
  /// The --tls-* files, or none. Throws core::UsageError when only some are given (cli::tls_files).
  [[nodiscard]] std::optional<core::TlsFiles> tls() const;
};

}  // namespace roo::cli
