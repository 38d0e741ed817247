#include "roo/io/tcp_sink.hpp"

#include "io_log.hpp"
#include "retained_output.hpp"
#include "peer_acknowledgement.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>
#include <deque>
#include <optional>
#include <utility>

namespace roo::io {
namespace {

namespace asio = boost::asio;
using Strand = asio::strand<asio::io_context::executor_type>;

constexpr std::size_t max_gathered_buffers = 64;
constexpr std::chrono::seconds connect_warning_interval{30};
// While written bytes wait for the peer's acknowledgement and nothing else is being written, the kernel is asked
// this often (one ioctl and one getsockopt) so the budget is released without a write completion.
constexpr std::chrono::milliseconds acknowledgement_poll{10};

/// The connection and the retained output behind a TcpSink, all on one strand. shared_ptr because Asio handlers and
/// the producer's posted writes may outlive the TcpSink handle.
///
/// Delivery: a buffer written to the socket stays in `retained_` (and in the budget) until the kernel says the peer
/// acknowledged it (TCP_INFO tcpi_bytes_acked, or SIOCOUTQ on old kernels, read once per write
/// completion), and beyond that while it lies within `margin()` of
/// the acknowledged end: a peer acknowledges what reaches its receive buffer, not what its application read, so a
/// peer that dies loses what sat in its buffer. The margin is half the budget: the peer's advertised window does not
/// bound its unread bytes (measured on loopback: 730 KB unread after at most 457 KB advertised), and Linux's
/// default receive buffer maximum is 6 MiB. After a lost connection, everything retained is written again from the
/// oldest buffer: at-least-once, starting at a frame boundary.
class TcpSinkCore : public std::enable_shared_from_this<TcpSinkCore> {
 public:
  TcpSinkCore(asio::io_context& io, TcpSinkConfig config)
      : config_(std::move(config)),
        peer_(config_.peer.to_string()),
        strand_(asio::make_strand(io)),
        socket_(strand_),
        resolver_(strand_),
        retry_timer_(strand_),
        acknowledgement_timer_(strand_),
        budget_(config_.max_buffered_bytes) {}

  void start() {
    asio::post(strand_, [self = shared_from_this()] {
      if (!self->started_ && !self->closed_) {
        self->started_ = true;
        self->connect();
      }
    });
  }

  void write(std::vector<char>&& bytes) {
    if (bytes.empty()) {
      return;
    }
    budget_.add(bytes.size());
    asio::post(strand_,
               [self = shared_from_this(), bytes = std::move(bytes)]() mutable { self->enqueue(std::move(bytes)); });
  }

  /// `done` once the peer acknowledged every byte written so far (at-least-once offset commits wait on it).
  void flush(std::function<void(std::string)> done) {
    asio::post(strand_, [self = shared_from_this(), done = std::move(done)]() mutable {
      std::uint64_t target = self->retained_.end_position();
      if (self->acked_position_ >= target) {
        done({});
        return;
      }
      self->flushes_.emplace_back(target, std::move(done));
    });
  }

  void stop(std::function<void()> on_stopped) {
    asio::post(strand_, [self = shared_from_this(), on_stopped = std::move(on_stopped)]() mutable {
      if (on_stopped) {
        self->on_stopped_.push_back(std::move(on_stopped));
      }
      self->stopping_ = true;
      self->maybe_finish_stop();
    });
  }

  /// The handle is gone: close now, giving up on what is still retained (with a warning, unless the owner asked to
  /// stop and so could read undelivered_bytes() itself).
  void abandon() {
    asio::post(strand_, [self = shared_from_this()] {
      if (self->closed_) {
        return;
      }
      if (self->retained_.bytes() > 0 && !self->stopping_) {
        io_logger()->warn("tcp_sink '{}': discarding {} bytes not yet delivered to {}", self->config_.name,
                          self->undelivered_bytes(), self->peer_);
      }
      self->close();
      self->budget_.release(self->retained_.clear());
    });
  }

  [[nodiscard]] core::ByteBudget& budget() { return budget_; }

