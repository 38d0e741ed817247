#include "client_tls.hpp"

#include "roo/core/error.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cerrno>
#include <fstream>
#include <sys/socket.h>
#include <sys/time.h>

namespace roo::cli {
namespace {

std::string last_ssl_error() {
  unsigned long code = ERR_get_error();
  if (code == 0) {
    return "the TLS handshake failed";
  }
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

void require_readable(const std::string& path, const char* flag) {
  if (!std::ifstream(path)) {
    throw core::UsageError("load " + std::string(flag) + " '" + path + "': the file cannot be read");
  }
}

}  // namespace

std::optional<core::TlsFiles> tls_files(const std::optional<std::string>& cert, const std::optional<std::string>& key,
                                        const std::optional<std::string>& ca) {
  if (!cert && !key && !ca) {
    return std::nullopt;
  }
  if (!cert || !key || !ca) {
    throw core::UsageError("use TLS: give --tls-cert, --tls-key and --tls-ca together");
  }
  return core::TlsFiles{*cert, *key, *ca};
}

struct ClientTls::Impl {
  SSL_CTX* context = nullptr;
  SSL* session = nullptr;
  ~Impl() {
    if (session != nullptr) {
      SSL_shutdown(session);
      SSL_free(session);
    }
    if (context != nullptr) {
      SSL_CTX_free(context);
    }
  }
};

ClientTls::ClientTls(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ClientTls::~ClientTls() = default;

std::unique_ptr<ClientTls> ClientTls::start(int fd, const core::TlsFiles& files, const std::string& name,
                                            std::chrono::milliseconds timeout) {
  std::string action = "set up TLS with " + name + ": ";
  require_readable(files.cert, "--tls-cert");
  require_readable(files.key, "--tls-key");
  require_readable(files.ca, "--tls-ca");
  auto impl = std::make_unique<Impl>();
  impl->context = SSL_CTX_new(TLS_client_method());
  if (impl->context == nullptr || SSL_CTX_set_min_proto_version(impl->context, TLS1_2_VERSION) != 1) {
    throw core::Error(action + last_ssl_error());
  }
  if (SSL_CTX_use_certificate_chain_file(impl->context, files.cert.c_str()) != 1) {
    throw core::UsageError("load --tls-cert '" + files.cert + "': " + last_ssl_error());
  }
  if (SSL_CTX_use_PrivateKey_file(impl->context, files.key.c_str(), SSL_FILETYPE_PEM) != 1) {
    throw core::UsageError("load --tls-key '" + files.key + "': " + last_ssl_error());
  }
  if (SSL_CTX_load_verify_locations(impl->context, files.ca.c_str(), nullptr) != 1) {
    throw core::UsageError("load --tls-ca '" + files.ca + "': " + last_ssl_error());
  }
  SSL_CTX_set_verify(impl->context, SSL_VERIFY_PEER, nullptr);
  timeval limit{};
  limit.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  limit.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
  impl->session = SSL_new(impl->context);
  if (impl->session == nullptr || SSL_set_fd(impl->session, fd) != 1 || SSL_connect(impl->session) != 1) {
    throw core::Error(action + last_ssl_error());
  }
  return std::unique_ptr<ClientTls>(new ClientTls(std::move(impl)));
}

int ClientTls::write_all(const char* data, std::size_t size) {
  while (size > 0) {
    int written = SSL_write(impl_->session, data, static_cast<int>(std::min<std::size_t>(size, 1 << 30)));
    if (written <= 0) {
      return EPIPE;
    }
    data += written;
    size -= static_cast<std::size_t>(written);
  }
  return 0;
}

long ClientTls::read(char* data, std::size_t size) {
  int got = SSL_read(impl_->session, data, static_cast<int>(std::min<std::size_t>(size, 1 << 30)));
  if (got > 0) {
    return got;
  }
  return SSL_get_error(impl_->session, got) == SSL_ERROR_ZERO_RETURN ? 0 : -1;
}

bool ClientTls::has_pending() const { return SSL_pending(impl_->session) > 0; }

}  // namespace roo::cli
