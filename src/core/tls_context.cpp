#include "roo/core/tls_context.hpp"

#include "roo/core/error.hpp"

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>

#include <fstream>

namespace roo::core {
namespace {

namespace ssl = asio::ssl;

/// TLS over one TCP socket; handlers run on the socket's strand.
class TlsStream final : public ByteStream {
 public:
  TlsStream(TcpSocket socket, ssl::context& context, bool server)
      : stream_(std::move(socket), context), server_(server) {
    boost::system::error_code ignored;
    stream_.next_layer().set_option(asio::ip::tcp::no_delay(true), ignored);
  }
  void async_handshake(std::function<void(const boost::system::error_code&)> done) override {
    stream_.async_handshake(server_ ? ssl::stream_base::server : ssl::stream_base::client, std::move(done));
  }
  void async_read_some(asio::mutable_buffer buffer, Handler handler) override {
    stream_.async_read_some(buffer, std::move(handler));
  }
  void async_write(const std::vector<asio::const_buffer>& buffers, Handler handler) override {
    asio::async_write(stream_, buffers, std::move(handler));
  }
  void close() override {
    boost::system::error_code ignored;
    stream_.next_layer().shutdown(asio::socket_base::shutdown_both, ignored);
    stream_.next_layer().close(ignored);
  }
  [[nodiscard]] std::string remote() const override { return describe_remote(stream_.next_layer()); }
  [[nodiscard]] Strand strand() override { return stream_.get_executor(); }

 private:
  ssl::stream<TcpSocket> stream_;
  bool server_;
};

void require_readable(const std::string& path, const char* flag) {
  std::ifstream file(path);
  if (!file) {
    throw UsageError("load " + std::string(flag) + " '" + path + "': the file cannot be read");
  }
}

std::string ssl_cause(const boost::system::error_code& error) {
  std::string text = describe_error(error);
  return text.empty() ? "not a usable PEM file" : text;
}

}  // namespace

struct TlsContext::Impl {
  ssl::context context{ssl::context::tls};
};

TlsContext::TlsContext(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TlsContext::~TlsContext() = default;

std::shared_ptr<const TlsContext> TlsContext::load(const TlsFiles& files) {
  auto impl = std::make_unique<Impl>();
  auto& context = impl->context;
  context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                      ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  boost::system::error_code error;
  require_readable(files.cert, "--tls-cert");
  if (context.use_certificate_chain_file(files.cert, error)) {
    throw UsageError("load --tls-cert '" + files.cert + "': " + ssl_cause(error));
  }
  require_readable(files.key, "--tls-key");
  if (context.use_private_key_file(files.key, ssl::context::pem, error)) {
    throw UsageError("load --tls-key '" + files.key + "': " + ssl_cause(error));
  }
  require_readable(files.ca, "--tls-ca");
  if (context.load_verify_file(files.ca, error)) {
    throw UsageError("load --tls-ca '" + files.ca + "': " + ssl_cause(error));
  }
  // Both sides present a certificate and must be signed by the CA.
  context.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  return std::shared_ptr<const TlsContext>(new TlsContext(std::move(impl)));
}

std::unique_ptr<ByteStream> TlsContext::wrap(TcpSocket socket, bool server) const {
  return std::make_unique<TlsStream>(std::move(socket), impl_->context, server);
}

}  // namespace roo::core
