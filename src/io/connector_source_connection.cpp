#include "connector_source_connection.hpp"

#include "io_log.hpp"

#include "roo/core/error.hpp"

#include <boost/asio/post.hpp>
#include <fmt/format.h>

#include <limits>

namespace roo::io {
namespace {

/// The only source protocol version a worker accepts (Wallaroo's).
constexpr std::string_view protocol_version = "0.0.1";
/// After a RESTART or an ERROR the worker waits this long for the connector to close before closing itself.
constexpr std::chrono::milliseconds linger_patience{1000};
/// Message ids are kept as Kafka-like offsets (i64, position = id + 1).
constexpr std::uint64_t max_message_id = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) - 1;

/// Compares in time that depends only on the given cookie's length: a peer cannot find the cookie byte by byte.
bool same_secret(std::string_view given, std::string_view expected) {
  unsigned differ = given.size() == expected.size() ? 0U : 1U;
  for (std::size_t i = 0; i < given.size(); ++i) {
    char wanted = i < expected.size() ? expected[i] : '\0';
    differ |= static_cast<unsigned char>(given[i] ^ wanted);
  }
  return differ == 0;
}

std::string describe_peer(const core::TcpSocket& socket) {
  boost::system::error_code error;
  auto endpoint = socket.remote_endpoint(error);
  if (error) {
    return "an unknown peer";
  }
  return core::Endpoint{endpoint.address().to_string(), endpoint.port()}.to_string();
}

/// A claimed stream goes back (refused, or its connection is gone): free here, and in the cluster too when the cluster
/// granted it and this worker does not hold it from the others.
void give_back_claim(ConnectorStreams& streams, const ConnectorSourceConfig& config, std::uint64_t owner,
                     const core::StreamClaim& claim) {
  if (streams.give_back(claim.mark.stream, owner) && claim.granted) {
    config.registry->release(config.source_index, claim.mark);
  }
}

}  // namespace

ConnectorSourceConnection::ConnectorSourceConnection(core::TcpSocket socket, core::ListenerSlot slot,
                                                     std::uint64_t number,
                                                     std::shared_ptr<const ConnectorSourceConfig> config,
                                                     std::shared_ptr<ConnectorStreams> streams,
                                                     core::BoundedMailbox<core::FrameBatch>& mailbox,
                                                     core::BatchPool& pool,
                                                     std::function<void(ConnectorSourceConnection*)> on_finished)
    : strand_(socket.get_executor()),
      number_(number),
      config_(std::move(config)),
      streams_(std::move(streams)),
      mailbox_(mailbox),
      pool_(pool),
      on_finished_(std::move(on_finished)),
      stop_timer_(strand_),
      peer_(describe_peer(socket)),
      batch_(pool_.acquire()),
      room_token_(std::make_shared<char>()) {
  connection_ = std::make_shared<core::FramedConnection>(
      std::move(socket), core::FramedConnectionConfig{.kind = "connector",
                                                      .log_prefix = "connector_source '" + config_->name + "'",
                                                      .logger = io_logger(),
                                                      .max_frame_bytes = core::untrusted_max_frame_bytes,
                                                      .frame_timeout = config_->hello_timeout});
  connection_->hold(std::move(slot));
  batch_.source = config_->source_index;
  batch_.generation = config_->generation;
  batch_.channel = static_cast<std::uint32_t>(number_);
}

void ConnectorSourceConnection::start() {
  asio::post(strand_, [self = shared_from_this()] {
    std::weak_ptr<ConnectorSourceConnection> weak = self;
    self->connection_->start(
        [weak](core::FramedConnection&, const char* body, std::size_t size) {
          auto alive = weak.lock();
          return alive ? alive->on_frame(body, size) : core::FrameAction::stop;
        },
        [weak](core::FramedConnection&, const std::string&) {
          if (auto alive = weak.lock()) {
            alive->on_closed();
          }
        });
  });
}

