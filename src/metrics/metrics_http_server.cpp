#include "metrics_http_server.hpp"

#include "roo/core/listener.hpp"
#include "roo/core/logging.hpp"

#include <boost/asio/post.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <optional>
#include <utility>

namespace roo::metrics {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Stream = beast::basic_stream<asio::ip::tcp, core::Strand>;

/// One client connection: reads a request, answers it, and reads the next while the client keeps it alive. One
/// request at a time (a pipelined one waits in the buffer). Lives as long as its pending handlers (shared_ptr);
/// runs on the server's strand, which its socket shares.
class HttpConnection : public std::enable_shared_from_this<HttpConnection> {
 public:
  HttpConnection(core::TcpSocket socket, core::ListenerSlot slot, std::shared_ptr<const MetricsHttpRoutes> routes)
      : stream_(std::move(socket)), slot_(std::move(slot)), routes_(std::move(routes)) {}

  void read_request() {
    parser_.emplace();
    parser_->header_limit(MetricsHttpServer::max_header_bytes);
    parser_->body_limit(0);
    stream_.expires_after(MetricsHttpServer::read_timeout);
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](const beast::error_code& error,
                                                                            std::size_t) { self->on_read(error); });
  }

 private:
  void on_read(const beast::error_code& error) {
    if (error) {
      refuse(error);
      return;
    }
    request_ = parser_->release();
    routes_->answer(request_, [self = shared_from_this()](HttpResponse response) {
      asio::post(self->stream_.get_executor(),
                 [self, response = std::move(response)]() mutable { self->write(std::move(response), true); });
    });
  }

  /// A request that broke a limit or the protocol gets its error status; a closed, reset or silent connection
  /// (timeout) just ends.
  void refuse(const beast::error_code& error) {
    if (error.category() != http::make_error_code(http::error::end_of_stream).category() ||
        error == http::error::end_of_stream || error == http::error::partial_message) {
      return;
    }
    core::module_logger("metrics")->debug("metrics endpoint: refused a request from {}: {}",
                                          core::describe_remote(stream_.socket()), error.message());
    if (error == http::error::header_limit) {
      write(text_response(http::status::request_header_fields_too_large, "request header too large\n"), false);
    } else if (error == http::error::body_limit || error == http::error::unexpected_body) {
      write(text_response(http::status::payload_too_large, "requests take no body\n"), false);
    } else {
      write(text_response(http::status::bad_request, "bad request: " + error.message() + "\n"), false);
    }
  }

  void write(HttpResponse response, bool answering) {
    response_ = std::move(response);
    response_.version(answering ? request_.version() : 11);
    response_.keep_alive(answering && request_.keep_alive());
    response_.prepare_payload();
    if (answering && request_.method() == http::verb::head) {
      response_.body().clear();  // Content-Length stays the GET answer's
    }
    stream_.expires_after(MetricsHttpServer::write_timeout);
    http::async_write(stream_, response_,
                      [self = shared_from_this()](const beast::error_code& error, std::size_t) {
                        self->on_written(error);
                      });
  }

  void on_written(const beast::error_code& error) {
    if (error) {
      return;
    }
    if (!response_.keep_alive()) {
      beast::error_code ignored;
      stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
      return;
    }
    read_request();
  }

  Stream stream_;
  core::ListenerSlot slot_;
  std::shared_ptr<const MetricsHttpRoutes> routes_;
  beast::flat_buffer buffer_{2 * MetricsHttpServer::max_header_bytes};  // its limit: a header and a pipelined one
  std::optional<http::request_parser<http::empty_body>> parser_;
  HttpRequest request_;
  HttpResponse response_;
};

}  // namespace

MetricsHttpServer::MetricsHttpServer(asio::io_context& io, const core::Endpoint& where, MetricsHttpRoutes routes)
    : strand_(asio::make_strand(io)),
      routes_(std::make_shared<const MetricsHttpRoutes>(std::move(routes))),
      listener_(core::Listener::make(strand_,
                                     core::ListenerConfig{.what = "the metrics endpoint (--metrics-http)",
                                                          .log_prefix = "metrics endpoint",
                                                          .logger = core::module_logger("metrics"),
                                                          .max_connections = max_connections})),
      address_(listener_->listen(where)) {}

MetricsHttpServer::~MetricsHttpServer() = default;

void MetricsHttpServer::start() {
  core::module_logger("metrics")->info("serving metrics on http://{}/ (/metrics for Prometheus, / the dashboard)",
                                       address_.to_string());
  asio::post(strand_, [listener = listener_, routes = routes_] {
    listener->start([routes](core::TcpSocket socket, core::ListenerSlot slot) {
      std::make_shared<HttpConnection>(std::move(socket), std::move(slot), routes)->read_request();
    });
  });
}

void MetricsHttpServer::close() {
  // The metrics thread is the only one running the io_context, so this is serial with the listener's strand.
  listener_->close();
}

}  // namespace roo::metrics
