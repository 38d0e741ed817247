#include "http_exchange_connection.hpp"

#include "http_answer.hpp"
#include "http_exchange_core.hpp"
#include "io_log.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/http/error.hpp>

#include <algorithm>

namespace roo::io {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

/// How long a refused client may go on sending (its body, say) after the error answer, so that it reads the answer
/// rather than a reset: what it sends meanwhile is read into a fixed buffer and dropped.
constexpr std::chrono::milliseconds linger_time{1000};

/// The most a read asks for at a time (Beast's http::read asks for as much).
constexpr std::size_t read_chunk_bytes = 64 * 1024;

}  // namespace

HttpExchangeConnection::HttpExchangeConnection(core::TcpSocket socket, core::ListenerSlot slot,
                                               std::weak_ptr<HttpExchangeCore> exchange,
                                               std::shared_ptr<const HttpExchangeConfig> config)
    : socket_(std::move(socket)),
      slot_(std::move(slot)),
      exchange_(std::move(exchange)),
      config_(std::move(config)),
      peer_(core::describe_remote(socket_)),
      // A header and the start of a body (or of a pipelined request) at a time; bodies go into body_ as parsed.
      buffer_(2 * config_->max_header_bytes + read_chunk_bytes),
      timer_(socket_.get_executor()) {
  boost::system::error_code ignored;
  socket_.non_blocking(true, ignored);  // write(): a send takes what the socket takes now, and never waits
}

void HttpExchangeConnection::read_request() {
  if (closing_ || state_ == State::closed) {
    close();
    return;
  }
  state_ = State::reading;
  parser_.emplace(target_, body_, config_->max_header_bytes, config_->max_body_bytes);
  continue_checked_ = false;
  set_deadline(config_->read_timeout);
  if (buffer_.size() == 0) {
    read_more();
    return;
  }
  // A pipelined request, already read: parsed from the strand's queue rather than here, so that answers given at
  // once (405, GET /healthz, ignore_response) do not nest one call deeper per request the buffer holds.
  asio::post(socket_.get_executor(), [self = shared_from_this()] {
    if (self->state_ == State::reading) {
      self->parse();
    }
  });
}

void HttpExchangeConnection::read_more() {
  if (buffer_.size() >= buffer_.max_size()) {
    refuse(http::error::buffer_overflow);
    return;
  }
  socket_.async_read_some(
      buffer_.prepare(beast::read_size(buffer_, read_chunk_bytes)),
      [self = shared_from_this()](const beast::error_code& error, std::size_t bytes) { self->on_read(error, bytes); });
}

void HttpExchangeConnection::on_read(const beast::error_code& error, std::size_t bytes) {
  if (state_ != State::reading) {
    return;
  }
  if (error) {
    close();  // the client closed or reset the connection (between requests or inside one): nothing to answer
    return;
  }
  buffer_.commit(bytes);
  parse();
}

void HttpExchangeConnection::parse() {
  while (!parser_->is_done()) {
    if (buffer_.size() == 0) {
      read_more();
      return;
    }
    beast::error_code error;
    buffer_.consume(parser_->put(buffer_.data(), error));
    if (error == http::error::need_more) {
      read_more();
      return;
    }
    if (error) {
      refuse(error);
      return;
    }
    if (parser_->is_header_done() && !continue_checked_) {
      continue_checked_ = true;
      parser_->eager(true);  // the header was parsed alone (to answer Expect first); the body in as few calls
      // A POST whose client waits for `100 Continue` before its body (none of the body has come yet).
      if (parser_->method() == http::verb::post && parser_->version() >= 11 && buffer_.size() == 0 &&
          !parser_->is_done() && parser_->expects_continue()) {
        write_continue();
        return;
      }
    }
  }
  on_request();
}

void HttpExchangeConnection::write_continue() {
  static constexpr std::string_view interim = "HTTP/1.1 100 Continue\r\n\r\n";
  set_deadline(config_->write_timeout);
  asio::async_write(socket_, asio::buffer(interim.data(), interim.size()),
                    [self = shared_from_this()](const beast::error_code& error, std::size_t) {
                      if (self->state_ != State::reading) {
                        return;
                      }
                      if (error) {
                        self->close();
                        return;
                      }
                      self->set_deadline(self->config_->read_timeout);
                      self->parse();
                    });
}

void HttpExchangeConnection::on_request() {
  auto exchange = exchange_.lock();
  if (!exchange) {
    close();
    return;
  }
  state_ = State::awaiting_reply;
  keep_alive_ = parser_->keep_alive();
  version_ = parser_->version();
  if (parser_->method() == http::verb::post) {
    exchange->on_request(shared_from_this(), body_);  // answers at once, or calls await_reply
    return;
  }
  if (parser_->method() == http::verb::get && target_ == "/healthz") {
    answer(200, "text/plain", "ok");
    return;
  }
  static constexpr std::string_view refusal = "only POST is served here\n";
  bool keep_alive = keep_alive_ && !closing_;
  head_.clear();
  append_http_answer_head(head_, version_, 405, "Allow: POST\r\n", "text/plain", keep_alive, refusal.size());
  write(refusal, keep_alive);
}

void HttpExchangeConnection::await_reply(std::uint64_t id) {
  request_id_ = id;
  set_deadline(config_->reply_timeout);
}

void HttpExchangeConnection::answer(unsigned status, std::string_view content_type, std::string_view body) {
  if (state_ != State::awaiting_reply) {
    return;
  }
  bool keep_alive = keep_alive_ && !closing_;
  head_.clear();
  append_http_answer_head(head_, version_, status, {}, content_type, keep_alive, body.size());
  write(http_status_has_body(status) ? body : std::string_view{}, keep_alive);
}

