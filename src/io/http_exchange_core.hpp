#pragma once

#include "roo/core/batch_pool.hpp"
#include "roo/core/bounded_mailbox.hpp"
#include "roo/core/byte_stream.hpp"
#include "roo/core/frame_batch.hpp"
#include "roo/core/listener.hpp"
#include "roo/io/http_exchange.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace roo::io {

class HttpExchangeConnection;

/// What HttpExchange (include/roo/io/http_exchange.hpp) hides: the listener, the connections, the requests waiting
/// for their reply (by request id), and the batch of frames being filled for the executor's mailbox.
/// Everything but start() and the counters runs on strand(); shared_ptr because the Asio handlers, the mailbox's
/// room callback and the faces may outlive one another.
class HttpExchangeCore : public std::enable_shared_from_this<HttpExchangeCore> {
 public:
  HttpExchangeCore(boost::asio::io_context& io, HttpExchangeConfig config,
                   core::BoundedMailbox<core::FrameBatch>& mailbox, core::BatchPool& pool);

  [[nodiscard]] core::Strand& strand() { return strand_; }
  [[nodiscard]] const HttpExchangeConfig& config() const { return *config_; }

  // The source face. start(): any thread, once; the rest on the strand.
  void start();
  void stop_source(std::function<void()> on_stopped);
  [[nodiscard]] core::Endpoint local_endpoint() const { return local_; }

  // The reply face.
  /// A reply sink will answer the requests (before start()).
  void attach_reply_sink() { ++reply_sinks_; }
  /// Answers each request `stream`'s records name; one error line naming `sink_name` for a malformed stream.
  void deliver_replies(const std::string& sink_name, std::string_view stream);
  /// The reply sink stops: every request still waiting gets 503, connections close, then `on_stopped`.
  void finish_replies(std::function<void()> on_stopped);
  [[nodiscard]] std::uint64_t unknown_replies() const { return unknown_replies_.load(std::memory_order_relaxed); }

  // For the connections (on the strand).
  /// A POST's body: becomes a frame; the connection is answered `200 ok` at once (ignore_response) or waits.
  void on_request(const std::shared_ptr<HttpExchangeConnection>& connection, std::string_view body);
  /// `connection` wants to read its next request: now, or once the requests read before it were handed over.
  void want_read(const std::shared_ptr<HttpExchangeConnection>& connection);
  /// Request `id` is no longer waiting (answered 504, or its connection closed).
  void forget(std::uint64_t id);
  void connection_closed(HttpExchangeConnection* connection);

 private:
  void on_accept(core::TcpSocket socket, core::ListenerSlot slot);
  [[nodiscard]] core::ListenerConfig listener_config() const;
  void append_frame(std::uint64_t id, std::string_view body);
  void hand_over();
  void push_batch();
  void on_room();
  void resume_paused();
  void answer_waiting(unsigned status, std::string_view body);
  void close_connections();
  void maybe_finish();
  [[nodiscard]] bool answers_itself() const { return config_->ignore_response || reply_sinks_ == 0; }

  core::Strand strand_;
  std::shared_ptr<const HttpExchangeConfig> config_;
  core::BoundedMailbox<core::FrameBatch>& mailbox_;
  core::BatchPool& pool_;
  std::shared_ptr<core::Listener> listener_;
  core::Endpoint local_;
  std::unordered_map<HttpExchangeConnection*, std::shared_ptr<HttpExchangeConnection>> connections_;
  std::unordered_map<std::uint64_t, std::shared_ptr<HttpExchangeConnection>> waiting_;  ///< by request id
  /// Connections that want their next request while the mailbox is full or a hand-over is pending (want_read).
  std::vector<std::weak_ptr<HttpExchangeConnection>> paused_;
  core::FrameBatch batch_;
  std::string frame_;  ///< id and body, put together for FrameBatch::append
  std::vector<std::function<void()>> source_stopped_;
  std::vector<std::function<void()>> replies_finished_;
  std::atomic<std::uint64_t> unknown_replies_{0};
  std::size_t reply_sinks_ = 0;
  bool started_ = false;
  bool hand_over_posted_ = false;
  bool waiting_for_room_ = false;
  bool mailbox_closed_ = false;
  bool source_stopping_ = false;
  bool replies_stopping_ = false;
};

}  // namespace roo::io
