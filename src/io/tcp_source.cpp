#include "roo/io/tcp_source.hpp"

#include "io_log.hpp"
#include "tcp_source_connection.hpp"

#include "roo/core/error.hpp"
#include "roo/core/listener.hpp"

#include <boost/asio/post.hpp>

#include <atomic>
#include <unordered_map>
#include <utility>
#include <vector>

namespace roo::io {
namespace {

// After an accept fails for lack of descriptors, the source retries after 10 ms, doubling up to this.
constexpr std::chrono::milliseconds max_accept_backoff{1000};

/// The acceptor side of a TCP source, on its own strand: a core::Listener accepts up to max_connections clients
/// (pausing at the limit, backing off when descriptors run out), and this tracks them so stop() can wind them down.
/// shared_ptr because its handlers and its connections' on_finished callbacks may outlive the Source handle.
class TcpSourceCore : public std::enable_shared_from_this<TcpSourceCore> {
 public:
  TcpSourceCore(asio::io_context& io, TcpSourceConfig config, core::BoundedMailbox<core::FrameBatch>& mailbox,
                core::BatchPool& pool)
      : strand_(asio::make_strand(io)),
        config_(std::make_shared<const TcpSourceConfig>(std::move(config))),
        mailbox_(mailbox),
        pool_(pool) {}

  void start() {
    if (started_) {
      return;
    }
    started_ = true;
    listener_ = core::Listener::make(strand_, listener_config());
    (void)listener_->listen(config_->listen);
    local_ = listener_->local_address();
    io_logger()->info("tcp_source '{}': listening on {}", config_->name, local_.to_string());
    asio::post(strand_, [self = shared_from_this()] {
      if (!self->stopping_) {
        // Weak: the listener keeps this handler after close(), and the listener is ours.
        self->listener_->start([weak = self->weak_from_this()](core::TcpSocket socket, core::ListenerSlot slot) {
          if (auto alive = weak.lock()) {
            alive->on_accept(std::move(socket), std::move(slot));
          }
        });
      }
    });
  }

  void stop(std::function<void()> on_stopped) {
    asio::post(strand_, [self = shared_from_this(), on_stopped = std::move(on_stopped)]() mutable {
      if (on_stopped) {
        self->on_stopped_.push_back(std::move(on_stopped));
      }
      if (!self->stopping_) {
        self->stopping_ = true;
        if (self->listener_) {
          self->listener_->close();
        }
        for (auto& [raw, accepted] : self->connections_) {
          accepted.connection->stop();
        }
      }
      self->maybe_finish_stop();
    });
  }

  [[nodiscard]] core::Endpoint local_endpoint() const { return local_; }

 private:
  /// A connection and the listener slot it holds until it finishes.
  struct Accepted {
    std::shared_ptr<TcpSourceConnection> connection;
    core::ListenerSlot slot;
  };

  // The source's own words for the listener's notices (docs/errors.md); the limit is the source's parallelism, and
  // a source full of long-lived senders reaches it often, so it is said at most once a minute.
  [[nodiscard]] core::ListenerConfig listener_config() const {
    std::string name = config_->name;
    std::size_t limit = config_->max_connections;
    std::weak_ptr<const TcpSourceCore> weak = weak_from_this();
    return core::ListenerConfig{
        .what = "source '" + name + "'",
        .log_prefix = "tcp_source '" + name + "'",
        .logger = io_logger(),
        .max_connections = limit,
        .min_backoff = std::chrono::milliseconds(10),
        .max_backoff = max_accept_backoff,
        .limit_warning_interval = std::chrono::seconds(60),
        .strand_per_connection = true,
        .notices = core::ListenerNotices{
            .at_limit =
                [name, limit](std::size_t) {
                  // Clients past the limit wait in the kernel's backlog, unserved, until a connection closes.
                  io_logger()->warn("tcp_source '{}': at its limit of {} connections (the source's parallelism); new "
                                    "clients wait until one closes",
                                    name, limit);
                },
            .cannot_accept =
                [name, weak](const boost::system::error_code& error) {
                  auto self = weak.lock();
                  io_logger()->warn("tcp_source '{}': cannot accept a connection on {} ({}); retrying every {} ms at "
                                    "most",
                                    name, self ? self->local_.to_string() : std::string("?"), describe_error(error),
                                    max_accept_backoff.count());
                },
            .accepting_again =
                [name](std::size_t failures) {
                  io_logger()->info("tcp_source '{}': accepting connections again after {} failed attempts", name,
                                    failures);
                },
        }};
  }

