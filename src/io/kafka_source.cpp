#include "roo/io/kafka_source.hpp"

#include "kafka_source_core.hpp"

#include <memory>
#include <thread>
#include <utility>

namespace roo::io {
namespace {

/// The Source handle: the core and its poll thread.
class KafkaSource final : public Source {
 public:
  KafkaSource(KafkaSourceConfig config, KafkaSourceCore::Mailbox& mailbox, core::BatchPool& pool)
      : core_(std::make_shared<KafkaSourceCore>(std::move(config), mailbox, pool)) {}

  ~KafkaSource() override {
    core_->abandon();
    core_->request_stop({});
    if (thread_.joinable()) {
      if (thread_.get_id() == std::this_thread::get_id()) {
        thread_.detach();  // destroyed from its own on_stopped callback; the thread holds the core
      } else {
        thread_.join();
      }
    } else {
      core_->mark_stopped();
    }
  }

  KafkaSource(const KafkaSource&) = delete;
  KafkaSource& operator=(const KafkaSource&) = delete;

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
  [[nodiscard]] bool replayable() const override { return true; }
  void seek(const SourcePosition& position) override { core_->seek(position); }
  void commit(const SourcePosition& position) override { core_->commit(position); }
  [[nodiscard]] std::vector<PartitionLag> consumer_lag() const override { return core_->consumer_lag(); }

 private:
  std::shared_ptr<KafkaSourceCore> core_;
  std::thread thread_;
  bool started_ = false;
};

}  // namespace

std::unique_ptr<Source> make_kafka_source(KafkaSourceConfig config, core::BoundedMailbox<core::FrameBatch>& mailbox,
                                          core::BatchPool& pool) {
  return std::make_unique<KafkaSource>(std::move(config), mailbox, pool);
}

}  // namespace roo::io
