#pragma once

#include "roo/core/byte_stream.hpp"
#include "roo/core/listener.hpp"
#include "roo/io/http_exchange.hpp"

#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <array>
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
  /// On the strand.
  void answer(unsigned status, std::string_view content_type, std::string body);
  /// Waits for request `id`'s reply, answering 504 if none comes within reply_timeout. On the strand.
  void await_reply(std::uint64_t id);
  /// A stop: closes at once if between requests or inside one; otherwise after its answer is written.
  void close_when_idle();

  [[nodiscard]] bool awaiting_reply() const { return state_ == State::awaiting_reply; }
  [[nodiscard]] std::uint64_t request_id() const { return request_id_; }
  [[nodiscard]] const std::string& peer() const { return peer_; }

 private:
  enum class State { reading, awaiting_reply, writing, closed };
  using Response = boost::beast::http::response<boost::beast::http::string_body>;

  void on_header(const boost::beast::error_code& error);
  [[nodiscard]] bool expects_continue() const;
  void write_continue();
  void read_body();
  void on_read(const boost::beast::error_code& error);
  void on_request();
  void refuse(const boost::beast::error_code& error);
  void write(Response response, bool keep_alive);
  void on_written(const boost::beast::error_code& error, bool keep_alive);
  void linger();
  void drain();
  void close();

  boost::beast::basic_stream<boost::asio::ip::tcp, core::Strand> stream_;
  core::ListenerSlot slot_;
  std::weak_ptr<HttpExchangeCore> exchange_;
  std::shared_ptr<const HttpExchangeConfig> config_;
  std::string peer_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  boost::beast::http::request<boost::beast::http::string_body> request_;
  Response response_;
  boost::asio::basic_waitable_timer<std::chrono::steady_clock, boost::asio::wait_traits<std::chrono::steady_clock>,
                                    core::Strand>
      reply_timer_;
  std::array<char, 4096> discard_{};  ///< where a refused client's remaining bytes go (linger)
  std::uint64_t request_id_ = 0;
  State state_ = State::reading;
  bool closing_ = false;  ///< a stop: no next request
};

}  // namespace roo::io
