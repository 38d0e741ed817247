#include "http_exchange_connection.hpp"

#include "http_exchange_core.hpp"
#include "io_log.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <chrono>

namespace roo::io {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;

/// How long a refused client may go on sending (its body, say) after the error answer, so that it reads the answer
/// rather than a reset: what it sends meanwhile is read into a fixed buffer and dropped.
constexpr std::chrono::seconds linger_time{1};

/// Ends of a connection that are nobody's fault and need no answer: the client closed or reset it, went silent,
/// or the exchange closed it.
bool is_quiet_end(const beast::error_code& error) {
  return error == http::error::end_of_stream || error == http::error::partial_message ||
         error == beast::error::timeout || error.category() != http::make_error_code(http::error::end_of_stream).category();
}

}  // namespace

HttpExchangeConnection::HttpExchangeConnection(core::TcpSocket socket, core::ListenerSlot slot,
                                               std::weak_ptr<HttpExchangeCore> exchange,
                                               std::shared_ptr<const HttpExchangeConfig> config)
    : stream_(std::move(socket)),
      slot_(std::move(slot)),
      exchange_(std::move(exchange)),
      config_(std::move(config)),
      peer_(core::describe_remote(stream_.socket())),
      // A header and the start of a body (or of a pipelined request) at a time; bodies go into the parser's body.
      buffer_(2 * config_->max_header_bytes + 64 * 1024),
      reply_timer_(stream_.get_executor()) {}

void HttpExchangeConnection::read_request() {
  if (closing_ || state_ == State::closed) {
    close();
    return;
  }
  state_ = State::reading;
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(config_->max_header_bytes));
  parser_->body_limit(config_->max_body_bytes);
  stream_.expires_after(config_->read_timeout);
  http::async_read_header(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](const beast::error_code& error, std::size_t) { self->on_header(error); });
}

void HttpExchangeConnection::on_header(const beast::error_code& error) {
  if (state_ == State::closed) {
    return;
  }
  if (error) {
    refuse(error);
    return;
  }
  if (expects_continue()) {
    write_continue();
    return;
  }
  read_body();
}

// A POST whose client waits for `100 Continue` before its body (none of the body has come yet).
bool HttpExchangeConnection::expects_continue() const {
  const auto& header = parser_->get();
  return header.method() == http::verb::post && header.version() >= 11 && buffer_.size() == 0 && !parser_->is_done() &&
         beast::iequals(header[http::field::expect], "100-continue");
}

void HttpExchangeConnection::write_continue() {
  static constexpr std::string_view interim = "HTTP/1.1 100 Continue\r\n\r\n";
  stream_.expires_after(config_->write_timeout);
  boost::asio::async_write(stream_, boost::asio::buffer(interim.data(), interim.size()),
                           [self = shared_from_this()](const beast::error_code& error, std::size_t) {
                             if (self->state_ == State::closed) {
                               return;
                             }
                             if (error) {
                               self->close();
                               return;
                             }
                             self->stream_.expires_after(self->config_->read_timeout);
                             self->read_body();
                           });
}

// The body's bytes that came with the header (usually all of it) are parsed here, without another asynchronous
// operation; only what has not come yet is read.
void HttpExchangeConnection::read_body() {
  beast::error_code parsed;
  if (!parser_->is_done() && buffer_.size() > 0) {
    parser_->eager(true);
    buffer_.consume(parser_->put(buffer_.data(), parsed));
  }
  if (parser_->is_done()) {
    on_read({});
    return;
  }
  if (parsed && parsed != http::error::need_more) {
    refuse(parsed);
    return;
  }
  http::async_read(stream_, buffer_, *parser_,
                   [self = shared_from_this()](const beast::error_code& error, std::size_t) { self->on_read(error); });
}

void HttpExchangeConnection::on_read(const beast::error_code& error) {
  if (state_ == State::closed) {
    return;
  }
  if (error) {
    refuse(error);
    return;
  }
  request_ = parser_->release();
  on_request();
}

void HttpExchangeConnection::on_request() {
  auto exchange = exchange_.lock();
  if (!exchange) {
    close();
    return;
  }
  state_ = State::awaiting_reply;
  if (request_.method() == http::verb::post) {
    exchange->on_request(shared_from_this(), request_.body());  // answers at once, or calls await_reply
    return;
  }
  if (request_.method() == http::verb::get && request_.target() == "/healthz") {
    answer(200, "text/plain", "ok");
    return;
  }
  Response response{http::status::method_not_allowed, request_.version()};
  response.set(http::field::allow, "POST");
  response.set(http::field::content_type, "text/plain");
  response.body() = "only POST is served here\n";
  write(std::move(response), request_.keep_alive() && !closing_);
}