void ConnectorSourceConnection::stop(std::string address) {
  asio::post(strand_, [self = shared_from_this(), address = std::move(address)] {
    if (self->stopping_ || self->finished_) {
      return;
    }
    self->stopping_ = true;
    self->input_done_ = true;
    if (self->said_hello_) {
      self->write(connector::encode_restart({address}));
    }
    if (!self->waiting_for_room_) {
      (void)self->flush();
    }
    self->linger();
  });
}

// After the last frame the worker sends (RESTART, ERROR): what the connector still sends is read and dropped until it
// closes, or for linger_patience. Closing at once with its bytes unread would reset the connection, and a reset may
// drop that last frame from the connector's receive buffer before it read it.
void ConnectorSourceConnection::linger() {
  if (discarding_ || finished_) {
    return;
  }
  discarding_ = true;
  stop_timer_.expires_after(linger_patience);
  stop_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& error) {
    if (error) {
      return;
    }
    self->linger_over_ = true;
    if (!self->waiting_for_room_) {
      self->finish();
    }
  });
  connection_->resume();
}

void ConnectorSourceConnection::send_acks(std::vector<connector::StreamAck> acks) {
  asio::post(strand_, [self = shared_from_this(), acks = std::move(acks)]() mutable {
    if (!self->finished_ && !self->input_done_) {
      self->top_up_credits(std::move(acks), true);
    }
  });
}

core::FrameAction ConnectorSourceConnection::on_frame(const char* body, std::size_t size) {
  if (discarding_) {
    return core::FrameAction::proceed;
  }
  connector::Frame frame;
  try {
    frame = connector::decode_frame(std::string_view(body, size));
  } catch (const core::Error& error) {
    return refuse(error.what(), error.what());
  }
  if (!said_hello_) {
    return on_hello(frame);
  }
  schedule_flush();  // after this read's frames: hand the batch over, top the credits up
  if (const auto* message = std::get_if<connector::Message>(&frame)) {
    return on_message(*message);
  }
  if (const auto* notify = std::get_if<connector::Notify>(&frame)) {
    return on_notify(*notify);
  }
  if (const auto* eos = std::get_if<connector::EndOfStream>(&frame)) {
    return on_end_of_stream(*eos);
  }
  if (const auto* error = std::get_if<connector::ErrorFrame>(&frame)) {
    io_logger()->warn("connector_source '{}': {} ended its session with an error: {}", config_->name, who(),
                      error->message);
    input_done_ = true;
    connection_->close();
    on_closed();
    return core::FrameAction::stop;
  }
  std::string what = fmt::format("a connector never sends {}", connector::frame_name(frame));
  return refuse(what, what);
}

core::FrameAction ConnectorSourceConnection::on_hello(const connector::Frame& frame) {
  const auto* hello = std::get_if<connector::Hello>(&frame);
  if (hello == nullptr) {
    std::string what = fmt::format("expected HELLO, got {}", connector::frame_name(frame));
    return refuse(what, what);
  }
  program_ = fmt::format("'{}' instance '{}'", hello->program_name, hello->instance_name);
  if (hello->version != protocol_version) {
    return refuse(
        fmt::format("unknown protocol version '{}' (this worker speaks {})", hello->version, protocol_version),
        "Unknown protocol version");
  }
  if (!same_secret(hello->cookie, config_->cookie)) {
    return refuse("bad cookie", "Bad cookie");
  }
  said_hello_ = true;
  connection_->set_max_frame_bytes(static_cast<std::uint32_t>(config_->max_frame_bytes));
  connection_->set_frame_timeout(std::chrono::milliseconds(0));
  credits_ = config_->max_credits;
  write(connector::encode_ok({config_->max_credits}));
  io_logger()->info("connector_source '{}': connector {} connected from {}", config_->name, program_, peer_);
  return core::FrameAction::proceed;
}

