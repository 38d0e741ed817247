#include "roo/io/http_exchange.hpp"

#include "http_exchange_core.hpp"

#include <boost/asio/post.hpp>

#include <utility>

namespace roo::io {
namespace {

namespace asio = boost::asio;

/// What a reply sink may hold before the executor waits: replies not yet parsed on the exchange's strand.
constexpr std::size_t reply_budget_bytes = 16 * 1024 * 1024;

/// The source face: binds and serves; its stop hands the requests read over. Dropping it stops the source.
class HttpSource final : public Source {
 public:
  explicit HttpSource(std::shared_ptr<HttpExchangeCore> core) : core_(std::move(core)) {}
  ~HttpSource() override { stop(nullptr); }
  HttpSource(const HttpSource&) = delete;
  HttpSource& operator=(const HttpSource&) = delete;

  void start() override { core_->start(); }
  void stop(std::function<void()> on_stopped) override {
    asio::post(core_->strand(), [core = core_, on_stopped = std::move(on_stopped)]() mutable {
      core->stop_source(std::move(on_stopped));
    });
  }
  [[nodiscard]] core::Endpoint local_endpoint() const override { return core_->local_endpoint(); }

 private:
  std::shared_ptr<HttpExchangeCore> core_;
};

/// The reply face: a byte stream sink whose bytes are reply records (http_reply_stream.hpp). A batch counts in the
/// budget until the exchange's strand has answered its requests (written or not: a slow client holds its answer, not
/// the executor).
class HttpReplySink final : public Sink {
 public:
  HttpReplySink(std::shared_ptr<HttpExchangeCore> core, std::string name)
      : core_(std::move(core)), name_(std::make_shared<const std::string>(std::move(name))) {}

  void start() override {}
  [[nodiscard]] bool takes_records() const override { return false; }

  void write(RecordBatch&& batch) override {
    std::size_t bytes = batch.size_bytes();
    budget_->add(bytes);
    asio::post(core_->strand(),
               [core = core_, name = name_, budget = budget_, values = std::move(batch.values), bytes] {
                 core->deliver_replies(*name, std::string_view(values.data(), values.size()));
                 budget->release(bytes);
               });
  }

  [[nodiscard]] core::ByteBudget& budget() override { return *budget_; }

  void flush(std::function<void(std::string error)> done) override {
    asio::post(core_->strand(), [done = std::move(done)] { done({}); });  // after every write before it
  }

  void stop(std::function<void()> on_stopped) override {
    asio::post(core_->strand(), [core = core_, on_stopped = std::move(on_stopped)]() mutable {
      core->finish_replies(std::move(on_stopped));
    });
  }

  // A reply whose request is gone is not a loss of the stream: nothing counts as undelivered.
  [[nodiscard]] std::size_t undelivered_bytes() const override { return 0; }
  [[nodiscard]] std::string undelivered_reason() const override { return {}; }

 private:
  std::shared_ptr<HttpExchangeCore> core_;
  std::shared_ptr<const std::string> name_;
  std::shared_ptr<core::ByteBudget> budget_ = std::make_shared<core::ByteBudget>(reply_budget_bytes);
};

}  // namespace

HttpExchange::HttpExchange(boost::asio::io_context& io, HttpExchangeConfig config,
                           core::BoundedMailbox<core::FrameBatch>& mailbox, core::BatchPool& pool)
    : core_(std::make_shared<HttpExchangeCore>(io, std::move(config), mailbox, pool)) {}

HttpExchange::~HttpExchange() = default;

std::unique_ptr<Source> HttpExchange::source() { return std::make_unique<HttpSource>(core_); }

std::unique_ptr<Sink> HttpExchange::reply_sink(std::string sink_name) {
  core_->attach_reply_sink();
  return std::make_unique<HttpReplySink>(core_, std::move(sink_name));
}

std::uint64_t HttpExchange::unknown_replies() const { return core_->unknown_replies(); }

}  // namespace roo::io