  [[nodiscard]] std::size_t undelivered_bytes() const {
    if (closed_) {
      return 0;
    }
    if (!connected_) {
      return static_cast<std::size_t>(retained_.end_position() -
                                      std::clamp(orderly_acked_, retained_.front_position(), retained_.end_position()));
    }
    return static_cast<std::size_t>(retained_.end_position() - acked_position_);
  }

  [[nodiscard]] std::string undelivered_reason() const {
    if (connected_) {
      return "the peer did not acknowledge them";
    }
    return last_error_.empty() ? std::string("no connection") : "no connection: " + last_error_;
  }

 private:
  void enqueue(std::vector<char>&& bytes) {
    if (closed_) {
      if (!warned_write_after_close_) {
        warned_write_after_close_ = true;
        io_logger()->warn("tcp_sink '{}': discarding output written after the sink stopped", config_.name);
      }
      budget_.release(bytes.size());
      return;
    }
    retained_.push(std::move(bytes));
    write_queued();
  }

  void connect() {
    if (closed_) {
      return;
    }
    resolver_.async_resolve(
        config_.peer.host, std::to_string(config_.peer.port), asio::ip::tcp::resolver::numeric_service,
        [self = shared_from_this()](const boost::system::error_code& error,
                                    const asio::ip::tcp::resolver::results_type& results) {
          if (self->closed_) {
            return;
          }
          if (error) {
            self->on_connect_failed(error);
            return;
          }
          asio::async_connect(self->socket_, results,
                              [self](const boost::system::error_code& connect_error, const asio::ip::tcp::endpoint&) {
                                self->on_connect(connect_error);
                              });
        });
  }

  void on_connect(const boost::system::error_code& error) {
    if (closed_) {
      return;
    }
    if (error) {
      on_connect_failed(error);
      return;
    }
    boost::system::error_code ignored;
    socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
    connected_ = true;
    ++generation_;
    failed_attempts_ = 0;
    connection_start_ = retained_.rewind();
    connection_written_ = 0;
    acked_position_ = connection_start_;
    io_logger()->info("tcp_sink '{}': connected to {}", config_.name, peer_);
    watch();
    write_queued();
    maybe_finish_stop();
  }

  void on_connect_failed(const boost::system::error_code& error) {
    boost::system::error_code ignored;
    socket_.close(ignored);
    last_error_ = describe_error(error);
    auto now = std::chrono::steady_clock::now();
    ++failed_attempts_;
    if (failed_attempts_ == 1) {
      io_logger()->warn("tcp_sink '{}': cannot connect to {} ({}); retrying every {} ms", config_.name, peer_,
                        last_error_, config_.reconnect_interval.count());
      last_connect_warning_ = now;
    } else if (now - last_connect_warning_ >= connect_warning_interval) {
      io_logger()->warn("tcp_sink '{}': still cannot connect to {} ({}) after {} attempts; retrying every {} ms",
                        config_.name, peer_, last_error_, failed_attempts_, config_.reconnect_interval.count());
      last_connect_warning_ = now;
    }
    retry_timer_.expires_after(config_.reconnect_interval);
    retry_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& timer_error) {
      if (!timer_error) {
        self->connect();
      }
    });
  }

  // The peer never sends; a read completing with an error (usually EOF) is how a vanished peer shows up
  // even while nothing is being written.
  void watch() {
    socket_.async_read_some(asio::buffer(discard_), [self = shared_from_this(), generation = generation_](
                                                        const boost::system::error_code& error, std::size_t) {
      if (generation != self->generation_ || self->closed_) {
        return;
      }
      if (error) {
        self->on_lost(error);
      } else {
        self->watch();
      }
    });
  }

