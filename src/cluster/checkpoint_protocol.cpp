#include "checkpoint_protocol.hpp"

namespace roo::cluster {

void CheckpointProtocol::begin(std::uint64_t id) {
  if (lifecycle_.formed && config_.initializer) {
    to_workers(message(MessageType::checkpoint_begin).u64(id).take());
  }
}

void CheckpointProtocol::announce_complete(std::uint64_t id) {
  if (lifecycle_.formed && config_.initializer) {
    to_workers(message(MessageType::checkpoint_complete).u64(id).take());
  }
}

void CheckpointProtocol::report_part(std::uint64_t id, bool ok, const std::string& text) {
  if (lifecycle_.formed && !config_.initializer && members_.is_live(0) && members_.peer(0).control) {
    members_.peer(0).control->write(message(MessageType::checkpoint_part).u64(id).u8(ok ? 1 : 0).str(text).take());
  }
}

void CheckpointProtocol::to_workers(std::vector<char> frame) {
  for (std::size_t i = 1; i < members_.size(); ++i) {
    if (members_.hears_cluster(i)) {
      members_.peer(i).control->write(std::vector<char>(frame));
    }
  }
}

bool CheckpointProtocol::on_checkpoint_frame(MessageType type, core::BigEndianReader& reader) {
  std::uint64_t id = reader.u64();
  if (!reader.ok_and_done() || id == 0) {
    return false;
  }
  if (type == MessageType::checkpoint_begin && hooks_.on_checkpoint_begin) {
    hooks_.on_checkpoint_begin(id);
  } else if (type == MessageType::checkpoint_complete && hooks_.on_checkpoint_complete) {
    hooks_.on_checkpoint_complete(id);
  }
  return true;
}

bool CheckpointProtocol::on_checkpoint_part(std::size_t index, core::BigEndianReader& reader) {
  std::uint64_t id = reader.u64();
  bool ok = reader.u8() != 0;
  std::string text = reader.str();
  if (!reader.ok_and_done() || id == 0) {
    return false;
  }
  if (hooks_.on_checkpoint_part) {
    hooks_.on_checkpoint_part(index, id, ok, std::move(text));
  }
  return true;
}

}  // namespace roo::cluster
