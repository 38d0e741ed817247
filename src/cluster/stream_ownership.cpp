#include "stream_ownership.hpp"

#include "wire.hpp"

namespace roo::cluster {
namespace {

constexpr std::size_t mark_bytes = 3 * 8;

void write_mark(core::BigEndianWriter& writer, const core::StreamMark& mark) {
  writer.u64(mark.stream).u64(mark.committed).u64(mark.last_seen);
}

core::StreamMark read_mark(core::BigEndianReader& reader) {
  core::StreamMark mark;
  mark.stream = reader.u64();
  mark.committed = reader.u64();
  mark.last_seen = reader.u64();
  return mark;
}

}  // namespace

// Before formation, after a stop, or on a worker that lost the initializer nobody can be asked: claims are refused
// (the connector asks again) and the rest is dropped (a rollback forms a new table from the restored marks anyway).
bool StreamOwnership::usable() const {
  return members_.ready() && lifecycle_.formed && lifecycle_.phase != Phase::closed && members_.is_live(0);
}

void StreamOwnership::restored(std::uint32_t source, std::vector<core::StreamMark> marks) {
  if (!usable()) {
    return;
  }
  if (initializer()) {
    on_restored(0, source, marks);
    return;
  }
  auto writer = message(MessageType::stream_marks);
  writer.u32(source).u32(static_cast<std::uint32_t>(marks.size()));
  for (const auto& mark : marks) {
    write_mark(writer, mark);
  }
  members_.peer(0).control->write(writer.take());
}

void StreamOwnership::claim(std::uint32_t source, core::StreamMark mark, Answer answer) {
  if (!usable()) {
    answer(core::StreamClaim{.granted = false, .mark = mark, .holder = ""});
    return;
  }
  if (initializer()) {
    on_claim(source, Waiting{.worker = 0, .id = 0, .mark = mark, .answer = std::move(answer)});
    return;
  }
  std::uint64_t id = next_claim_++;
  asked_.emplace(id, std::move(answer));
  auto writer = message(MessageType::stream_claim);
  writer.u64(id).u32(source);
  write_mark(writer, mark);
  members_.peer(0).control->write(writer.take());
}

void StreamOwnership::release(std::uint32_t source, core::StreamMark mark) {
  if (!usable()) {
    return;
  }
  if (initializer()) {
    on_release(0, source, mark);
    return;
  }
  auto writer = message(MessageType::stream_release);
  writer.u32(source);
  write_mark(writer, mark);
  members_.peer(0).control->write(writer.take());
}

bool StreamOwnership::on_worker_frame(std::size_t index, std::uint8_t type, core::BigEndianReader& reader) {
  switch (static_cast<MessageType>(type)) {
    case MessageType::stream_marks: {
      std::uint32_t source = reader.u32();
      std::uint32_t count = reader.u32();
      if (!reader.ok() || reader.remaining() != std::size_t{count} * mark_bytes) {
        return false;  // checked before anything is allocated by the count
      }
      std::vector<core::StreamMark> marks;
      marks.reserve(count);
      for (std::uint32_t i = 0; i < count; ++i) {
        marks.push_back(read_mark(reader));
      }
      on_restored(index, source, marks);
      return true;
    }
    case MessageType::stream_claim: {
      std::uint64_t id = reader.u64();
      std::uint32_t source = reader.u32();
      core::StreamMark mark = read_mark(reader);
      if (!reader.ok_and_done()) {
        return false;
      }
      on_claim(source, Waiting{.worker = index, .id = id, .mark = mark, .answer = {}});
      return true;
    }
    case MessageType::stream_release: {
      std::uint32_t source = reader.u32();
      core::StreamMark mark = read_mark(reader);
      if (!reader.ok_and_done()) {
        return false;
      }
      on_release(index, source, mark);
      return true;
    }
    default:
      return false;
  }
}

bool StreamOwnership::on_claim_reply(core::BigEndianReader& reader) {
  std::uint64_t id = reader.u64();
  bool granted = reader.u8() != 0;
  core::StreamMark mark = read_mark(reader);
  std::string holder(reader.str());
  if (!reader.ok_and_done()) {
    return false;
  }
  if (auto found = asked_.find(id); found != asked_.end()) {
    Answer answer = std::move(found->second);
    asked_.erase(found);
    answer(core::StreamClaim{.granted = granted, .mark = mark, .holder = std::move(holder)});
  }
  return true;
}

void StreamOwnership::on_restored(std::size_t worker, std::uint32_t source, const std::vector<core::StreamMark>& marks) {
  for (const auto& mark : marks) {
    core::raise_mark(streams_[{source, mark.stream}].mark, mark);
  }
  restored_[source].insert(worker);
  answer_waiting(source);
}

void StreamOwnership::on_claim(std::uint32_t source, Waiting waiting) {
  if (!every_worker_restored(source)) {
    waiting_[source].push_back(std::move(waiting));
    return;
  }
  decide(source, std::move(waiting));
}

void StreamOwnership::on_release(std::size_t worker, std::uint32_t source, const core::StreamMark& mark) {
  Stream& stream = streams_[{source, mark.stream}];
  core::raise_mark(stream.mark, mark);
  if (stream.owner == worker) {
    stream.owner = none;
  }
}

bool StreamOwnership::every_worker_restored(std::uint32_t source) const {
  auto found = restored_.find(source);
  for (std::size_t i = 0; i < members_.size(); ++i) {
    if (members_.is_live(i) && (found == restored_.end() || !found->second.contains(i))) {
      return false;
    }
  }
  return true;
}

void StreamOwnership::decide(std::uint32_t source, Waiting waiting) {
  Stream& stream = streams_[{source, waiting.mark.stream}];
  core::raise_mark(stream.mark, waiting.mark);
  core::StreamClaim claim{.granted = false, .mark = stream.mark, .holder = ""};
  if (stream.owner == none || stream.owner == waiting.worker) {
    stream.owner = waiting.worker;
    claim.granted = true;
  } else {
    claim.holder = members_.name_of(stream.owner);
  }
  reply(waiting.worker, waiting.id, claim, waiting.answer);
}

void StreamOwnership::answer_waiting(std::uint32_t source) {
  auto found = waiting_.find(source);
  if (found == waiting_.end() || !every_worker_restored(source)) {
    return;
  }
  std::vector<Waiting> ready = std::move(found->second);
  waiting_.erase(found);
  for (auto& waiting : ready) {
    if (members_.is_live(waiting.worker)) {
      decide(source, std::move(waiting));
    }
  }
}

void StreamOwnership::reply(std::size_t worker, std::uint64_t id, const core::StreamClaim& claim,
                            const Answer& answer) {
  if (worker == 0) {
    answer(claim);
    return;
  }
  auto writer = message(MessageType::stream_claim_reply);
  writer.u64(id).u8(claim.granted ? 1 : 0);
  write_mark(writer, claim.mark);
  writer.str(claim.holder);
  members_.peer(worker).control->write(writer.take());
}

void StreamOwnership::on_peer_lost(std::size_t index) {
  if (initializer()) {
    for (auto& [key, stream] : streams_) {
      if (stream.owner == index) {
        stream.owner = none;
      }
    }
    for (auto& [source, waiting] : waiting_) {
      std::erase_if(waiting, [index](const Waiting& w) { return w.worker == index; });
    }
    std::vector<std::uint32_t> sources;
    for (const auto& [source, waiting] : waiting_) {
      sources.push_back(source);
    }
    for (std::uint32_t source : sources) {
      answer_waiting(source);  // the lost worker no longer holds the others back
    }
    return;
  }
  if (index == 0) {
    close();
  }
}

void StreamOwnership::close() {
  auto asked = std::move(asked_);
  asked_.clear();
  for (auto& [id, answer] : asked) {
    answer(core::StreamClaim{});
  }
  for (auto& [source, waiting] : waiting_) {
    for (auto& claim : waiting) {
      if (claim.answer) {
        claim.answer(core::StreamClaim{});
      }
    }
  }
  waiting_.clear();
}

}  // namespace roo::cluster
