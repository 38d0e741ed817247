// The control plane's frames, each to the protocol that handles it: what the initializer hears from its workers
// once they are members, and what a worker hears from the initializer once it authenticated.
#include "cluster_core.hpp"
#include "cluster_log.hpp"

namespace roo::cluster {

FrameAction ClusterCore::on_worker_control_frame(std::size_t index, FramedConnection& connection, const char* body,
                                                 std::size_t size) {
  auto type = static_cast<MessageType>(body[0]);
  core::BigEndianReader reader(body + 1, size - 1);
  switch (type) {
    case MessageType::channels_up: {
      if (!life_.formed && reader.ok_and_done()) {
        formation_.on_channels_up(index);
        return FrameAction::proceed;
      }
      if (life_.formed && reader.remaining() == 0) {
        rescale_.on_channels_up(index, index);  // a joiner: all of its channels
        return FrameAction::proceed;
      }
      std::uint32_t joiner = reader.u32();
      if (life_.formed && reader.ok_and_done()) {
        rescale_.on_channels_up(index, joiner);
        return FrameAction::proceed;
      }
      break;
    }
    case MessageType::rescale_poll_reply:
      if (auto reply = decode_poll_reply(reader); reply && reply->sent.size() <= members_.size()) {
        rescale_.on_poll_reply(index, *reply);
        return FrameAction::proceed;
      }
      break;
    case MessageType::rescale_moved: {
      std::uint64_t round = reader.u64();
      if (reader.ok_and_done()) {
        rescale_.on_moved(index, round);
        return FrameAction::proceed;
      }
      break;
    }
    case MessageType::shrink_request: {
      std::uint64_t id = reader.u64();
      std::string json = reader.str();
      if (life_.formed && reader.ok_and_done()) {
        rescale_.on_shrink_request(index, id, json);
        return FrameAction::proceed;
      }
      break;
    }
    case MessageType::stop_request:
      if (reader.ok_and_done()) {
        if (members_.departed(index)) {
          // A leaver signalled (a pod's SIGTERM) while it hands over: it goes at the end of its round anyway.
          cluster_logger()->info("cluster: worker '{}' asked to stop while it leaves; it goes when its rescale ends",
                                 members_.name_of(index));
          return FrameAction::proceed;
        }
        drain_.on_stop_request();
        return FrameAction::proceed;
      }
      break;
    case MessageType::poll_reply:
      if (auto reply = decode_poll_reply(reader); reply && reply->sent.size() <= members_.size()) {
        drain_.on_poll_reply(index, *reply);
        return FrameAction::proceed;
      }
      break;
    case MessageType::local_answer: {
      std::uint64_t id = reader.u64();
      std::string json = reader.str();
      if (reader.ok_and_done()) {
        queries_.on_local_answer(index, id, std::move(json));
        return FrameAction::proceed;
      }
      break;
    }
    case MessageType::gather_request: {
      std::uint64_t id = reader.u64();
      std::uint16_t query = reader.u16();
      if (reader.ok_and_done()) {
        queries_.on_gather_request(index, id, query);
        return FrameAction::proceed;
      }
      break;
    }
    case MessageType::checkpoint_part:
      if (life_.formed && checkpoints_.on_checkpoint_part(index, reader)) {
        return FrameAction::proceed;
      }
      break;
    case MessageType::stream_marks:
    case MessageType::stream_claim:
    case MessageType::stream_release:
      if (life_.formed && streams_.on_worker_frame(index, body[0], reader)) {
        return FrameAction::proceed;
      }
      break;
    default:
      connection.fail(unexpected_message(body[0]));
      return FrameAction::stop;
  }
  connection.fail("malformed " + describe_type(body[0]) + " message");
  return FrameAction::stop;
}

FrameAction ClusterCore::on_initializer_frame(FramedConnection& connection, const char* body, std::size_t size) {
  auto type = static_cast<MessageType>(body[0]);
  core::BigEndianReader reader(body + 1, size - 1);
  bool known = members_.ready();
  switch (type) {
    case MessageType::reject: {
      std::string reason = reader.str();
      if (!known && reader.ok_and_done()) {
        formation_.on_reject(reason);
        return FrameAction::stop;
      }
      break;
    }
    case MessageType::join_at: {
      core::Endpoint initializer = read_endpoint(reader);
      if (!known && reader.ok_and_done()) {
        formation_.on_join_at(initializer);
        return FrameAction::stop;
      }
      break;
    }
    case MessageType::membership:
      if (auto membership = decode_membership(reader); !known && membership) {
        formation_.on_membership(std::move(*membership));
        return FrameAction::proceed;
      }
      break;
    case MessageType::go:
      if (known && !life_.formed && reader.ok_and_done()) {
        formation_.go();
        return FrameAction::proceed;
      }
      break;
    case MessageType::stop:
      if (known && reader.ok_and_done()) {
        drain_.on_stop();
        return FrameAction::proceed;
      }
      break;
    case MessageType::poll: {
      std::uint64_t round = reader.u64();
      if (known && reader.ok_and_done()) {
        connection.write(encode_poll_reply(drain_.local_poll_reply(round)));
        return FrameAction::proceed;
      }
      break;
    }
    case MessageType::exit:
      if (known && reader.ok_and_done()) {
        drain_.on_exit();
        return FrameAction::proceed;
      }
      break;
    case MessageType::membership_update:
      if (auto membership = decode_membership(reader); known && life_.formed && membership) {
        rescale_.on_membership_update(std::move(*membership));
        return FrameAction::proceed;
      }
      break;
    case MessageType::rescale_pause: {
      std::uint64_t round = reader.u64();
      if (known && life_.formed && reader.ok_and_done()) {
        rescale_.on_pause(round);
        return FrameAction::proceed;
      }
      break;
    }
    case MessageType::rescale_poll: {
      std::uint64_t round = reader.u64();
      if (known && reader.ok_and_done()) {
        auto reply = encode_poll_reply(rescale_.poll_reply(round));
        reply[0] = static_cast<char>(MessageType::rescale_poll_reply);
        connection.write(std::move(reply));
        return FrameAction::proceed;
      }
      break;
    }
    case MessageType::rescale_move: {
      std::uint64_t round = reader.u64();
      if (auto next = decode_membership(reader); known && life_.formed && next) {
        rescale_.on_move(round, std::move(*next));
        return FrameAction::proceed;
      }
      break;
    }
    case MessageType::rescale_resume: {
      std::uint64_t round = reader.u64();
      if (known && reader.ok_and_done()) {
        rescale_.on_resume(round);
        return FrameAction::proceed;
      }
      break;
    }
    case MessageType::shrink_reply: {
      std::uint64_t id = reader.u64();
      bool accepted = reader.u8() != 0;
      std::string answer = reader.str();
      if (known && reader.ok_and_done()) {
        rescale_.on_shrink_reply(id, accepted, std::move(answer));
        return FrameAction::proceed;
      }
      break;
    }
    case MessageType::worker_lost: {
      std::uint32_t index = reader.u32();
      if (known && reader.ok_and_done()) {
        mark_lost(index, "the initializer lost it");
        return FrameAction::proceed;
      }
      break;
    }
    case MessageType::checkpoint_begin:
    case MessageType::checkpoint_complete:
      if (known && life_.formed && checkpoints_.on_checkpoint_frame(type, reader)) {
        return FrameAction::proceed;
      }
      break;
    case MessageType::stream_claim_reply:
      if (known && streams_.on_claim_reply(reader)) {
        return FrameAction::proceed;
      }
      break;
    case MessageType::local_query: {
      std::uint64_t id = reader.u64();
      std::uint16_t query = reader.u16();
      if (known && reader.ok_and_done()) {
        connection.write(message(MessageType::local_answer).u64(id).str(queries_.local_answer(query)).take());
        return FrameAction::proceed;
      }
      break;
    }
    case MessageType::gather_reply: {
      std::uint64_t id = reader.u64();
      std::uint32_t count = reader.u32();
      GatheredAnswers answers;
      for (std::uint32_t i = 0; i < count && reader.ok_and_done() == false; ++i) {
        std::uint32_t index = reader.u32();
        answers[index] = reader.str();
      }
      if (known && reader.ok_and_done()) {
        queries_.on_gather_reply(id, std::move(answers));
        return FrameAction::proceed;
      }
      break;
    }
    default:
      connection.fail(unexpected_message(body[0]));
      return FrameAction::stop;
  }
  connection.fail("malformed or unexpected " + describe_type(body[0]) + " message");
  return FrameAction::stop;
}

}  // namespace roo::cluster
