#include "http_exchange_core.hpp"

#include "http_answer.hpp"
#include "http_exchange_connection.hpp"
#include "http_reply_stream.hpp"
#include "io_log.hpp"

#include "roo/core/big_endian.hpp"
#include "roo/core/clock.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <cstring>
#include <utility>

namespace roo::io {
namespace {

// After an accept fails for lack of descriptors, the exchange retries after 10 ms, doubling up to this.
constexpr std::chrono::milliseconds max_accept_backoff{1000};

/// Request ids are unique in the process (so per worker), whichever exchange gave them.
std::uint64_t next_request_id() {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

/// A header value must not carry control characters: a CR or LF would let the encoder's bytes inject headers.
bool is_header_value(std::string_view value) {
  return std::all_of(value.begin(), value.end(), [](char c) {
    auto byte = static_cast<unsigned char>(c);
    return byte == '\t' || (byte >= 0x20 && byte != 0x7f);
  });
}

}  // namespace

HttpExchangeCore::HttpExchangeCore(boost::asio::io_context& io, HttpExchangeConfig config,
                                   core::BoundedMailbox<core::FrameBatch>& mailbox, core::BatchPool& pool)
    : strand_(boost::asio::make_strand(io)),
      config_(std::make_shared<const HttpExchangeConfig>(std::move(config))),
      mailbox_(mailbox),
      pool_(pool),
      batch_(pool_.acquire()) {
  batch_.source = config_->source_index;
}

void HttpExchangeCore::start() {
  if (started_) {
    return;
  }
  started_ = true;
  listener_ = core::Listener::make(strand_, listener_config());
  (void)listener_->listen(config_->listen);
  local_ = listener_->local_address();
  io_logger()->info("http_source '{}': listening on {}", config_->name, local_.to_string());
  boost::asio::post(strand_, [self = shared_from_this()] {
    if (self->source_stopping_ || self->replies_stopping_) {
      return;
    }
    // Weak: the listener keeps this handler after close(), and the listener is ours.
    self->listener_->start([weak = self->weak_from_this()](core::TcpSocket socket, core::ListenerSlot slot) {
      if (auto alive = weak.lock()) {
        alive->on_accept(std::move(socket), std::move(slot));
      }
    });
  });
}

core::ListenerConfig HttpExchangeCore::listener_config() const {
  std::string name = config_->name;
  std::size_t limit = config_->max_connections;
  return core::ListenerConfig{
      .what = "source '" + name + "'",
      .log_prefix = "http_source '" + name + "'",
      .logger = io_logger(),
      .max_connections = limit,
      .min_backoff = std::chrono::milliseconds(10),
      .max_backoff = max_accept_backoff,
      .limit_warning_interval = std::chrono::seconds(60),
      .strand_per_connection = false,  // connections and the table of waiting requests share the exchange's strand
      .reuse_port = config_->reuse_port,
      .notices = core::ListenerNotices{
          .at_limit =
              [name, limit](std::size_t) {
                io_logger()->warn("http_source '{}': at its limit of {} connections; new clients wait until one "
                                  "closes",
                                  name, limit);
              },
          .cannot_accept = {},
          .accepting_again = {},
      }};
}

void HttpExchangeCore::on_accept(core::TcpSocket socket, core::ListenerSlot slot) {
  boost::system::error_code ignored;
  if (source_stopping_ || replies_stopping_) {
    socket.close(ignored);
    return;
  }
  socket.set_option(boost::asio::ip::tcp::no_delay(true), ignored);
  auto connection =
      std::make_shared<HttpExchangeConnection>(std::move(socket), std::move(slot), weak_from_this(), config_);
  connections_.emplace(connection.get(), connection);
  want_read(connection);
}

void HttpExchangeCore::on_request(const std::shared_ptr<HttpExchangeConnection>& connection, std::string_view body) {
  std::uint64_t id = next_request_id();
  append_frame(id, body);
  if (config_->ignore_response) {
    connection->answer(200, "text/plain", "ok");
    return;
  }
  waiting_.emplace(id, connection);
  connection->await_reply(id);
}

// `u64 BE id | body`, one frame of the batch being filled; handed over once the handlers ready now have run (so
// that requests read together go together).
void HttpExchangeCore::append_frame(std::uint64_t id, std::string_view body) {
  frame_.resize(sizeof id + body.size());
  core::store_u64_be(frame_.data(), id);
  std::memcpy(frame_.data() + sizeof id, body.data(), body.size());
  batch_.append(frame_.data(), frame_.size());
  if (!hand_over_posted_ && !waiting_for_room_) {
    hand_over_posted_ = true;
    boost::asio::post(strand_, [self = shared_from_this()] {
      self->hand_over_posted_ = false;
      self->hand_over();
    });
  }
}

void HttpExchangeCore::hand_over() {
  if (!waiting_for_room_ && !batch_.empty()) {
    push_batch();
  }
  if (!waiting_for_room_) {
    resume_paused();
  }
  maybe_finish();
}

void HttpExchangeCore::push_batch() {
  std::weak_ptr<HttpExchangeCore> weak = weak_from_this();
  auto on_room = [weak] {
    if (auto self = weak.lock()) {
      boost::asio::post(self->strand_, [self] { self->on_room(); });
    }
  };
  batch_.received_ns = core::steady_clock_ns();
  switch (mailbox_.try_push(batch_, std::move(on_room))) {
    case core::PushResult::accepted:
      batch_ = pool_.acquire();
      batch_.source = config_->source_index;
      break;
    case core::PushResult::full:
      waiting_for_room_ = true;  // connections pause before their next request (want_read)
      break;
    case core::PushResult::closed:
      io_logger()->warn("http_source '{}': the executor's mailbox is closed; discarding {} requests", config_->name,
                        batch_.size());
      batch_.clear();
      break;
  }
}

void HttpExchangeCore::on_room() {
  if (!waiting_for_room_) {
    return;
  }
  waiting_for_room_ = false;
  hand_over();
}

void HttpExchangeCore::resume_paused() {
  if (paused_.empty()) {
    return;
  }
  auto paused = std::move(paused_);
  paused_.clear();
  for (auto& weak : paused) {
    if (auto connection = weak.lock()) {
      want_read(connection);
    }
  }
}

// A connection reads its next request only once the requests read before it were handed over: not while the mailbox
// is full, nor while a hand-over is pending (it may find the mailbox full), so that a full mailbox stops reading at
// once, whenever the answers were written.
void HttpExchangeCore::want_read(const std::shared_ptr<HttpExchangeConnection>& connection) {
  if (source_stopping_ || replies_stopping_) {
    connection->close_when_idle();
  } else if (waiting_for_room_ || hand_over_posted_) {
    paused_.push_back(connection);
  } else {
    connection->read_request();
  }
}

void HttpExchangeCore::deliver_replies(const std::string& sink_name, std::string_view stream) {
  if (config_->ignore_response) {
    return;  // answered `ok` on receipt
  }
  std::string malformed = for_each_http_reply(stream, [&](const HttpReply& reply) {
    auto found = waiting_.find(reply.request_id);
    if (found == waiting_.end()) {
      unknown_replies_.fetch_add(1, std::memory_order_relaxed);
      io_logger()->debug("sink '{}': no request {} waits on source '{}' (its client left, or it was answered); reply "
                         "dropped",
                         sink_name, reply.request_id, config_->name);
      return;
    }
    auto connection = std::move(found->second);
    waiting_.erase(found);
    if (reply.status < 200 || reply.status > 599 || !is_header_value(reply.content_type)) {
      io_logger()->error("sink '{}': the reply to request {} has status {} and content type '{}' (a status 200..599 "
                         "and a content type without control characters are needed); answered 500",
                         sink_name, reply.request_id, reply.status, reply.content_type);
      connection->answer(500, "text/plain", "the application's reply was not a valid HTTP answer\n");
      return;
    }
    if (!http_status_has_body(reply.status) && !reply.body.empty()) {
      io_logger()->error("sink '{}': the reply to request {} has status {} and a body of {} bytes (an answer with "
                         "status 204 or 304 has no body); answered 500",
                         sink_name, reply.request_id, reply.status, reply.body.size());
      connection->answer(500, "text/plain", "the application's reply was not a valid HTTP answer\n");
      return;
    }
    connection->answer(reply.status, reply.content_type, reply.body);
  });
  if (!malformed.empty()) {
    io_logger()->error("sink '{}': malformed HTTP reply stream for source '{}' ({}); the rest of the batch is "
                       "dropped",
                       sink_name, config_->name, malformed);
  }
}

void HttpExchangeCore::forget(std::uint64_t id) { waiting_.erase(id); }

void HttpExchangeCore::connection_closed(HttpExchangeConnection* connection) {
  auto waiting = waiting_.find(connection->request_id());
  if (waiting != waiting_.end() && waiting->second.get() == connection) {
    waiting_.erase(waiting);
  }
  connections_.erase(connection);
  maybe_finish();
}

void HttpExchangeCore::stop_source(std::function<void()> on_stopped) {
  if (on_stopped) {
    source_stopped_.push_back(std::move(on_stopped));
  }
  if (!source_stopping_) {
    source_stopping_ = true;
    if (listener_) {
      listener_->close();
    }
    if (answers_itself()) {
      answer_waiting(503, "the source stopped\n");  // no reply sink will ever answer
    }
    close_connections();
  }
  hand_over();
}

void HttpExchangeCore::finish_replies(std::function<void()> on_stopped) {
  if (on_stopped) {
    replies_finished_.push_back(std::move(on_stopped));
  }
  if (!replies_stopping_) {
    replies_stopping_ = true;
    if (listener_) {
      listener_->close();
    }
    if (!waiting_.empty()) {
      io_logger()->info("http_source '{}': {} requests had no reply when the reply sink stopped; answered 503",
                        config_->name, waiting_.size());
    }
    answer_waiting(503, "the worker stopped before the reply came\n");
    close_connections();
  }
  maybe_finish();
}

void HttpExchangeCore::answer_waiting(unsigned status, std::string_view body) {
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (auto& [id, connection] : waiting) {
    connection->answer(status, "text/plain", body);
  }
}

void HttpExchangeCore::close_connections() {
  std::vector<std::shared_ptr<HttpExchangeConnection>> open;
  open.reserve(connections_.size());
  for (auto& [raw, connection] : connections_) {
    open.push_back(connection);
  }
  for (auto& connection : open) {
    connection->close_when_idle();
  }
}

void HttpExchangeCore::maybe_finish() {
  bool handed_over = !waiting_for_room_ && batch_.empty();
  if (source_stopping_ && handed_over && (!answers_itself() || connections_.empty()) && !source_stopped_.empty()) {
    io_logger()->info("http_source '{}': stopped", config_->name);
    auto callbacks = std::move(source_stopped_);
    source_stopped_.clear();
    for (auto& callback : callbacks) {
      callback();
    }
  }
  if (replies_stopping_ && connections_.empty() && !replies_finished_.empty()) {
    auto callbacks = std::move(replies_finished_);
    replies_finished_.clear();
    for (auto& callback : callbacks) {
      callback();
    }
  }
}

}  // namespace roo::io
