#include "roo/io/tcp_source.hpp"

#include "accept_backoff.hpp"
#include "io_log.hpp"
#include "tcp_source_connection.hpp"

#include "roo/core/error.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cctype>
#include <unordered_map>
#include <utility>
#include <vector>

namespace roo::io {
namespace {

// "At its connection limit" is logged at most this often (a source full of long-lived senders reaches it often).
constexpr std::chrono::seconds limit_warning_interval{60};

/// The acceptor side of a TCP source, on its own strand: accepts up to max_connections clients, pausing at
/// the limit, and tracks them so stop() can wind them down. shared_ptr because its handlers and its
/// connections' on_finished callbacks may outlive the Source handle.
class TcpSourceCore : public std::enable_shared_from_this<TcpSourceCore> {
 public:
  TcpSourceCore(asio::io_context& io, TcpSourceConfig config, core::BoundedMailbox<core::FrameBatch>& mailbox,
                core::BatchPool& pool)
      : io_(io),
        strand_(asio::make_strand(io)),
        acceptor_(strand_),
        retry_timer_(strand_),
        config_(std::make_shared<const TcpSourceConfig>(std::move(config))),
        mailbox_(mailbox),
        pool_(pool) {}

  void start() {
    if (started_) {
      return;
    }
    started_ = true;
    const std::string address = config_->listen.to_string();
    auto fail = [&](const boost::system::error_code& error) {
      return core::Error("listen on " + address + " for source '" + config_->name + "': " + describe_error(error));
    };
    boost::system::error_code error;
    asio::ip::tcp::resolver resolver(io_);
    auto results = resolver.resolve(config_->listen.host, std::to_string(config_->listen.port),
                                    asio::ip::tcp::resolver::passive | asio::ip::tcp::resolver::numeric_service, error);
    if (error) {
      throw fail(error);
    }
    // A name such as "localhost" may resolve to ::1 first; senders mostly dial 127.0.0.1, so prefer IPv4.
    asio::ip::tcp::endpoint endpoint = results.begin()->endpoint();
    for (const auto& entry : results) {
      if (entry.endpoint().address().is_v4()) {
        endpoint = entry.endpoint();
        break;
      }
    }
    if (acceptor_.open(endpoint.protocol(), error) ||
        acceptor_.set_option(asio::socket_base::reuse_address(true), error) || acceptor_.bind(endpoint, error) ||
        acceptor_.listen(asio::socket_base::max_listen_connections, error)) {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      throw fail(error);
    }
    auto bound = acceptor_.local_endpoint();
    local_ = core::Endpoint{bound.address().to_string(), bound.port()};
    io_logger()->info("tcp_source '{}': listening on {}", config_->name, local_.to_string());
    asio::post(strand_, [self = shared_from_this()] { self->accept(); });
  }

  void stop(std::function<void()> on_stopped) {
    asio::post(strand_, [self = shared_from_this(), on_stopped = std::move(on_stopped)]() mutable {
      if (on_stopped) {
        self->on_stopped_.push_back(std::move(on_stopped));
      }
      if (!self->stopping_) {
        self->stopping_ = true;
        boost::system::error_code ignored;
        self->acceptor_.close(ignored);
        self->retry_timer_.cancel();
        for (auto& [raw, connection] : self->connections_) {
          connection->stop();
        }
      }
      self->maybe_finish_stop();
    });
  }

  [[nodiscard]] core::Endpoint local_endpoint() const { return local_; }

 private:
  void accept() {
    if (stopping_ || accepting_ || retrying_) {
      return;
    }
    if (connections_.size() >= config_->max_connections) {
      at_limit_->store(true, std::memory_order_relaxed);
      warn_at_limit();
      return;
    }
    at_limit_->store(false, std::memory_order_relaxed);
    accepting_ = true;
    acceptor_.async_accept(
        asio::make_strand(io_),
        asio::bind_executor(strand_, [self = shared_from_this()](const boost::system::error_code& error,
                                                                 TcpSourceConnection::Socket socket) {
          self->on_accept(error, std::move(socket));
        }));
  }

