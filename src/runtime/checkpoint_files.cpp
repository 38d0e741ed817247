#include "checkpoint_files.hpp"

namespace roo::runtime {

CheckpointFiles::CheckpointFiles(const CheckpointOptions& options, checkpoint::CheckpointIdentity identity,
                                 bool cluster_initializer, core::Doorbell& doorbell)
    : store(checkpoint::StoreConfig{
          .dir = options.dir, .identity = std::move(identity), .cluster_initializer = cluster_initializer}),
      writer(store, [&doorbell] { doorbell.ring(); }) {}

}  // namespace roo::runtime
