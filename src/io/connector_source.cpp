#include "roo/io/connector_source.hpp"

#include "connector_source_connection.hpp"
#include "connector_streams.hpp"
#include "io_log.hpp"

#include "roo/core/listener.hpp"

#include <boost/asio/post.hpp>

#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

namespace roo::io {
namespace {

/// The acceptor side of a connector source, on its own strand: a core::Listener accepts connectors, each
/// connection runs on its own strand, and the streams they open are kept in one ConnectorStreams. shared_ptr
/// because handlers and connections' callbacks may outlive the Source handle.
class ConnectorSourceCore : public std::enable_shared_from_this<ConnectorSourceCore> {
 public:
  ConnectorSourceCore(asio::io_context& io, ConnectorSourceConfig config,
                      core::BoundedMailbox<core::FrameBatch>& mailbox, core::BatchPool& pool)
      : strand_(asio::make_strand(io)),
        config_(std::make_shared<const ConnectorSourceConfig>(std::move(config))),
        mailbox_(mailbox),
        pool_(pool) {}

  void seek(const SourcePosition& position) { position_ = position; }

  void start() {
    if (started_) {
      return;
    }
    started_ = true;
    streams_ = std::make_shared<ConnectorStreams>(position_);
    if (config_->registry) {
      config_->registry->restored(config_->source_index, streams_->marks());
    }
    listener_ =
        core::Listener::make(strand_, core::ListenerConfig{.what = "connector source '" + config_->name + "'",
                                                           .log_prefix = "connector_source '" + config_->name + "'",
                                                           .logger = io_logger(),
                                                           .max_connections = config_->max_connections,
                                                           .min_backoff = std::chrono::milliseconds(10),
                                                           .strand_per_connection = true});
    (void)listener_->listen(config_->listen);
    local_ = listener_->local_address();
    io_logger()->info("connector_source '{}': listening on {}", config_->name, local_.to_string());
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
        // A rollback drops the handle right after stop(): the core stays until its connections have finished.
        self->stopping_self_ = self;
        if (self->listener_) {
          self->listener_->close();
        }
        std::lock_guard lock(self->connections_mutex_);
        for (auto& [number, connection] : self->connections_) {
          connection->stop(self->successor_);
        }
      }
      self->maybe_finish_stop();
    });
  }

  void leave_for(std::string address) {
    asio::post(strand_, [self = shared_from_this(), address = std::move(address)]() mutable {
      self->successor_ = std::move(address);
    });
  }

  // From the runtime's thread: the ACKs go to the connections owning the streams, on their strands.
  void commit(const SourcePosition& position) {
    if (!streams_) {
      return;
    }
    std::unordered_map<ConnectorStreams::Owner, std::vector<connector::StreamAck>> by_owner;
    ConnectorStreams::Commit committed = streams_->commit(position);
    for (auto& [owner, ack] : committed.acks) {
      by_owner[owner].push_back(ack);
    }
    if (config_->registry) {
      for (const auto& mark : committed.freed) {
        config_->registry->release(config_->source_index, mark);
      }
    }
    std::lock_guard lock(connections_mutex_);
    for (auto& [owner, acks] : by_owner) {
      if (auto found = connections_.find(owner); found != connections_.end()) {
        found->second->send_acks(std::move(acks));
      }
    }
  }

  [[nodiscard]] core::Endpoint local_endpoint() const { return local_; }

 private:
  void on_accept(core::TcpSocket socket, core::ListenerSlot slot) {
    if (stopping_) {
      boost::system::error_code ignored;
      socket.close(ignored);
      return;
    }
    boost::system::error_code ignored;
    socket.set_option(asio::ip::tcp::no_delay(true), ignored);
    std::uint64_t number = ++connection_count_;
    std::weak_ptr<ConnectorSourceCore> weak = weak_from_this();
    auto connection = std::make_shared<ConnectorSourceConnection>(
        std::move(socket), std::move(slot), number, config_, streams_, mailbox_, pool_,
        [weak, number](ConnectorSourceConnection*) {
          if (auto self = weak.lock()) {
            asio::post(self->strand_, [self, number] { self->on_connection_finished(number); });
          }
        });
    {
      std::lock_guard lock(connections_mutex_);
      connections_.emplace(number, connection);
    }
    connection->start();
  }

  void on_connection_finished(std::uint64_t number) {
    {
      std::lock_guard lock(connections_mutex_);
      connections_.erase(number);
    }
    maybe_finish_stop();
  }

  void maybe_finish_stop() {
    if (!stopping_) {
      return;
    }
    {
      std::lock_guard lock(connections_mutex_);
      if (!connections_.empty()) {
        return;
      }
    }
    if (!stopped_) {
      stopped_ = true;
      io_logger()->info("connector_source '{}': stopped", config_->name);
    }
    auto callbacks = std::move(on_stopped_);
    on_stopped_.clear();
    for (auto& callback : callbacks) {
      callback();
    }
    stopping_self_.reset();  // may destroy this: the last statement
  }

  core::Strand strand_;
  std::shared_ptr<const ConnectorSourceConfig> config_;
  core::BoundedMailbox<core::FrameBatch>& mailbox_;
  core::BatchPool& pool_;
  SourcePosition position_;
  std::shared_ptr<ConnectorStreams> streams_;  ///< made by start(), from position_
  std::shared_ptr<core::Listener> listener_;
  core::Endpoint local_;
  /// Guarded: commit() looks connections up from the runtime's thread; the strand adds and removes them.
  std::mutex connections_mutex_;
  std::unordered_map<std::uint64_t, std::shared_ptr<ConnectorSourceConnection>> connections_;
  std::vector<std::function<void()>> on_stopped_;
  std::shared_ptr<ConnectorSourceCore> stopping_self_;  ///< from stop() until every connection finished
  std::uint64_t connection_count_ = 0;                  ///< the next connection's number is one more (0 is nobody)
  bool started_ = false;
  bool stopping_ = false;
  bool stopped_ = false;
  std::string successor_;  ///< where stop() sends the connectors (RESTART's address); empty: here again
};

/// The handle the runtime owns. Dropping it without stop() still winds the source down (without a callback).
class ConnectorSource final : public Source {
 public:
  explicit ConnectorSource(std::shared_ptr<ConnectorSourceCore> core) : core_(std::move(core)) {}
  ~ConnectorSource() override { core_->stop(nullptr); }
  ConnectorSource(const ConnectorSource&) = delete;
  ConnectorSource& operator=(const ConnectorSource&) = delete;

  void start() override { core_->start(); }
  void stop(std::function<void()> on_stopped) override { core_->stop(std::move(on_stopped)); }
  [[nodiscard]] core::Endpoint local_endpoint() const override { return core_->local_endpoint(); }
  [[nodiscard]] bool replayable() const override { return true; }
  void seek(const SourcePosition& position) override { core_->seek(position); }
  void commit(const SourcePosition& position) override { core_->commit(position); }
  void leave_for(std::string address) override { core_->leave_for(std::move(address)); }

 private:
  std::shared_ptr<ConnectorSourceCore> core_;
};

}  // namespace

std::unique_ptr<Source> make_connector_source(boost::asio::io_context& io, ConnectorSourceConfig config,
                                              core::BoundedMailbox<core::FrameBatch>& mailbox, core::BatchPool& pool) {
  return std::make_unique<ConnectorSource>(std::make_shared<ConnectorSourceCore>(io, std::move(config), mailbox, pool));
}

}  // namespace roo::io