core::FrameAction ConnectorSourceConnection::on_notify(const connector::Notify& notify) {
  --credits_;
  if (open_streams_.contains(notify.stream_id)) {
    refuse_stream(notify, "it is open on this connection already");  // spec 3.3: active on this connection
    return core::FrameAction::proceed;
  }
  ConnectorStreams::Opening opening = streams_->open(notify.stream_id, number_, stopping_);
  if (!opening.accepted) {
    refuse_stream(notify, stopping_ ? "it is open on another connection or the source is stopping"
                                    : "it is open on another connection");
    return core::FrameAction::proceed;
  }
  if (!config_->registry) {
    accept_stream(notify, opening);
    return core::FrameAction::proceed;
  }
  // On a cluster the stream must be this worker's cluster-wide: nothing more is read until the cluster answers, so
  // this stream's MESSAGEs never come before its NOTIFY_ACK.
  claiming_ = true;
  claiming_stream_ = notify.stream_id;
  core::StreamMark local{.stream = notify.stream_id, .committed = opening.point_of_ref, .last_seen = opening.last_seen};
  config_->registry->claim(
      config_->source_index, local,
      [weak = weak_from_this(), notify, streams = streams_, owner = number_,
       config = config_](core::StreamClaim claim) {
        claim.mark.stream = notify.stream_id;
        if (auto self = weak.lock()) {
          asio::post(self->strand_, [self, notify, claim = std::move(claim)] { self->on_claim_answer(notify, claim); });
          return;
        }
        give_back_claim(*streams, *config, owner, claim);  // the connection is gone; finish() left the stream to us
      });
  return core::FrameAction::pause;
}

void ConnectorSourceConnection::on_claim_answer(const connector::Notify& notify, const core::StreamClaim& claim) {
  claiming_ = false;
  if (finished_ || discarding_) {
    give_back_claim(*streams_, *config_, number_, claim);  // the connection ended (or ends) while the cluster was asked
    return;
  }
  if (!claim.granted) {
    give_back_claim(*streams_, *config_, number_, claim);
    refuse_stream(notify, claim.holder.empty() ? std::string("the cluster could not be asked")
                                               : fmt::format("it is open on worker '{}'", claim.holder));
  } else if (ConnectorStreams::Opening opening = streams_->adopt(notify.stream_id, number_, claim.mark);
             opening.accepted) {
    accept_stream(notify, opening);
  } else {  // not expected: the stream was this connection's until the answer
    give_back_claim(*streams_, *config_, number_, claim);
    refuse_stream(notify, "it is open on another connection");
  }
  if (!waiting_for_room_ && !input_done_) {
    connection_->resume();
  }
}

void ConnectorSourceConnection::accept_stream(const connector::Notify& notify,
                                              const ConnectorStreams::Opening& opening) {
  open_streams_[notify.stream_id] = opening.last_seen;
  io_logger()->debug("connector_source '{}': stream {} ('{}') of {} opened at {}", config_->name, notify.stream_id,
                     notify.stream_name, who(), opening.point_of_ref);
  write(connector::encode_notify_ack({true, notify.stream_id, opening.point_of_ref}));
}

void ConnectorSourceConnection::release_in_cluster(const core::StreamMark& mark) {
  if (config_->registry) {
    config_->registry->release(config_->source_index, mark);
  }
}

void ConnectorSourceConnection::refuse_stream(const connector::Notify& notify, const std::string& why) {
  io_logger()->info("connector_source '{}': stream {} ('{}') of {} refused: {}", config_->name, notify.stream_id,
                    notify.stream_name, who(), why);
  write(connector::encode_notify_ack({false, notify.stream_id, ConnectorStreams::none}));
}

