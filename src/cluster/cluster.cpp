#include "cluster_core.hpp"

namespace roo::cluster {
namespace {

/// The handle the runtime owns. Dropping it closes every connection.
class ClusterHandle final : public Cluster {
 public:
  explicit ClusterHandle(std::shared_ptr<ClusterCore> core) : core_(std::move(core)) {}
  // Without waiting: the closing runs when the io_context next runs (a worker rolling back polls it at once).
  ~ClusterHandle() override { core_->stop(false); }
  ClusterHandle(const ClusterHandle&) = delete;
  ClusterHandle& operator=(const ClusterHandle&) = delete;

  [[nodiscard]] Membership form() override { return core_->form(); }
  [[nodiscard]] std::future<Membership> begin_forming() override { return core_->begin_forming(); }
  bool send(std::size_t to, std::vector<char>&& bytes) override { return core_->send(to, std::move(bytes)); }
  [[nodiscard]] core::ByteBudget& budget(std::size_t to) override { return core_->budget(to); }
  void acknowledge(std::size_t from, std::size_t bytes) override { core_->acknowledge(from, bytes); }
  bool send_key_groups(std::size_t to, std::vector<char>&& bytes) override {
    return core_->send_key_groups(to, std::move(bytes));
  }
  void rescale_moved(std::uint64_t round) override { core_->rescale_moved(round); }
  void request_stop() override { core_->request_stop(); }
  bool begin_checkpoint(std::uint64_t id) override { return core_->begin_checkpoint(id); }
  void send_marker(std::size_t to, std::uint64_t id) override { core_->send_marker(to, id); }
  void send_watermark(std::size_t to, std::vector<char> bytes) override { core_->send_watermark(to, std::move(bytes)); }
  void report_checkpoint_part(std::uint64_t id, bool ok, std::string text) override {
    core_->report_checkpoint_part(id, ok, std::move(text));
  }
  void end_checkpoint(std::uint64_t id, bool complete) override { core_->end_checkpoint(id, complete); }
  void gather(std::uint16_t type, std::function<void(GatheredByName)> done) override {
    core_->gather(type, std::move(done));
  }
  [[nodiscard]] std::vector<bool> workers_up() const override { return core_->workers_up(); }
  [[nodiscard]] std::shared_ptr<core::StreamRegistry> stream_registry() override { return core_->stream_registry(); }
  [[nodiscard]] std::vector<PeerShortfall> shortfalls() const override { return core_->shortfalls(); }
  void stop() override { core_->stop(true); }

 private:
  std::shared_ptr<ClusterCore> core_;
};

}  // namespace

std::unique_ptr<Cluster> make_cluster(boost::asio::io_context& io, ClusterConfig config,
                                      core::BoundedMailbox<core::PeerInput>& inbound, ClusterHooks hooks) {
  return std::make_unique<ClusterHandle>(ClusterCore::make(io, std::move(config), inbound, std::move(hooks)));
}

}  // namespace roo::cluster
