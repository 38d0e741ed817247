#include "roo/core/listener.hpp"

#include "roo/core/error.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <cerrno>

#include <sys/socket.h>  // SO_REUSEPORT

namespace roo::core {
namespace {

/// Accept failures that mean "no descriptor or memory right now": retrying at once would spin.
bool is_exhaustion(const boost::system::error_code& error) {
  if (error.category() != boost::system::system_category()) {
    return false;
  }
  int code = error.value();
  return code == EMFILE || code == ENFILE || code == ENOBUFS || code == ENOMEM;
}

}  // namespace

void ListenerSlot::release() {
  if (auto listener = listener_.lock()) {
    asio::post(listener->strand_, [listener] { listener->slot_freed(); });
  }
  listener_.reset();
}

std::shared_ptr<Listener> Listener::make(Strand strand, ListenerConfig config) {
  return std::make_shared<Listener>(std::move(strand), std::move(config));
}

Listener::Listener(Strand strand, ListenerConfig config)
    : strand_(std::move(strand)), config_(std::move(config)), acceptor_(strand_), backoff_timer_(strand_) {}

Endpoint Listener::listen(const Endpoint& where) {
  auto fail = [&](const boost::system::error_code& error) {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    return Error("listen on " + where.to_string() + " for " + config_.what + ": " + describe_error(error));
  };
  boost::system::error_code error;
  asio::ip::tcp::resolver resolver(strand_);
  auto results = resolver.resolve(where.host, std::to_string(where.port),
                                  asio::ip::tcp::resolver::passive | asio::ip::tcp::resolver::numeric_service, error);
  if (error) {
    throw fail(error);
  }
  asio::ip::tcp::endpoint endpoint = results.begin()->endpoint();
  for (const auto& entry : results) {
    if (entry.endpoint().address().is_v4()) {
      endpoint = entry.endpoint();
      break;
    }
  }
  using reuse_port = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;
  if (acceptor_.open(endpoint.protocol(), error) ||
      acceptor_.set_option(asio::socket_base::reuse_address(true), error) ||
      (config_.reuse_port && acceptor_.set_option(reuse_port(true), error)) || acceptor_.bind(endpoint, error) ||
      acceptor_.listen(asio::socket_base::max_listen_connections, error)) {
    throw fail(error);
  }
  bound_ = Endpoint{where.host, acceptor_.local_endpoint().port()};
  return bound_;
}

Endpoint Listener::local_address() const {
  boost::system::error_code error;
  auto local = acceptor_.local_endpoint(error);
  return error ? bound_ : Endpoint{local.address().to_string(), local.port()};
}

bool Listener::is_loopback() const {
  boost::system::error_code error;
  auto local = acceptor_.local_endpoint(error);
  return !error && local.address().is_loopback();
}

void Listener::start(SocketHandler on_socket) {
  on_socket_ = std::move(on_socket);
  accept();
}

void Listener::close() {
  closed_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  backoff_timer_.cancel();
}

void Listener::accept() {
  if (closed_ || accepting_ || !acceptor_.is_open()) {
    return;
  }
  if (open_ >= config_.max_connections) {
    waiting_for_slot_ = true;
    auto now = std::chrono::steady_clock::now();
    if (!warned_limit_ || now - last_limit_warning_ >= config_.limit_warning_interval) {
      warned_limit_ = true;
      last_limit_warning_ = now;
      if (config_.notices.at_limit) {
        config_.notices.at_limit(open_);
        return;
      }
      config_.logger->warn("{}: {} at {} has {} open connections, its limit; new connections wait until one closes",
                           config_.log_prefix, config_.what, bound_.to_string(), open_);
    }
    return;
  }
  accepting_ = true;
  Strand socket_strand = config_.strand_per_connection ? asio::make_strand(strand_.get_inner_executor()) : strand_;
  acceptor_.async_accept(socket_strand,
                         [self = shared_from_this()](const boost::system::error_code& error, TcpSocket socket) {
                           self->on_accepted(error, std::move(socket));
                         });
}

void Listener::on_accepted(const boost::system::error_code& error, TcpSocket socket) {
  accepting_ = false;
  if (closed_ || !acceptor_.is_open() || error == asio::error::operation_aborted) {
    return;
  }
  if (is_exhaustion(error)) {
    backoff_ = backoff_.count() == 0 ? config_.min_backoff : std::min(backoff_ * 2, config_.max_backoff);
    if (++failures_ == 1) {
      if (config_.notices.cannot_accept) {
        config_.notices.cannot_accept(error);
      } else {
        config_.logger->warn(
            "{}: cannot accept connections on {} at {}: {}; retrying every {} ms or less until it can",
            config_.log_prefix, config_.what, bound_.to_string(), describe_error(error), config_.max_backoff.count());
      }
    }
    backoff_timer_.expires_after(backoff_);
    backoff_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& timer_error) {
      if (!timer_error) {
        self->accept();
      }
    });
    return;
  }
  if (!error) {
    if (failures_ > 0) {
      if (config_.notices.accepting_again) {
        config_.notices.accepting_again(failures_);
      } else {
        config_.logger->info("{}: accepting connections on {} at {} again", config_.log_prefix, config_.what,
                             bound_.to_string());
      }
    }
    failures_ = 0;
    backoff_ = std::chrono::milliseconds(0);
    ++open_;
    on_socket_(std::move(socket), ListenerSlot(weak_from_this()));
  }
  accept();
}

void Listener::slot_freed() {
  if (open_ > 0) {
    --open_;
  }
  if (waiting_for_slot_ && open_ < config_.max_connections) {
    waiting_for_slot_ = false;
    accept();
  }
}

}  // namespace roo::core