  void on_lost(const boost::system::error_code& error) {
    if (!connected_) {
      return;
    }
    // Even an orderly close (EOF) does not prove the peer read what its kernel acknowledged (measured: EOF, not a
    // reset, from a peer that closed with bytes unread), so the margin stays for a resend to the next peer. But a
    // stop does not wait for a next peer to take what one that closed in order had acknowledged (a receiver that
    // exits once it has all it expects): orderly_acked_ marks it.
    acknowledge(margin());
    if (error == asio::error::eof) {
      orderly_acked_ = std::max(orderly_acked_, acked_position_);
    }
    connected_ = false;
    ++generation_;
    last_error_ = describe_error(error);
    boost::system::error_code ignored;
    socket_.close(ignored);
    acknowledgement_timer_.cancel();
    io_logger()->warn("tcp_sink '{}': lost connection to {} ({}); reconnecting to resend {} bytes", config_.name,
                      peer_, last_error_, retained_.bytes());
    connect();
    maybe_finish_stop();  // stopping, and a peer that closed in order had acknowledged everything kept
  }

  void write_queued() {
    if (!connected_ || writing_ || !retained_.has_unwritten()) {
      return;
    }
    std::size_t count = retained_.gather(gathered_, max_gathered_buffers);
    writing_ = true;
    asio::async_write(socket_, gathered_,
                      [self = shared_from_this(), generation = generation_, count](
                          const boost::system::error_code& error, std::size_t written) {
                        self->on_written(error, written, count, generation);
                      });
  }

  void on_written(const boost::system::error_code& error, std::size_t written, std::size_t count,
                  std::uint64_t generation) {
    writing_ = false;
    if (closed_) {
      return;
    }
    if (generation == generation_) {
      if (error) {
        on_lost(error);  // what was partly written is resent whole after the reconnect
      } else {
        retained_.mark_written(count);
        connection_written_ += written;
        acknowledge(margin());
      }
    }
    write_queued();
    poll_acknowledgements();
    maybe_finish_stop();
  }

  /// Asks the kernel how much of this connection's stream the peer acknowledged, and releases what lies more than
  /// `keep` bytes before that.
  void acknowledge(std::size_t keep) {
    std::uint64_t acked = 0;
    if (std::optional<std::uint64_t> bytes = read_acknowledged_bytes(socket_.native_handle())) {
      acked = connection_start_ + *bytes;
    } else if (std::optional<std::size_t> unacknowledged = read_unacknowledged_bytes(socket_.native_handle())) {
      // Bytes of a write still in flight are not in connection_written_: this under-counts, which is safe.
      acked = connection_start_ + connection_written_ - std::min<std::uint64_t>(*unacknowledged, connection_written_);
    } else {
      return;
    }
    acked_position_ = std::max(acked_position_, acked);
    finish_flushes();
    budget_.release(retained_.release_acknowledged(acked_position_, keep));
  }

  /// Acknowledged bytes kept for a resend: the peer may not have read them yet (none once stopping: a stop ends
  /// when the peer acknowledged everything).
  [[nodiscard]] std::size_t margin() const { return stopping_ ? 0 : config_.max_buffered_bytes / 2; }

  // Written bytes the peer has not acknowledged, with nothing more to write: no write completion will come to ask
  // the kernel again, so a timer does.
  void poll_acknowledgements() {
    if (!connected_ || writing_ || polling_ || retained_.has_unwritten() ||
        acked_position_ >= retained_.write_position()) {
      return;
    }
    polling_ = true;
    acknowledgement_timer_.expires_after(acknowledgement_poll);
    acknowledgement_timer_.async_wait(
        [self = shared_from_this(), generation = generation_](const boost::system::error_code& error) {
          self->polling_ = false;
          if (error || self->closed_ || generation != self->generation_) {
            return;
          }
          self->acknowledge(self->margin());
          self->poll_acknowledgements();
          self->maybe_finish_stop();
        });
  }

  /// Calls back the flushes whose bytes the peer acknowledged (in order: their targets only grow).
  void finish_flushes() {
    while (!flushes_.empty() && flushes_.front().first <= acked_position_) {
      auto done = std::move(flushes_.front().second);
      flushes_.pop_front();
      done({});
    }
  }