core::FrameAction ConnectorSourceConnection::on_message(const connector::Message& message) {
  --credits_;
  auto stream = open_streams_.find(message.stream_id);
  if (stream == open_streams_.end()) {
    std::string what = fmt::format("MESSAGE for stream {}, which is not open on this connection", message.stream_id);
    return refuse(what, what);
  }
  if (message.message_id > max_message_id) {
    std::string what = fmt::format("message id {} of stream {} is over the largest Roo keeps ({})", message.message_id,
                                   message.stream_id, max_message_id);
    return refuse(what, what);
  }
  if (id_covered(message.message_id, stream->second)) {
    if (skipped_++ == 0) {
      io_logger()->warn(
          "connector_source '{}': skipping message {} of stream {} from {}: ids up to {} were taken "
          "already (later ones are counted, not logged)",
          config_->name, message.message_id, message.stream_id, who(), stream->second);
    }
    return core::FrameAction::proceed;
  }
  stream->second = message.message_id;
  PartitionId partition = connector_stream_partition(message.stream_id);
  batch_.append(message.payload.data(), message.payload.size());
  batch_.keys.insert(batch_.keys.end(), message.key.begin(), message.key.end());
  batch_.meta.push_back(core::FrameBatch::Meta{.topic = partition.topic,
                                               .partition = partition.partition,
                                               .offset = static_cast<std::int64_t>(message.message_id),
                                               .time_ms = message.event_time > 0 ? message.event_time : -1,
                                               .key_end = static_cast<std::uint32_t>(batch_.keys.size()),
                                               .has_key = !message.key.empty()});
  if (batch_.payload_bytes() >= config_->batch_bytes && flush() == HandOver::wait_for_room) {
    return core::FrameAction::pause;
  }
  return core::FrameAction::proceed;
}

core::FrameAction ConnectorSourceConnection::on_end_of_stream(const connector::EndOfStream& eos) {
  auto stream = open_streams_.find(eos.stream_id);
  if (stream == open_streams_.end()) {
    std::string what = fmt::format("EOS_MESSAGE for stream {}, which is not open on this connection", eos.stream_id);
    return refuse(what, what);
  }
  std::uint64_t last = stream->second;
  open_streams_.erase(stream);
  if (auto ack = streams_->end(eos.stream_id, number_, last)) {
    top_up_credits({*ack}, true);
    release_in_cluster(
        core::StreamMark{.stream = ack->stream_id, .committed = ack->point_of_ref, .last_seen = ack->point_of_ref});
  }
  return core::FrameAction::proceed;
}

// Bad input: one warning naming it, an ERROR frame telling the connector (`answer`), then the connection closes once
// the ERROR is written. What was read before is still handed over.
core::FrameAction ConnectorSourceConnection::refuse(const std::string& what, const std::string& answer) {
  io_logger()->warn("connector_source '{}': closing connection from {}: {}", config_->name,
                    program_.empty() ? peer_ : program_ + " at " + peer_, what);
  input_done_ = true;
  write(connector::encode_error({answer.substr(0, 65535)}));
  linger();
  return core::FrameAction::proceed;
}

// The connection ended (the peer left, a frame over the limit, no HELLO in time, or refuse()): what was read is
// handed over before the streams are freed, so that a connector re-opening them elsewhere follows it in the mailbox.
void ConnectorSourceConnection::on_closed() {
  input_done_ = true;
  peer_gone_ = true;
  if (finished_ || waiting_for_room_) {
    return;
  }
  if (flush() == HandOver::done) {
    finish();
  }
}

void ConnectorSourceConnection::schedule_flush() {
  if (flush_posted_) {
    return;
  }
  flush_posted_ = true;
  // Runs once FramedConnection has handled every frame of this read.
  asio::post(strand_, [self = shared_from_this()] {
    self->flush_posted_ = false;
    if (!self->finished_ && !self->waiting_for_room_) {
      (void)self->flush();
    }
  });
}

