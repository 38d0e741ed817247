#include "nats_test_support.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdexcept>
#include <thread>

extern char** environ;

namespace roo::io::test {
namespace {

std::uint16_t free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

bool accepts(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return ok;
}

void check(natsStatus status, const char* what) {
  if (status != NATS_OK) {
    throw std::runtime_error(std::string(what) + ": " + natsStatus_GetText(status));
  }
}

}  // namespace

NatsServerProcess::NatsServerProcess() : port_(free_loopback_port()) { start(); }

void NatsServerProcess::start() {
  std::string port = std::to_string(port_);
  const char* server = ::access("/usr/sbin/nats-server", X_OK) == 0 ? "/usr/sbin/nats-server" : "/usr/bin/nats-server";
  std::vector<char*> argv{const_cast<char*>(server), const_cast<char*>("-a"), const_cast<char*>("127.0.0.1"),
                          const_cast<char*>("-p"), port.data(), nullptr};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  int error = posix_spawn(&pid_, server, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0) {
    throw std::runtime_error("cannot start nats-server (apt-get install nats-server; tools/setup)");
  }
  for (int attempt = 0; attempt < 500 && !accepts(port_); ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void NatsServerProcess::stop() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
}

NatsTestClient::NatsTestClient(const std::string& url) {
  check(natsConnection_ConnectTo(&connection_, url.c_str()), "the test client's connection");
}

NatsTestClient::~NatsTestClient() {
  natsSubscription_Destroy(subscription_);
  natsConnection_Destroy(connection_);
}

void NatsTestClient::publish(const std::string& subject, const std::string& data) {
  check(natsConnection_Publish(connection_, subject.c_str(), data.data(), static_cast<int>(data.size())), "publish");
}

void NatsTestClient::flush() { check(natsConnection_FlushTimeout(connection_, 5000), "flush"); }

void NatsTestClient::subscribe(const std::string& subject) {
  check(natsConnection_Subscribe(&subscription_, connection_, subject.c_str(), &NatsTestClient::on_message, this),
        "subscribe");
  flush();
}

std::vector<std::string> NatsTestClient::wait_for(std::size_t count, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (received_.size() >= count || std::chrono::steady_clock::now() >= deadline) {
        return received_;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

void NatsTestClient::on_message(natsConnection* /*connection*/, natsSubscription* /*subscription*/, natsMsg* message,
                                void* self) {
  auto& client = *static_cast<NatsTestClient*>(self);
  {
    std::lock_guard lock(client.mutex_);
    client.received_.emplace_back(natsMsg_GetData(message), static_cast<std::size_t>(natsMsg_GetDataLength(message)));
  }
  natsMsg_Destroy(message);
}

}  // namespace roo::io::test
