#pragma once

#include "roo/core/byte_stream.hpp"

#include <memory>
#include <string>

namespace roo::core {

/// Where a worker's (or a tool's) TLS identity comes from: --tls-cert, --tls-key, --tls-ca (PEM files).
struct TlsFiles {
  std::string cert;  ///< this side's certificate (chain), signed by the CA
  std::string key;   ///< its private key
  std::string ca;    ///< the CA every peer's certificate must be signed by
};

/// Mutual TLS for every connection of one worker (OpenSSL through Boost.Asio SSL): both ends present a certificate
/// signed by the CA and check the other's; TLS 1.2 or later. Peers are named by IP address, so the certificate's
/// name is not checked: being signed by the cluster's CA is what admits a peer. Immutable once loaded; shared by
/// every connection (any thread).
class TlsContext {
 public:
  /// Reads and checks the three files. Throws UsageError "load --tls-cert '<path>': <cause>" (or --tls-key,
  /// --tls-ca) when one is missing or not PEM, or the key does not match the certificate.
  [[nodiscard]] static std::shared_ptr<const TlsContext> load(const TlsFiles& files);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  /// The TLS stream over a connected socket, as the accepting (`server`) or the connecting side. Its
  /// async_handshake must complete before anything else.
  [[nodiscard]] std::unique_ptr<ByteStream> wrap(TcpSocket socket, bool server) const;

 private:
  struct Impl;
  explicit TlsContext(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace roo::core