  void on_accept(core::TcpSocket socket, core::ListenerSlot slot) {
    if (stopping_) {
      boost::system::error_code ignored;
      socket.close(ignored);
      return;
    }
    boost::system::error_code ignored;
    socket.set_option(asio::ip::tcp::no_delay(true), ignored);
    std::weak_ptr<TcpSourceCore> weak = weak_from_this();
    auto connection = std::make_shared<TcpSourceConnection>(
        std::move(socket), next_channel_++, config_, at_limit_, mailbox_, pool_, [weak](TcpSourceConnection* finished) {
          if (auto self = weak.lock()) {
            asio::post(self->strand_, [self, finished] { self->on_connection_finished(finished); });
          }
        });
    connections_.emplace(connection.get(), Accepted{connection, std::move(slot)});
    at_limit_->store(connections_.size() >= config_->max_connections, std::memory_order_relaxed);
    connection->start();
  }

  void on_connection_finished(TcpSourceConnection* finished) {
    if (finished->was_refused()) {
      ++refused_connections_;
    }
    connections_.erase(finished);  // gives back its slot: a listener paused at the limit accepts again
    at_limit_->store(connections_.size() >= config_->max_connections, std::memory_order_relaxed);
    maybe_finish_stop();
  }

  void maybe_finish_stop() {
    if (!stopping_ || !connections_.empty()) {
      return;
    }
    if (!stopped_) {
      stopped_ = true;
      if (refused_connections_ > 0) {
        io_logger()->info("tcp_source '{}': stopped ({} connections closed for a bad frame or no complete frame in "
                          "time)",
                          config_->name, refused_connections_);
      } else {
        io_logger()->info("tcp_source '{}': stopped", config_->name);
      }
    }
    auto callbacks = std::move(on_stopped_);
    on_stopped_.clear();
    for (auto& callback : callbacks) {
      callback();
    }
  }

  core::Strand strand_;
  std::shared_ptr<const TcpSourceConfig> config_;
  core::BoundedMailbox<core::FrameBatch>& mailbox_;
  core::BatchPool& pool_;
  std::shared_ptr<core::Listener> listener_;
  core::Endpoint local_;
  std::unordered_map<TcpSourceConnection*, Accepted> connections_;
  /// Set while every slot is taken and newcomers wait in the backlog: then a connection idle between frames for
  /// twice the idle timeout gives its place up (read by the connections' idle checks).
  std::shared_ptr<std::atomic<bool>> at_limit_ = std::make_shared<std::atomic<bool>>(false);
  std::vector<std::function<void()>> on_stopped_;
  std::size_t refused_connections_ = 0;  ///< closed for a malformed frame or for no complete frame in time
  /// The FrameBatch::channel of the next connection: the connection count, so each has its own for the source's
  /// lifetime (2^32 connections before it repeats; by then the first is long forgotten by the watermark clock).
  std::uint32_t next_channel_ = 0;
  bool started_ = false;
  bool stopping_ = false;
  bool stopped_ = false;
};

/// The handle the runtime owns. Dropping it without stop() still winds the source down (without a callback).
class TcpSource final : public Source {
 public:
  explicit TcpSource(std::shared_ptr<TcpSourceCore> core) : core_(std::move(core)) {}
  ~TcpSource() override { core_->stop(nullptr); }
  TcpSource(const TcpSource&) = delete;
  TcpSource& operator=(const TcpSource&) = delete;

  void start() override { core_->start(); }
  void stop(std::function<void()> on_stopped) override { core_->stop(std::move(on_stopped)); }
  [[nodiscard]] core::Endpoint local_endpoint() const override { return core_->local_endpoint(); }

 private:
  std::shared_ptr<TcpSourceCore> core_;
};

}  // namespace

std::unique_ptr<Source> make_tcp_source(boost::asio::io_context& io, TcpSourceConfig config,
                                        core::BoundedMailbox<core::FrameBatch>& mailbox, core::BatchPool& pool) {
  return std::make_unique<TcpSource>(std::make_shared<TcpSourceCore>(io, std::move(config), mailbox, pool));
}

}  // namespace roo::io
