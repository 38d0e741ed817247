#include "connector_sink_core.hpp"
#include "connector_sink_rules.hpp"
#include "io_log.hpp"

#include "roo/core/big_endian.hpp"
#include "roo/core/error.hpp"
#include "roo/core/framed_connection.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>

namespace roo::io {

// A session of the connector sink protocol (spec §3.3): connect, HELLO → OK, (with checkpoints) LIST_UNCOMMITTED →
// REPLY_UNCOMMITTED and the PHASE2s that resolve it, NOTIFY → NOTIFY_ACK, then the stream. Any failure closes the
// connection and a new session starts after a backoff.

namespace asio = boost::asio;

namespace {

constexpr std::uint64_t output_stream = 1;
constexpr std::uint64_t control_stream = 0;
constexpr const char* protocol_version = "v0.0.1";  // as machida sends it
constexpr std::size_t max_frames_per_write = 64;

}  // namespace

ConnectorSinkCore::ConnectorSinkCore(asio::io_context& io, ConnectorSinkConfig config)
    : config_(std::move(config)),
      identity_(fmt::format("connector sink '{}' ({})", config_.name, config_.peer.to_string())),
      strand_(asio::make_strand(io)),
      socket_(strand_),
      resolver_(strand_),
      retry_timer_(strand_),
      acknowledgement_timer_(strand_),
      prepare_timer_(strand_),
      budget_(config_.max_buffered_bytes),
      next_retry_(config_.reconnect_interval),
      // What prepare() hands back: one empty batch. The checkpoint then holds an entry for this sink, so that a
      // restarted worker calls recover(n) with the checkpoint it restored (runtime::TransactionalSinks recovers only
      // the sinks a checkpoint holds output of); the output itself is kept durably by the connector sink.
      marker_(std::make_shared<const RecordBatch>()) {
  recovery_known_ = !config_.transactional;
}

void ConnectorSinkCore::start() {
  asio::post(strand_, [self = shared_from_this()] {
    if (!self->started_ && !self->closed_) {
      self->started_ = true;
      self->connect();
    }
  });
}

void ConnectorSinkCore::connect() {
  if (closed_) {
    return;
  }
  phase_ = Phase::connecting;
  resolver_.async_resolve(
      config_.peer.host, std::to_string(config_.peer.port), asio::ip::tcp::resolver::numeric_service,
      [self = shared_from_this(), generation = generation_](const boost::system::error_code& error,
                                                            const asio::ip::tcp::resolver::results_type& results) {
        if (self->closed_ || generation != self->generation_) {
          return;
        }
        if (error) {
          self->on_connect(error);
          return;
        }
        asio::async_connect(
            self->socket_, results,
            [self, generation](const boost::system::error_code& connect_error, const asio::ip::tcp::endpoint&) {
              if (generation == self->generation_) {
                self->on_connect(connect_error);
              }
            });
      });
}

void ConnectorSinkCore::on_connect(const boost::system::error_code& error) {
  if (closed_) {
    return;
  }
  if (error) {
    lose_connection(fmt::format("cannot connect: {}", describe_error(error)));
    return;
  }
  boost::system::error_code ignored;
  socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
  ++generation_;
  phase_ = Phase::awaiting_ok;
  outbox_.clear();
  wire_queued_ = 0;
  wire_written_ = 0;
  wire_marks_.clear();
  send(connector::encode_hello(connector::Hello{.version = protocol_version,
                                                .cookie = config_.cookie,
                                                .program_name = config_.program_name,
                                                .instance_name = config_.instance_name}));
  read_head();
}

void ConnectorSinkCore::retry_later() {
  retry_timer_.expires_after(next_retry_);
  next_retry_ = std::min(next_retry_ * 2, config_.max_reconnect_interval);
  retry_timer_.async_wait([self = shared_from_this(), generation = generation_](const boost::system::error_code& e) {
    if (!e && generation == self->generation_ && self->phase_ == Phase::idle) {
      self->connect();
    }
  });
}

void ConnectorSinkCore::read_head() {
  asio::async_read(
      socket_, asio::buffer(head_),
      [self = shared_from_this(), generation = generation_](const boost::system::error_code& error, std::size_t) {
        if (generation != self->generation_ || self->closed_) {
          return;
        }
        if (error) {
          self->lose_connection(error == asio::error::eof ? std::string("the sink closed the connection")
                                                          : describe_error(error));
          return;
        }
        self->read_body(core::load_u32_be(self->head_.data()));
      });
}

void ConnectorSinkCore::read_body(std::uint32_t length) {
  // Nothing is allocated at a peer's say-so before it answered the HELLO.
  std::size_t limit = phase_ == Phase::awaiting_ok ? core::untrusted_max_frame_bytes : config_.max_frame_bytes;
  if (length > limit) {
    lose_connection(fmt::format("the sink sent a frame of {} bytes, more than the {} allowed{}", length, limit,
                                phase_ == Phase::awaiting_ok ? " before its OK" : ""));
    return;
  }
  body_.resize(length);
  asio::async_read(
      socket_, asio::buffer(body_),
      [self = shared_from_this(), generation = generation_](const boost::system::error_code& error, std::size_t) {
        if (generation != self->generation_ || self->closed_) {
          return;
        }
        if (error) {
          self->lose_connection(error == asio::error::eof ? std::string("the sink closed the connection")
                                                          : describe_error(error));
          return;
        }
        self->on_frame({self->body_.data(), self->body_.size()});
        if (generation == self->generation_ && !self->closed_) {
          self->read_head();
        }
      });
}

void ConnectorSinkCore::on_frame(std::string_view bytes) {
  connector::Frame frame;
  try {
    frame = connector::decode_frame(bytes);
  } catch (const core::Error& error) {
    lose_connection(fmt::format("the sink sent a malformed frame: {}", error.what()));
    return;
  }
  if (const auto* error = std::get_if<connector::ErrorFrame>(&frame)) {
    lose_connection(fmt::format("the sink sent ERROR: {}", error->message));
  } else if (std::holds_alternative<connector::Ok>(frame) && phase_ == Phase::awaiting_ok) {
    if (!config_.transactional) {
      send(connector::encode_notify({.stream_id = output_stream, .stream_name = config_.stream_name}));
      phase_ = Phase::awaiting_notify_ack;
    } else if (recovery_known_) {
      list_uncommitted();
    } else {
      phase_ = Phase::awaiting_recovery;  // recover() or the first output says which checkpoint completed last
    }
  } else if (const auto* ack = std::get_if<connector::NotifyAck>(&frame);
             ack != nullptr && phase_ == Phase::awaiting_notify_ack && ack->stream_id == output_stream) {
    on_notify_ack(*ack);
  } else if (const auto* message = std::get_if<connector::Message>(&frame);
             message != nullptr && message->stream_id == control_stream && phase_ != Phase::awaiting_ok) {
    on_two_phase(message->payload);
  } else {
    lose_connection(fmt::format("the sink sent an unexpected {} frame", connector::frame_name(frame)));
  }
}

void ConnectorSinkCore::on_two_phase(std::string_view payload) {
  connector::TwoPhaseMessage message;
  try {
    message = connector::decode_two_phase(payload);
  } catch (const core::Error& error) {
    lose_connection(fmt::format("the sink sent a malformed 2PC message: {}", error.what()));
    return;
  }
  if (const auto* reply = std::get_if<connector::ReplyUncommitted>(&message)) {
    on_reply_uncommitted(*reply);
  } else if (const auto* vote = std::get_if<connector::Phase1Reply>(&message)) {
    on_vote(*vote);
  } else {
    lose_connection("the sink sent a 2PC message only a worker sends");
  }
}

void ConnectorSinkCore::list_uncommitted() {
  phase_ = Phase::awaiting_list;
  send_two_phase(connector::ListUncommitted{.rtag = ++rtag_});
}

void ConnectorSinkCore::on_reply_uncommitted(const connector::ReplyUncommitted& reply) {
  if (phase_ != Phase::awaiting_list || reply.rtag != rtag_) {
    return;  // an answer to an earlier list
  }
  std::vector<connector::Phase2> decisions =
      resolve_uncommitted(reply.txn_ids, config_.stream_name, last_complete_, prepared_checkpoints());
  std::size_t commits = 0;
  for (const auto& decision : decisions) {
    commits += decision.commit ? 1 : 0;
    send_two_phase(decision);
  }
  if (!decisions.empty()) {
    io_logger()->info(
        "{}: the sink held {} uncommitted transaction(s) of stream '{}': committed {}, aborted {} "
        "(checkpoint {} is the last complete)",
        identity_, decisions.size(), config_.stream_name, commits, decisions.size() - commits, last_complete_);
  }
  send(connector::encode_notify({.stream_id = output_stream, .stream_name = config_.stream_name}));
  phase_ = Phase::awaiting_notify_ack;
}

void ConnectorSinkCore::on_notify_ack(const connector::NotifyAck& ack) {
  if (!ack.success) {
    lose_connection(fmt::format("the sink refused stream '{}'", config_.stream_name));
    return;
  }
  std::uint64_t sink_end = ack.point_of_ref;
  if (!finish_hand_off(sink_end, placed_)) {
    // A session that resolves the stream again (aborting that round) follows.
    lose_connection(fmt::format("the sink's stream '{}' ends at byte {}, past the committed output",
                                config_.stream_name, sink_end));
    return;
  }
  if (!placed_) {
    place(sink_end);
  } else {
    std::uint64_t expected = config_.transactional ? voted_end() : acked_;
    if (sink_end != expected && (sink_end < output_.front() || !output_.is_record_start(sink_end))) {
      io_logger()->error(
          "{}: the sink's output of stream '{}' ends at byte {}, where Roo kept no record (it kept "
          "{} to {}); sending from {}",
          identity_, config_.stream_name, sink_end, output_.front(), output_.end(), expected);
      sink_end = expected;
    }
    while (!prepared_.empty() && prepared_.back().end > sink_end) {
      prepared_.pop_back();  // the sink lost them: their bytes go again in the next round
    }
    sent_ = sink_end;
    acked_ = std::max(acked_, std::min(sink_end, output_.end()));
  }
  phase_ = Phase::ready;
  next_retry_ = config_.reconnect_interval;
  if (outage_reported_) {
    outage_reported_ = false;
    io_logger()->info("{}: connected again; stream '{}' goes on from byte {}", identity_, config_.stream_name, sent_);
  } else {
    io_logger()->info("{}: connected; stream '{}' begins at byte {}", identity_, config_.stream_name, sent_);
  }
  finish_flushes();
  finish_recoveries({});
  send_records();
  send_phase1_when_ready();
  maybe_finish_stop();
}

void ConnectorSinkCore::place(std::uint64_t sink_end) {
  auto moved = [&](std::uint64_t offset) { return offset - output_.front() + sink_end; };
  if (open_) {
    open_->round.start = moved(open_->round.start);
    open_->round.end = moved(open_->round.end);
  }
  for (auto& [target, done] : flushes_) {
    target = moved(target);
  }
  committed_ = moved(committed_);
  output_.rebase(sink_end);
  sent_ = sink_end;
  acked_ = sink_end;
  placed_ = true;
}

void ConnectorSinkCore::lose_connection(const std::string& why) {
  if (closed_) {
    return;
  }
  last_error_ = why;
  if (!outage_reported_) {
    outage_reported_ = true;
    io_logger()->warn("{}: {}; reconnecting every {} ms at most", identity_, why,
                      config_.max_reconnect_interval.count());
  }
  bool round_sent = open_ && open_->phase1_sent;
  close_connection();
  if (round_sent) {
    fail_round(fmt::format("{}: lost the connection before the sink voted on checkpoint {} ({})", identity_,
                           open_->round.checkpoint, why));
  }
  retry_later();
  maybe_finish_stop();
}

void ConnectorSinkCore::close_connection() {
  ++generation_;
  phase_ = Phase::idle;
  boost::system::error_code ignored;
  socket_.close(ignored);
  resolver_.cancel();
  acknowledgement_timer_.cancel();
  outbox_.clear();
  wire_marks_.clear();
}

void ConnectorSinkCore::send(std::string frame) {
  wire_queued_ += frame.size();
  outbox_.push_back(std::move(frame));
  write_outbox();
}

void ConnectorSinkCore::send_two_phase(const connector::TwoPhaseMessage& message) {
  send(connector::encode_message({.stream_id = control_stream,
                                  .message_id = 0,
                                  .event_time = 0,
                                  .key = {},
                                  .payload = connector::encode_two_phase(message)}));
}

void ConnectorSinkCore::write_outbox() {
  if (writing_ || outbox_.empty() || phase_ == Phase::idle || phase_ == Phase::connecting) {
    return;
  }
  in_flight_.clear();
  gathered_.clear();
  while (!outbox_.empty() && in_flight_.size() < max_frames_per_write) {
    in_flight_.push_back(std::move(outbox_.front()));
    outbox_.pop_front();
  }
  for (const auto& frame : in_flight_) {
    gathered_.emplace_back(frame.data(), frame.size());
  }
  writing_ = true;
  asio::async_write(socket_, gathered_,
                    [self = shared_from_this(), generation = generation_](const boost::system::error_code& error,
                                                                          std::size_t written) {
                      self->writing_ = false;
                      if (self->closed_) {
                        self->maybe_finish_stop();
                        return;
                      }
                      if (generation == self->generation_) {
                        if (error) {
                          self->lose_connection(describe_error(error));
                          return;
                        }
                        self->wire_written_ += written;
                        self->written_ever_ += written;
                        self->start_vote_clock_once_phase1_taken();
                        self->acknowledge();
                      }
                      self->write_outbox();
                      self->send_records();
                      self->send_phase1_when_ready();  // a round cut while its records were being written
                      self->poll_acknowledgements();
                      self->maybe_finish_stop();
                    });
}

}  // namespace roo::io
