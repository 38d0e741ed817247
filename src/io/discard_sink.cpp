#include "roo/io/discard_sink.hpp"

#include <limits>
#include <utility>

namespace roo::io {
namespace {

class DiscardSink final : public Sink {
 public:
  void start() override {}
  [[nodiscard]] bool takes_records() const override { return false; }
  void write(RecordBatch&& /*batch*/) override {}
  [[nodiscard]] core::ByteBudget& budget() override { return budget_; }
  void flush(std::function<void(std::string error)> done) override { done({}); }
  void stop(std::function<void()> on_stopped) override {
    if (on_stopped) {
      on_stopped();
    }
  }
  [[nodiscard]] std::size_t undelivered_bytes() const override { return 0; }
  [[nodiscard]] std::string undelivered_reason() const override { return {}; }

 private:
  core::ByteBudget budget_{std::numeric_limits<std::size_t>::max()};  ///< never holds anything
};

}  // namespace

std::unique_ptr<Sink> make_discard_sink() { return std::make_unique<DiscardSink>(); }

}  // namespace roo::io