void HttpExchangeConnection::close_when_idle() {
  closing_ = true;
  if (state_ == State::reading) {
    close();  // between requests, or inside one that was not handed over: nothing to answer
  }
}

// Bad input: a request over a limit or not HTTP gets its status and the connection closes.
void HttpExchangeConnection::refuse(const beast::error_code& error) {
  io_logger()->debug("http_source '{}': refused a request from {}: {}", config_->name, peer_, error.message());
  unsigned status = 400;
  std::string body;
  if (error == http::error::header_limit) {
    status = 431;
    body = "request header over " + std::to_string(config_->max_header_bytes) + " bytes\n";
  } else if (error == http::error::body_limit) {
    status = 413;
    body = "request body over " + std::to_string(config_->max_body_bytes) + " bytes\n";
  } else {
    body = "bad request: " + error.message() + "\n";
  }
  closing_ = true;
  head_.clear();
  append_http_answer_head(head_, 11, status, {}, "text/plain", false, body.size());
  write(body, false);
}

void HttpExchangeConnection::write(std::string_view body, bool keep_alive) {
  state_ = State::writing;
  std::array<asio::const_buffer, 2> answer{asio::buffer(head_), asio::buffer(body.data(), body.size())};
  beast::error_code error;
  std::size_t sent = socket_.write_some(answer, error);  // non-blocking: what the socket takes now
  if (!error && sent == head_.size() + body.size()) {
    on_written({}, keep_alive);
    return;
  }
  if (error && error != asio::error::would_block && error != asio::error::interrupted) {
    // As an asynchronous write's failure would: later, not inside the caller (the exchange answering a batch).
    asio::post(socket_.get_executor(),
               [self = shared_from_this(), error, keep_alive] { self->on_written(error, keep_alive); });
    return;
  }
  if (error) {
    sent = 0;
  }
  // The client is slow to read: the rest waits in unsent_ (the reply's bytes are not ours to keep).
  unsent_.clear();
  if (sent < head_.size()) {
    unsent_.append(head_, sent);
    unsent_.append(body);
  } else {
    unsent_.append(body.substr(sent - head_.size()));
  }
  set_deadline(config_->write_timeout);
  asio::async_write(socket_, asio::buffer(unsent_),
                    [self = shared_from_this(), keep_alive](const beast::error_code& failed, std::size_t) {
                      self->on_written(failed, keep_alive);
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
  deadline_ = Clock::time_point::max();  // none while paused for the mailbox's room: read_request sets the next
  if (auto exchange = exchange_.lock()) {
    exchange->want_read(shared_from_this());
  } else {
    close();
  }
}

// Sends FIN and reads (dropping it) what the client still sends, for up to linger_time in all: a client still
// writing its request (a body over the limit) then reads the answer instead of a reset.
void HttpExchangeConnection::linger() {
  state_ = State::lingering;  // not `reading`: a stop must not cut this short
  beast::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  set_deadline(linger_time);  // one deadline for every read below
  drain();
}

void HttpExchangeConnection::drain() {
  socket_.async_read_some(asio::buffer(discard_),
                          [self = shared_from_this()](const beast::error_code& error, std::size_t) {
                            if (self->state_ != State::lingering) {
                              return;
                            }
                            if (error) {
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
  timer_.cancel();
  timer_at_.reset();
  beast::error_code ignored;
  socket_.close(ignored);
  slot_.release();
  if (auto exchange = exchange_.lock()) {
    exchange->connection_closed(this);
  }
}

void HttpExchangeConnection::set_deadline(std::chrono::milliseconds after) {
  deadline_ = Clock::now() + after;
  if (!timer_at_ || deadline_ < *timer_at_) {
    arm_timer(deadline_);
  }
}

void HttpExchangeConnection::arm_timer(Clock::time_point at) {
  timer_at_ = at;
  timer_.expires_at(at);  // a wait still pending ends with operation_aborted, which on_timer ignores
  timer_.async_wait(
      [self = shared_from_this(), at](const boost::system::error_code& error) { self->on_timer(error, at); });
}

// Deadlines mostly move later (one per request): the timer fires at the one it was armed for, then waits again for
// the current one, if any, or acts on it.
void HttpExchangeConnection::on_timer(const boost::system::error_code& error, Clock::time_point armed_at) {
  if (error || state_ == State::closed || timer_at_ != armed_at) {
    return;  // cancelled, or armed again since (a deadline moved earlier)
  }
  timer_at_.reset();
  if (deadline_ == Clock::time_point::max()) {
    return;
  }
  if (Clock::now() < deadline_) {
    arm_timer(deadline_);
    return;
  }
  on_deadline();
}

void HttpExchangeConnection::on_deadline() {
  deadline_ = Clock::time_point::max();
  switch (state_) {
    case State::awaiting_reply:
      if (auto exchange = exchange_.lock()) {
        exchange->forget(request_id_);
      }
      io_logger()->debug("http_source '{}': request {} from {} got no reply within {} ms; answered 504", config_->name,
                         request_id_, peer_, config_->reply_timeout.count());
      answer(504, "text/plain", "no reply within " + std::to_string(config_->reply_timeout.count()) + " ms\n");
      return;
    case State::writing:
      io_logger()->debug("http_source '{}': could not answer {}: it took nothing within {} ms", config_->name, peer_,
                         config_->write_timeout.count());
      close();
      return;
    case State::reading:    // a client silent between requests or inside one (or too slow to take `100 Continue`)
    case State::lingering:  // a refused client's last bytes
      close();
      return;
    case State::closed:
      return;
  }
}

}  // namespace roo::io
