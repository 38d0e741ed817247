#pragma once

#include "roo/io/source.hpp"

#include <functional>
#include <memory>
#include <thread>
#include <utility>

namespace roo::io {

/// The Source handle of a source whose core runs on a thread of its own (Kafka's poll loop, NATS's subscription):
/// it owns the core and the thread. `Core` has start(), run() (the thread's body), request_stop(on_stopped),
/// mark_stopped() and abandon(). Destroyed from the core's own on_stopped callback, it detaches the thread (which
/// holds the core) instead of joining itself.
template <typename Core>
class ThreadedSource : public Source {
 public:
  template <typename... Args>
  explicit ThreadedSource(Args&&... args) : core_(std::make_shared<Core>(std::forward<Args>(args)...)) {}

  ~ThreadedSource() override {
    core_->abandon();
    core_->request_stop({});
    if (thread_.joinable()) {
      if (thread_.get_id() == std::this_thread::get_id()) {
        thread_.detach();
      } else {
        thread_.join();
      }
    } else {
      core_->mark_stopped();
    }
  }

  ThreadedSource(const ThreadedSource&) = delete;
  ThreadedSource& operator=(const ThreadedSource&) = delete;

  void start() override {
    if (started_) {
      return;
    }
    started_ = true;
    core_->start();
    thread_ = std::thread([core = core_] { core->run(); });
  }

  void stop(std::function<void()> on_stopped) override {
    core_->request_stop(std::move(on_stopped));
    if (!thread_.joinable()) {
      core_->mark_stopped();
    }
  }

  [[nodiscard]] core::Endpoint local_endpoint() const override { return {}; }

 protected:
  std::shared_ptr<Core> core_;

 private:
  std::thread thread_;
  bool started_ = false;
};

}  // namespace roo::io
