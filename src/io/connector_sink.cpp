#include "roo/io/connector_sink.hpp"

#include "connector_sink_core.hpp"

namespace roo::io {
namespace {

/// The handle the runtime owns. Dropping it closes the connection, discarding what is not delivered (or committed).
class ConnectorSinkHandle final : public ConnectorSink {
 public:
  explicit ConnectorSinkHandle(std::shared_ptr<ConnectorSinkCore> core) : core_(std::move(core)) {}
  ~ConnectorSinkHandle() override { core_->abandon(); }
  ConnectorSinkHandle(const ConnectorSinkHandle&) = delete;
  ConnectorSinkHandle& operator=(const ConnectorSinkHandle&) = delete;

  void start() override { core_->start(); }
  /// Records: each output is one MESSAGE, and its start is the message id.
  [[nodiscard]] bool takes_records() const override { return true; }
  void write(RecordBatch&& batch) override { core_->write(std::move(batch)); }
  void flush(std::function<void(std::string)> done) override { core_->flush(std::move(done)); }
  [[nodiscard]] core::ByteBudget& budget() override { return core_->budget(); }
  [[nodiscard]] bool transactional() const override { return core_->transactional(); }
  void prepare(std::uint64_t checkpoint, PreparedCheckpoint done) override {
    core_->prepare(checkpoint, [done = std::move(done)](std::string error, SharedBatches records) {
      done(std::move(error), CheckpointOutput{.records = std::move(records), .location = {}});
    });
  }
  void commit(std::uint64_t checkpoint, Done done) override { core_->commit(checkpoint, std::move(done)); }
  void abort() override { core_->abort(); }
  /// The connector sink keeps prepared output itself: `records` (the empty marker prepare handed back) is not used.
  void recover(std::uint64_t checkpoint, std::vector<RecordBatch> /*records*/, std::string /*location*/,
               Done done) override {
    core_->recover(checkpoint, std::move(done));
  }
  void hand_off(Prepared done) override { core_->hand_off(std::move(done)); }
  void stop(std::function<void()> on_stopped) override { core_->stop(std::move(on_stopped)); }
  [[nodiscard]] std::size_t undelivered_bytes() const override { return core_->undelivered_bytes(); }
  [[nodiscard]] std::string undelivered_reason() const override { return core_->undelivered_reason(); }

 private:
  std::shared_ptr<ConnectorSinkCore> core_;
};

}  // namespace

std::unique_ptr<ConnectorSink> make_connector_sink(boost::asio::io_context& io, ConnectorSinkConfig config) {
  return std::make_unique<ConnectorSinkHandle>(std::make_shared<ConnectorSinkCore>(io, std::move(config)));
}

}  // namespace roo::io
