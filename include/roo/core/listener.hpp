#pragma once

#include "roo/core/byte_stream.hpp"
#include "roo/core/endpoint.hpp"

#include <boost/asio/steady_timer.hpp>
#include <spdlog/logger.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace roo::core {

class Listener;

/// One of a listener's connection places, held by the connection it accepted. Giving it back (destroying it, or
/// release()) frees the place; a listener waiting at its limit then accepts again. Move-only; may be destroyed
/// on any thread.
class ListenerSlot {
 public:
  ListenerSlot() = default;
  explicit ListenerSlot(std::weak_ptr<Listener> listener) : listener_(std::move(listener)) {}
  ListenerSlot(ListenerSlot&& other) noexcept = default;
  ListenerSlot& operator=(ListenerSlot&& other) noexcept {
    if (this != &other) {
      release();
      listener_ = std::move(other.listener_);
    }
    return *this;
  }
  ListenerSlot(const ListenerSlot&) = delete;
  ListenerSlot& operator=(const ListenerSlot&) = delete;
  ~ListenerSlot() { release(); }
  void release();

 private:
  std::weak_ptr<Listener> listener_;
};

/// What a listener reports, for owners that word it themselves (a TCP source names its slots "the source's
/// parallelism"). Each one left unset is logged by the listener in its own words (the lines in Listener's comment).
/// Called on the strand.
struct ListenerNotices {
  std::function<void(std::size_t open)> at_limit{};  ///< every slot is taken (at most once per limit_warning_interval)
  std::function<void(const boost::system::error_code& error)> cannot_accept{};  ///< the first failure of a streak
  std::function<void(std::size_t failures)> accepting_again{};  ///< an accept succeeded after `failures` failed
};

struct ListenerConfig {
  std::string what{};                      ///< "the control channel": named in errors and warnings
  std::string log_prefix{};                ///< the owner's: warnings read "<prefix>: ..."
  std::shared_ptr<spdlog::logger> logger{};  ///< the owner's module logger
  std::size_t max_connections = 64;        ///< connections holding a slot at once; at the limit accepting waits
  std::chrono::milliseconds min_backoff{100};  ///< after an accept failed for lack of descriptors or memory ...
  std::chrono::milliseconds max_backoff{1000};  ///< ... doubling up to this while it keeps failing
  std::chrono::seconds limit_warning_interval{10};  ///< "at its limit" is reported at most this often
  /// Each accepted socket gets a strand of its own (connections that run in parallel and post back to the owner);
  /// otherwise it shares the listener's strand.
  bool strand_per_connection = false;
  /// SO_REUSEPORT: several processes (the workers of `roo run --workers N`) may bind the same address, and the
  /// kernel spreads new connections among them. Off: a second bind fails with "address already in use".
  bool reuse_port = false;
  ListenerNotices notices{};
};

/// A TCP acceptor with limits: at most `max_connections` accepted connections hold a slot at once (more wait in
/// the kernel's backlog; one warning each time the limit is reached), and when accept fails for lack of
/// descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM) it waits (by default 100 ms doubling to 1 s) instead
/// of spinning, with one warning until an accept succeeds again. Everything runs on its strand; shared_ptr because the slots
/// and pending handlers refer back to it. Lifecycle: make → listen() → start() → close().
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  /// Called on the strand with each accepted socket and the slot its connection must hold.
  using SocketHandler = std::function<void(TcpSocket, ListenerSlot)>;

  [[nodiscard]] static std::shared_ptr<Listener> make(Strand strand, ListenerConfig config);

  /// Binds `where` (a host name resolves, IPv4 preferred) and listens. Returns the bound address (port 0 becomes
  /// the real port). Throws core::Error "listen on <host:port> for <what>: <cause>". Any thread, before start().
  [[nodiscard]] Endpoint listen(const Endpoint& where);
  /// Begins accepting. On the strand.
  void start(SocketHandler on_socket);
  /// Stops accepting and closes the acceptor; idempotent. On the strand.
  void close();

  /// True when bound to a loopback address (127.0.0.0/8, ::1): only this machine can connect.
  [[nodiscard]] bool is_loopback() const;
  /// The bound address as the socket reports it (numeric, where listen() returns the host as given). After listen().
  [[nodiscard]] Endpoint local_address() const;
  /// Connections holding a slot. On the strand.
  [[nodiscard]] std::size_t open_connections() const { return open_; }

  Listener(Strand strand, ListenerConfig config);

 private:
  friend class ListenerSlot;
  void accept();
  void on_accepted(const boost::system::error_code& error, TcpSocket socket);
  void slot_freed();

  Strand strand_;
  ListenerConfig config_;
  asio::basic_socket_acceptor<asio::ip::tcp, Strand> acceptor_;
  asio::basic_waitable_timer<std::chrono::steady_clock, asio::wait_traits<std::chrono::steady_clock>, Strand>
      backoff_timer_;
  SocketHandler on_socket_;
  Endpoint bound_;
  std::size_t open_ = 0;
  std::chrono::milliseconds backoff_{0};
  bool accepting_ = false;
  bool waiting_for_slot_ = false;
  std::size_t failures_ = 0;  ///< failed accepts (for lack of descriptors or memory) since the last success
  bool closed_ = false;
  std::chrono::steady_clock::time_point last_limit_warning_{};
  bool warned_limit_ = false;
};

}  // namespace roo::core
