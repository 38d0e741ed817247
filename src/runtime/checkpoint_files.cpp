#include "checkpoint_files.hpp"

namespace roo::runtime {

CheckpointFiles::CheckpointFiles(const CheckpointOptions& options, checkpoint::CheckpointIdentity identity,
                                 bool cluster_initializer, bool started_alone, core::Doorbell& doorbell)
    : store(checkpoint::StoreConfig{.dir = options.dir,
                                    .identity = std::move(identity),
                                    .cluster_initializer = cluster_initializer,
                                    .unmarked_alone = cluster_initializer && started_alone,
                                    .compact_separately = true}),
      writer(store, [&doorbell] { doorbell.ring(); }) {
  store.claim();
}

}  // namespace roo::runtime