ConnectorSourceConnection::HandOver ConnectorSourceConnection::flush() {
  if (!batch_.empty()) {
    std::weak_ptr<ConnectorSourceConnection> weak = weak_from_this();
    auto on_room = [weak, token = room_token_] {
      if (auto self = weak.lock()) {
        asio::post(self->strand_, [self] { self->on_room(); });
      }
    };
    batch_.received_ns = core::steady_clock_ns();
    switch (mailbox_.try_push(batch_, std::move(on_room))) {
      case core::PushResult::accepted:
        batch_ = pool_.acquire();
        batch_.source = config_->source_index;
        batch_.generation = config_->generation;
        batch_.channel = static_cast<std::uint32_t>(number_);
        break;
      case core::PushResult::full:
        waiting_for_room_ = true;
        connection_->pause();
        return HandOver::wait_for_room;
      case core::PushResult::closed:
        io_logger()->warn("connector_source '{}': the executor's mailbox is closed; discarding {} messages from {}",
                          config_->name, batch_.size(), who());
        batch_.clear();
        break;
    }
  }
  if (said_hello_ && !input_done_ && credits_ <= static_cast<std::int64_t>(config_->refill_credits)) {
    top_up_credits({}, false);
  }
  return HandOver::done;
}

void ConnectorSourceConnection::on_room() {
  if (!waiting_for_room_) {
    return;
  }
  waiting_for_room_ = false;
  room_token_ = std::make_shared<char>();  // older copies may still sit in the consumer's wake-up list
  if (flush() == HandOver::wait_for_room) {
    return;
  }
  if (peer_gone_ || linger_over_) {
    finish();
  } else if (!input_done_ && !claiming_) {
    connection_->resume();
  }
}

// One ACK: `acks`, and the credits back up to max_credits unless a batch waits for room (the connector then stays
// without credits: backpressure). `always`: sent even when it gives nothing.
void ConnectorSourceConnection::top_up_credits(std::vector<connector::StreamAck> acks, bool always) {
  std::uint32_t credits = 0;
  if (!waiting_for_room_ && credits_ < static_cast<std::int64_t>(config_->max_credits)) {
    credits = static_cast<std::uint32_t>(static_cast<std::int64_t>(config_->max_credits) - credits_);
    credits_ = config_->max_credits;
  }
  if (credits == 0 && acks.empty() && !always) {
    return;
  }
  write(connector::encode_ack({credits, std::move(acks)}));
}

void ConnectorSourceConnection::write(const std::string& frame) {
  // FramedConnection adds the length itself: give it the type and body.
  connection_->write(std::vector<char>(frame.begin() + 4, frame.end()));
}

void ConnectorSourceConnection::finish() {
  if (finished_) {
    return;
  }
  finished_ = true;
  stop_timer_.cancel();
  connection_->close();
  pool_.release(std::move(batch_));
  ConnectorStreams::Released released = streams_->release(
      number_, open_streams_,
      ConnectorStreams::Leaving{.hold_uncommitted = config_->hold_uncommitted_streams,
                                .claiming = claiming_ ? std::optional<std::uint64_t>(claiming_stream_) : std::nullopt});
  for (const auto& mark : released.for_cluster) {
    release_in_cluster(mark);
  }
  if (skipped_ > 0) {
    io_logger()->warn("connector_source '{}': {} skipped {} messages whose ids were taken already", config_->name,
                      who(), skipped_);
  }
  if (said_hello_ && !stopping_) {
    io_logger()->info("connector_source '{}': connector {} left ({} streams it had open are free{})", config_->name,
                      who(), released.for_cluster.size() + released.held,
                      released.held == 0 ? std::string()
                                         : fmt::format("; {} of them on other workers once a checkpoint covers "
                                                       "what it sent",
                                                       released.held));
  }
  auto on_finished = std::move(on_finished_);
  on_finished(this);
}

std::string ConnectorSourceConnection::who() const {
  return program_.empty() ? peer_ : fmt::format("{} at {}", program_, peer_);
}

}  // namespace roo::io
