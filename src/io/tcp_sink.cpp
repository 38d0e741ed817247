#include "roo/io/tcp_sink.hpp"

#include "io_log.hpp"

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
#include <utility>

namespace roo::io {
namespace {

namespace asio = boost::asio;
using Strand = asio::strand<asio::io_context::executor_type>;

constexpr std::size_t max_gathered_buffers = 64;
constexpr std::chrono::seconds connect_warning_interval{30};

/// The connection and queue behind a TcpSink, all on one strand. shared_ptr because Asio handlers and the
/// producer's posted writes may outlive the TcpSink handle. Queued buffers are whole encoder outputs; a buffer
/// is dropped from the queue (and released from the budget) only once the socket accepted all of it, so after
/// a reconnect writing resumes at the start of the first buffer not completely written.
class TcpSinkCore : public std::enable_shared_from_this<TcpSinkCore> {
 public:
  TcpSinkCore(asio::io_context& io, TcpSinkConfig config)
      : config_(std::move(config)),
        peer_(config_.peer.to_string()),
        strand_(asio::make_strand(io)),
        socket_(strand_),
        resolver_(strand_),
        retry_timer_(strand_),
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

  void stop(std::function<void()> on_stopped) {
    asio::post(strand_, [self = shared_from_this(), on_stopped = std::move(on_stopped)]() mutable {
      if (on_stopped) {
        self->on_stopped_.push_back(std::move(on_stopped));
      }
      self->stopping_ = true;
      self->maybe_finish_stop();
    });
  }

  /// The handle is gone: close now, giving up on what is still queued (with a warning).
  void abandon() {
    asio::post(strand_, [self = shared_from_this()] {
      if (self->closed_) {
        return;
      }
      if (self->queued_bytes_ > 0) {
        io_logger()->warn("tcp_sink '{}': discarding {} bytes not yet written to {}", self->config_.name,
                          self->queued_bytes_, self->peer_);
      }
      self->close();
      self->budget_.release(self->queued_bytes_);
      self->queue_.clear();
      self->queued_bytes_ = 0;
    });
  }

  [[nodiscard]] core::ByteBudget& budget() { return budget_; }

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
    queued_bytes_ += bytes.size();
    queue_.push_back(std::move(bytes));
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
    io_logger()->info("tcp_sink '{}': connected to {}", config_.name, peer_);
    watch();
    write_queued();
  }

  void on_connect_failed(const boost::system::error_code& error) {
    boost::system::error_code ignored;
    socket_.close(ignored);
    auto now = std::chrono::steady_clock::now();
    ++failed_attempts_;
    if (failed_attempts_ == 1) {
      io_logger()->warn("tcp_sink '{}': cannot connect to {} ({}); retrying every {} ms", config_.name, peer_,
                        describe_error(error), config_.reconnect_interval.count());
      last_connect_warning_ = now;
    } else if (now - last_connect_warning_ >= connect_warning_interval) {
      io_logger()->warn("tcp_sink '{}': still cannot connect to {} ({}) after {} attempts; retrying every {} ms",
                        config_.name, peer_, describe_error(error), failed_attempts_,
                        config_.reconnect_interval.count());
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
    connected_ = false;
    ++generation_;
    boost::system::error_code ignored;
    socket_.close(ignored);
    io_logger()->warn("tcp_sink '{}': lost connection to {} ({}); reconnecting with {} bytes queued", config_.name,
                      peer_, describe_error(error), queued_bytes_);
    connect();
  }

  void write_queued() {
    if (!connected_ || writing_ || queue_.empty()) {
      return;
    }
    gathered_.clear();
    std::size_t count = std::min(queue_.size(), max_gathered_buffers);
    for (std::size_t i = 0; i < count; ++i) {
      gathered_.push_back(asio::buffer(queue_[i]));
    }
    writing_ = true;
    asio::async_write(socket_, gathered_,
                      [self = shared_from_this(), generation = generation_](const boost::system::error_code& error,
                                                                            std::size_t written) {
                        self->on_written(error, written, generation);
                      });
  }

  void on_written(const boost::system::error_code& error, std::size_t written, std::uint64_t generation) {
    writing_ = false;
    if (closed_) {
      return;
    }
    std::size_t done = 0;
    while (!queue_.empty() && written >= queue_.front().size()) {
      written -= queue_.front().size();
      done += queue_.front().size();
      queue_.pop_front();
    }
    // A partly written buffer stays whole at the front: it is resent from its start after a reconnect.
    queued_bytes_ -= done;
    budget_.release(done);
    if (error && generation == generation_) {
      on_lost(error);
    }
    write_queued();
    maybe_finish_stop();
  }

  void maybe_finish_stop() {
    if (!stopping_ || writing_ || !queue_.empty()) {
      return;
    }
    if (!closed_) {
      if (connected_) {
        boost::system::error_code ignored;
        socket_.shutdown(asio::socket_base::shutdown_send, ignored);
      }
      close();
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
  }

  TcpSinkConfig config_;
  std::string peer_;
  Strand strand_;
  asio::basic_stream_socket<asio::ip::tcp, Strand> socket_;
  asio::ip::basic_resolver<asio::ip::tcp, Strand> resolver_;
  asio::basic_waitable_timer<std::chrono::steady_clock, asio::wait_traits<std::chrono::steady_clock>, Strand>
      retry_timer_;
  core::ByteBudget budget_;
  std::deque<std::vector<char>> queue_;  // whole encoder outputs, oldest first
  std::size_t queued_bytes_ = 0;
  std::vector<asio::const_buffer> gathered_;
  std::array<char, 512> discard_{};
  std::vector<std::function<void()>> on_stopped_;
  std::uint64_t generation_ = 0;  // bumped per connection change, so stale handlers are ignored
  std::size_t failed_attempts_ = 0;
  std::chrono::steady_clock::time_point last_connect_warning_{};
  bool started_ = false;
  bool connected_ = false;
  bool writing_ = false;
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
  void write(std::vector<char>&& bytes) override { core_->write(std::move(bytes)); }
  [[nodiscard]] core::ByteBudget& budget() override { return core_->budget(); }
  void stop(std::function<void()> on_stopped) override { core_->stop(std::move(on_stopped)); }

 private:
  std::shared_ptr<TcpSinkCore> core_;
};

}  // namespace

std::unique_ptr<TcpSink> make_tcp_sink(boost::asio::io_context& io, TcpSinkConfig config) {
  return std::make_unique<TcpSinkHandle>(std::make_shared<TcpSinkCore>(io, std::move(config)));
}

}  // namespace roo::io