  void maybe_finish_stop() {
    if (!stopping_ || writing_) {
      return;
    }
    if (!closed_) {
      if (connected_) {
        if (retained_.has_unwritten()) {
          return;
        }
        acknowledge(0);
        if (!retained_.empty()) {
          poll_acknowledgements();
          return;
        }
        boost::system::error_code ignored;
        socket_.shutdown(asio::socket_base::shutdown_send, ignored);
      } else if (undelivered_bytes() > 0) {
        return;  // resent once reconnected
      }
      close();
      budget_.release(retained_.clear());  // none, or what a peer that closed in order had acknowledged
      io_logger()->info("tcp_sink '{}': stopped", config_.name);
    }
    auto callbacks = std::move(on_stopped_);
    on_stopped_.clear();
    for (auto& callback : callbacks) {
      callback();
    }
  }

  void close() {
    closed_ = true;
    connected_ = false;
    ++generation_;
    boost::system::error_code ignored;
    socket_.close(ignored);
    resolver_.cancel();
    retry_timer_.cancel();
    acknowledgement_timer_.cancel();
    for (auto& [target, done] : std::exchange(flushes_, {})) {
      done(fmt::format("the sink closed before {} delivered everything", peer_));
    }
  }

  using Timer =
      asio::basic_waitable_timer<std::chrono::steady_clock, asio::wait_traits<std::chrono::steady_clock>, Strand>;

  TcpSinkConfig config_;
  std::string peer_;
  Strand strand_;
  asio::basic_stream_socket<asio::ip::tcp, Strand> socket_;
  asio::ip::basic_resolver<asio::ip::tcp, Strand> resolver_;
  Timer retry_timer_;
  Timer acknowledgement_timer_;
  core::ByteBudget budget_;
  RetainedOutput retained_;
  std::uint64_t connection_start_ = 0;    ///< stream position this connection started writing at
  std::uint64_t connection_written_ = 0;  ///< bytes the socket accepted on this connection
  std::uint64_t acked_position_ = 0;      ///< stream position the peer acknowledged on this connection
  std::uint64_t orderly_acked_ = 0;       ///< the furthest acked_position_ of a connection whose peer closed in order
  std::vector<asio::const_buffer> gathered_;
  std::array<char, 512> discard_{};
  std::vector<std::function<void()>> on_stopped_;
  std::deque<std::pair<std::uint64_t, std::function<void(std::string)>>> flushes_;  ///< stream position to reach
  std::string last_error_;
  std::uint64_t generation_ = 0;  // bumped per connection change, so stale handlers are ignored
  std::size_t failed_attempts_ = 0;
  std::chrono::steady_clock::time_point last_connect_warning_{};
  bool started_ = false;
  bool connected_ = false;
  bool writing_ = false;
  bool polling_ = false;
  bool stopping_ = false;
  bool closed_ = false;
  bool warned_write_after_close_ = false;
};

/// The handle the runtime owns. Dropping it closes the connection, discarding what is still queued.
class TcpSinkHandle final : public TcpSink {
 public:
  explicit TcpSinkHandle(std::shared_ptr<TcpSinkCore> core) : core_(std::move(core)) {}
  ~TcpSinkHandle() override { core_->abandon(); }
  TcpSinkHandle(const TcpSinkHandle&) = delete;
  TcpSinkHandle& operator=(const TcpSinkHandle&) = delete;

  void start() override { core_->start(); }
  [[nodiscard]] bool takes_records() const override { return false; }
  void write(RecordBatch&& batch) override { core_->write(std::move(batch.values)); }
  void flush(std::function<void(std::string)> done) override { core_->flush(std::move(done)); }
  [[nodiscard]] core::ByteBudget& budget() override { return core_->budget(); }
  void stop(std::function<void()> on_stopped) override { core_->stop(std::move(on_stopped)); }
  [[nodiscard]] std::size_t undelivered_bytes() const override { return core_->undelivered_bytes(); }
  [[nodiscard]] std::string undelivered_reason() const override { return core_->undelivered_reason(); }

 private:
  std::shared_ptr<TcpSinkCore> core_;
};

}  // namespace

std::unique_ptr<TcpSink> make_tcp_sink(boost::asio::io_context& io, TcpSinkConfig config) {
  return std::make_unique<TcpSinkHandle>(std::make_shared<TcpSinkCore>(io, std::move(config)));
}

}  // namespace roo::io