  void on_accept(const boost::system::error_code& error, TcpSourceConnection::Socket socket) {
    accepting_ = false;
    if (stopping_) {
      boost::system::error_code ignored;
      socket.close(ignored);
      return;
    }
    if (error) {
      std::chrono::milliseconds delay = backoff_.on_failure();
      if (backoff_.began_streak()) {
        io_logger()->warn("tcp_source '{}': cannot accept a connection on {} ({}); retrying every {} ms at most",
                          config_->name, local_.to_string(), describe_error(error), AcceptBackoff::max_delay.count());
      }
      retrying_ = true;
      retry_timer_.expires_after(delay);
      retry_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& timer_error) {
        self->retrying_ = false;
        if (!timer_error) {
          self->accept();
        }
      });
      return;
    }
    if (std::size_t failures = backoff_.on_success(); failures > 0) {
      io_logger()->info("tcp_source '{}': accepting connections again after {} failed attempts", config_->name,
                        failures);
    }
    socket.set_option(asio::ip::tcp::no_delay(true));
    std::weak_ptr<TcpSourceCore> weak = weak_from_this();
    auto connection = std::make_shared<TcpSourceConnection>(
        std::move(socket), config_, at_limit_, mailbox_, pool_, [weak](TcpSourceConnection* finished) {
          if (auto self = weak.lock()) {
            asio::post(self->strand_, [self, finished] { self->on_connection_finished(finished); });
          }
        });
    connections_.emplace(connection.get(), connection);
    connection->start();
    accept();
  }

  void on_connection_finished(TcpSourceConnection* finished) {
    if (finished->was_refused()) {
      ++refused_connections_;
    }
    connections_.erase(finished);
    if (stopping_) {
      maybe_finish_stop();
    } else {
      accept();  // resumes accepting if the limit had paused it
    }
  }

  // Clients past the limit wait in the kernel's backlog, unserved, until a connection closes: say so, rarely.
  void warn_at_limit() {
    auto now = std::chrono::steady_clock::now();
    if (warned_at_limit_ && now - last_limit_warning_ < limit_warning_interval) {
      return;
    }
    warned_at_limit_ = true;
    last_limit_warning_ = now;
    io_logger()->warn("tcp_source '{}': at its limit of {} connections (the source's parallelism); new clients wait "
                      "until one closes",
                      config_->name, config_->max_connections);
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

  asio::io_context& io_;
  asio::strand<asio::io_context::executor_type> strand_;
  asio::basic_socket_acceptor<asio::ip::tcp, asio::strand<asio::io_context::executor_type>> acceptor_;
  asio::basic_waitable_timer<std::chrono::steady_clock, asio::wait_traits<std::chrono::steady_clock>,
                             asio::strand<asio::io_context::executor_type>>
      retry_timer_;
  std::shared_ptr<const TcpSourceConfig> config_;
  core::BoundedMailbox<core::FrameBatch>& mailbox_;
  core::BatchPool& pool_;
  core::Endpoint local_;
  std::unordered_map<TcpSourceConnection*, std::shared_ptr<TcpSourceConnection>> connections_;
  /// Set while every slot is taken and newcomers wait in the backlog: then a connection idle between frames for
  /// twice the idle timeout gives its place up (read by the connections' idle checks).
  std::shared_ptr<std::atomic<bool>> at_limit_ = std::make_shared<std::atomic<bool>>(false);
  std::vector<std::function<void()>> on_stopped_;
  bool started_ = false;
  bool accepting_ = false;
  AcceptBackoff backoff_;
  std::size_t refused_connections_ = 0;  ///< closed for a malformed frame or for no complete frame in time
  std::chrono::steady_clock::time_point last_limit_warning_{};
  bool warned_at_limit_ = false;
  bool retrying_ = false;
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