void HttpExchangeConnection::await_reply(std::uint64_t id) {
  request_id_ = id;
  reply_timer_.expires_after(config_->reply_timeout);
  reply_timer_.async_wait([self = shared_from_this(), id](const boost::system::error_code& error) {
    if (error || self->state_ != State::awaiting_reply || self->request_id_ != id) {
      return;
    }
    if (auto exchange = self->exchange_.lock()) {
      exchange->forget(id);
    }
    io_logger()->debug("http_source '{}': request {} from {} got no reply within {} ms; answered 504",
                       self->config_->name, id, self->peer_, self->config_->reply_timeout.count());
    self->answer(504, "text/plain",
                 "no reply within " + std::to_string(self->config_->reply_timeout.count()) + " ms\n");
  });
}

void HttpExchangeConnection::answer(unsigned status, std::string_view content_type, std::string body) {
  if (state_ != State::awaiting_reply) {
    return;
  }
  reply_timer_.cancel();
  Response response;
  response.result(status);
  response.version(request_.version());
  if (!content_type.empty()) {
    response.set(http::field::content_type, beast::string_view(content_type.data(), content_type.size()));
  }
  response.body() = std::move(body);
  write(std::move(response), request_.keep_alive() && !closing_);
}

void HttpExchangeConnection::close_when_idle() {
  closing_ = true;
  if (state_ == State::reading) {
    close();  // between requests, or inside one that was not handed over: nothing to answer
  }
}

// Bad input: a request over a limit or not HTTP gets its status and the connection closes; a closed, reset or
// silent connection just ends.
void HttpExchangeConnection::refuse(const beast::error_code& error) {
  if (is_quiet_end(error)) {
    close();
    return;
  }
  io_logger()->debug("http_source '{}': refused a request from {}: {}", config_->name, peer_, error.message());
  Response response;
  response.version(11);
  response.set(http::field::content_type, "text/plain");
  if (error == http::error::header_limit) {
    response.result(http::status::request_header_fields_too_large);
    response.body() = "request header over " + std::to_string(config_->max_header_bytes) + " bytes\n";
  } else if (error == http::error::body_limit) {
    response.result(http::status::payload_too_large);
    response.body() = "request body over " + std::to_string(config_->max_body_bytes) + " bytes\n";
  } else {
    response.result(http::status::bad_request);
    response.body() = "bad request: " + error.message() + "\n";
  }
  closing_ = true;
  write(std::move(response), false);
}

void HttpExchangeConnection::write(Response response, bool keep_alive) {
  state_ = State::writing;
  response_ = std::move(response);
  response_.keep_alive(keep_alive);
  response_.prepare_payload();
  stream_.expires_after(config_->write_timeout);
  http::async_write(stream_, response_,
                    [self = shared_from_this(), keep_alive](const beast::error_code& error, std::size_t) {
                      self->on_written(error, keep_alive);
                    });
}

void HttpExchangeConnection::on_written(const beast::error_code& error, bool keep_alive) {
  if (state_ == State::closed) {
    return;
  }
  if (error) {
    io_logger()->debug("http_source '{}': could not answer {}: {}", config_->name, peer_, error.message());
    close();
    return;
  }
  if (!keep_alive || closing_) {
    linger();
    return;
  }
  state_ = State::reading;
  if (auto exchange = exchange_.lock()) {
    exchange->want_read(shared_from_this());
  } else {
    close();
  }
}

// Sends FIN and reads (dropping it) what the client still sends, for up to linger_time in all: a client still
// writing its request (a body over the limit) then reads the answer instead of a reset.
void HttpExchangeConnection::linger() {
  state_ = State::writing;  // not `reading`: a stop must not cut this short
  beast::error_code ignored;
  stream_.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
  stream_.expires_after(linger_time);  // one deadline for every read below
  drain();
}

void HttpExchangeConnection::drain() {
  stream_.async_read_some(boost::asio::buffer(discard_),
                          [self = shared_from_this()](const beast::error_code& error, std::size_t) {
                            if (error || self->state_ == State::closed) {
                              self->close();
                              return;
                            }
                            self->drain();
                          });
}

void HttpExchangeConnection::close() {
  if (state_ == State::closed) {
    return;
  }
  auto self = shared_from_this();  // the exchange lets go of it below
  state_ = State::closed;
  reply_timer_.cancel();
  beast::error_code ignored;
  stream_.socket().close(ignored);
  slot_.release();
  if (auto exchange = exchange_.lock()) {
    exchange->connection_closed(this);
  }
}

}  // namespace roo::io
