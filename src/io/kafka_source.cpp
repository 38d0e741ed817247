#include "roo/io/kafka_source.hpp"

#include "kafka_source_core.hpp"
#include "threaded_source.hpp"

#include <memory>
#include <thread>
#include <utility>

namespace roo::io {
namespace {

/// The Source handle: the core and its poll thread; replayable.
class KafkaSource final : public ThreadedSource<KafkaSourceCore> {
 public:
  using ThreadedSource::ThreadedSource;

  [[nodiscard]] bool replayable() const override { return true; }
  void seek(const SourcePosition& position) override { core_->seek(position); }
  void commit(const SourcePosition& position) override { core_->commit(position); }
  [[nodiscard]] SourcePosition starts() const override { return core_->starts(); }
  [[nodiscard]] std::vector<PartitionLag> consumer_lag() const override { return core_->consumer_lag(); }
};

}  // namespace

std::unique_ptr<Source> make_kafka_source(KafkaSourceConfig config, core::BoundedMailbox<core::FrameBatch>& mailbox,
                                          core::BatchPool& pool) {
  return std::make_unique<KafkaSource>(std::move(config), mailbox, pool);
}

}  // namespace roo::io
