#pragma once

#include "http_request_parser.hpp"

#include "roo/core/byte_stream.hpp"
#include "roo/core/listener.hpp"
#include "roo/io/http_exchange.hpp"

#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace roo::io {

class HttpExchangeCore;

/// One client of an HttpExchange: reads one request at a time, hands a POST to the exchange (which gives it a
/// request id and turns its body into a frame), and writes the answer the exchange gives it (the reply, 504 when no
/// reply came within reply_timeout, 503 at a stop), then reads the next request while the client keeps the
/// connection alive. Refuses bad input itself (400, 405, 413, 431). A POST sent with `Expect: 100-continue` gets
/// `100 Continue` once its header is read and accepted (a body over the limit gets 413 instead), so that the client
/// sends its body at once rather than after its own wait (curl's is 1 s).
///
/// The request path costs no allocation and no timer operation per request (bench/bruco, docs/benchmarks.md):
/// requests are parsed by Beast's parser into strings the connection reuses (HttpRequestParser); an answer is
/// written at once from the reply's bytes with one non-blocking send, and only what the socket did not take is
/// copied and written asynchronously; the read, reply and write timeouts are one deadline, moved by a store, that
/// one timer checks when it fires (re-armed then, or when the deadline moves earlier).
///
/// Runs on the exchange's strand, which its socket shares; shared_ptr because Asio handlers keep it alive. It
/// reaches the exchange weakly: the exchange holds its connections, not the other way round.
/// States: reading (header, maybe `100 Continue`, body) → (POST) awaiting_reply → writing → reading ...; closed at
/// the end.
class HttpExchangeConnection : public std::enable_shared_from_this<HttpExchangeConnection> {
 public:
  HttpExchangeConnection(core::TcpSocket socket, core::ListenerSlot slot, std::weak_ptr<HttpExchangeCore> exchange,
                         std::shared_ptr<const HttpExchangeConfig> config);

  /// Reads the next request. On the strand.
  void read_request();
  /// Answers the request it holds (awaiting_reply), with keep-alive if the client asked and no stop is under way.
  /// `body` need only live for the call. On the strand.
  void answer(unsigned status, std::string_view content_type, std::string_view body);
  /// Waits for request `id`'s reply, answering 504 if none comes within reply_timeout. On the strand.
  void await_reply(std::uint64_t id);
  /// A stop: closes at once if between requests or inside one; otherwise after its answer is written.
  void close_when_idle();

  [[nodiscard]] bool awaiting_reply() const { return state_ == State::awaiting_reply; }
  [[nodiscard]] std::uint64_t request_id() const { return request_id_; }
  [[nodiscard]] const std::string& peer() const { return peer_; }

 private:
  enum class State { reading, awaiting_reply, writing, lingering, closed };
  using Clock = std::chrono::steady_clock;
  using Timer = boost::asio::basic_waitable_timer<Clock, boost::asio::wait_traits<Clock>, core::Strand>;

  void read_more();
  void on_read(const boost::beast::error_code& error, std::size_t bytes);
  /// Parses what the buffer holds; asks for more, answers `100 Continue`, refuses, or takes the whole request.
  void parse();
  void write_continue();
  void on_request();
  void refuse(const boost::beast::error_code& error);
  /// Writes an answer whose head is in head_: at once as far as the socket takes it, the rest asynchronously.
  void write(std::string_view body, bool keep_alive);
  void on_written(const boost::beast::error_code& error, bool keep_alive);
  void linger();
  void drain();
  void close();

  /// The current state ends by `Clock::now() + after` (read, reply, write or linger timeout).
  void set_deadline(std::chrono::milliseconds after);
  void arm_timer(Clock::time_point at);
  void on_timer(const boost::system::error_code& error, Clock::time_point armed_at);
  void on_deadline();

  core::TcpSocket socket_;
  core::ListenerSlot slot_;
  std::weak_ptr<HttpExchangeCore> exchange_;
  std::shared_ptr<const HttpExchangeConfig> config_;
  std::string peer_;
  boost::beast::flat_buffer buffer_;
  std::string target_;  ///< the request's, kept between requests (its capacity)
  std::string body_;    ///< likewise
  std::optional<HttpRequestParser> parser_;
  bool continue_checked_ = false;  ///< whether this request's header was checked for `Expect: 100-continue`
  bool keep_alive_ = false;        ///< the request's
  unsigned version_ = 11;          ///< the request's
  std::string head_;               ///< the answer's status line and header
  std::string unsent_;             ///< what a write's first send did not take
  Timer timer_;
  Clock::time_point deadline_;
  std::optional<Clock::time_point> timer_at_;  ///< when the timer's pending wait ends (none pending: empty)
  std::array<char, 4096> discard_{};           ///< where a refused client's remaining bytes go (linger)
  std::uint64_t request_id_ = 0;
  State state_ = State::reading;
  bool closing_ = false;  ///< a stop: no next request
};

}  // namespace roo::io
