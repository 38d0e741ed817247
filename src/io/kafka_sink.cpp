#include "roo/io/kafka_sink.hpp"

#include "kafka_sink_core.hpp"

#include <memory>
#include <thread>
#include <utility>

namespace roo::io {
namespace {

/// The Sink handle: the core and its thread.
class KafkaSink final : public Sink {
 public:
  explicit KafkaSink(KafkaSinkConfig config) : core_(std::make_shared<KafkaSinkCore>(std::move(config))) {}

  ~KafkaSink() override {
    core_->abandon();
    if (thread_.joinable()) {
      if (thread_.get_id() == std::this_thread::get_id()) {
        thread_.detach();  // destroyed from its own callback; the thread holds the core
      } else {
        thread_.join();
      }
    }
  }

  KafkaSink(const KafkaSink&) = delete;
  KafkaSink& operator=(const KafkaSink&) = delete;

  void start() override {
    if (thread_.joinable()) {
      return;
    }
    core_->start();
    thread_ = std::thread([core = core_] { core->run(); });
  }
  [[nodiscard]] bool takes_records() const override { return true; }
  void write(RecordBatch&& batch) override { core_->write(std::move(batch)); }
  [[nodiscard]] core::ByteBudget& budget() override { return core_->budget(); }
  [[nodiscard]] bool has_room() override { return Sink::has_room() && core_->has_queue_room(); }
  void flush(std::function<void(std::string error)> done) override { core_->flush(std::move(done)); }
  [[nodiscard]] bool transactional() const override { return core_->transactional(); }
  // Without a transactional.id the checkpoint calls are io::Sink's no-ops (at-least-once: flush() is what counts).
  void prepare(std::uint64_t checkpoint, PreparedCheckpoint done) override {
    if (core_->transactional()) {
      core_->prepare(checkpoint, std::move(done));
    } else {
      Sink::prepare(checkpoint, std::move(done));
    }
  }
  void commit(std::uint64_t checkpoint, Done done) override {
    if (core_->transactional()) {
      core_->commit(checkpoint, std::move(done));
    } else {
      Sink::commit(checkpoint, std::move(done));
    }
  }
  void abort() override {
    if (core_->transactional()) {
      core_->abort();
    }
  }
  void recover(std::uint64_t checkpoint, std::vector<RecordBatch> records, std::string location, Done done) override {
    if (core_->transactional()) {
      core_->recover(checkpoint, std::move(records), std::move(location), std::move(done));
    } else {
      Sink::recover(checkpoint, std::move(records), std::move(location), std::move(done));
    }
  }
  void hand_off(Prepared done) override {
    if (core_->transactional()) {
      core_->hand_off(std::move(done));
    } else {
      Sink::hand_off(std::move(done));
    }
  }
  void stop(std::function<void()> on_stopped) override {
    core_->stop(std::move(on_stopped));
    if (!thread_.joinable()) {
      core_->mark_stopped();
    }
  }
  [[nodiscard]] std::size_t undelivered_bytes() const override { return core_->undelivered_bytes(); }
  [[nodiscard]] std::string undelivered_reason() const override { return core_->undelivered_reason(); }
  [[nodiscard]] bool failed() const override { return core_->failed(); }

 private:
  std::shared_ptr<KafkaSinkCore> core_;
  std::thread thread_;
};

}  // namespace

std::unique_ptr<Sink> make_kafka_sink(KafkaSinkConfig config) {
  return std::make_unique<KafkaSink>(std::move(config));
}

}  // namespace roo::io
