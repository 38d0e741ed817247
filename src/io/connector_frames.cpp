#include "connector_frames.hpp"

#include "roo/core/big_endian.hpp"
#include "roo/core/error.hpp"

#include <fmt/format.h>

#include <limits>

namespace roo::io::connector {
namespace {

/// Reads a frame's body field by field; a field past the end throws "<WHAT>: frame body of N bytes is too short"
/// (Python's wording), and finish() refuses bytes left after the last field.
class BodyReader {
 public:
  BodyReader(std::string_view body, const char* what) : body_(body), what_(what) {}

  std::string_view take(std::size_t n) {
    if (body_.size() - at_ < n) {
      throw core::Error(fmt::format("{}: frame body of {} bytes is too short", what_, body_.size()));
    }
    std::string_view piece = body_.substr(at_, n);
    at_ += n;
    return piece;
  }
  std::uint8_t u8() { return static_cast<std::uint8_t>(take(1)[0]); }
  std::uint16_t u16() { return core::load_u16_be(take(2).data()); }
  std::uint32_t u32() { return core::load_u32_be(take(4).data()); }
  std::uint64_t u64() { return core::load_u64_be(take(8).data()); }
  std::int64_t i64() { return static_cast<std::int64_t>(u64()); }
  std::string_view short_bytes() { return take(u16()); }
  std::string short_string() { return std::string(short_bytes()); }
  std::string_view rest() {
    std::string_view piece = body_.substr(at_);
    at_ = body_.size();
    return piece;
  }
  /// A count of `entry_bytes`-sized entries, checked against the bytes present before anything is reserved.
  std::uint32_t count(std::size_t entry_bytes) {
    std::uint32_t n = u32();
    if ((body_.size() - at_) / entry_bytes < n) {
      throw core::Error(
          fmt::format("{}: {} entries announced, the frame body of {} bytes holds fewer", what_, n, body_.size()));
    }
    return n;
  }
  void finish() const {
    if (at_ != body_.size()) {
      throw core::Error(fmt::format("{}: {} bytes after the frame's last field", what_, body_.size() - at_));
    }
  }

 private:
  std::string_view body_;
  const char* what_;
  std::size_t at_ = 0;
};

/// Builds one whole frame: the length is filled in by take().
class FrameWriter {
 public:
  explicit FrameWriter(FrameType type) {
    out_.resize(4);
    u8(static_cast<std::uint8_t>(type));
  }
  /// A 2PC payload: no length, no frame type.
  explicit FrameWriter(TwoPhaseTag tag) { u8(static_cast<std::uint8_t>(tag)); }

  FrameWriter& u8(std::uint8_t value) {
    out_.push_back(static_cast<char>(value));
    return *this;
  }
  FrameWriter& u16(std::uint16_t value) { return fixed<2>(value); }
  FrameWriter& u32(std::uint32_t value) { return fixed<4>(value); }
  FrameWriter& u64(std::uint64_t value) { return fixed<8>(value); }
  FrameWriter& raw(std::string_view bytes) {
    out_.append(bytes);
    return *this;
  }
  FrameWriter& short_string(std::string_view bytes) {
    if (bytes.size() > std::numeric_limits<std::uint16_t>::max()) {
      throw core::Error(fmt::format("a short string holds at most 65535 bytes, got {}", bytes.size()));
    }
    return u16(static_cast<std::uint16_t>(bytes.size())).raw(bytes);
  }
  std::string take_frame() {
    core::store_u32_be(out_.data(), static_cast<std::uint32_t>(out_.size() - 4));
    return std::move(out_);
  }
  std::string take_payload() { return std::move(out_); }

 private:
  template <std::size_t N, class T>
  FrameWriter& fixed(T value) {
    std::size_t at = out_.size();
    out_.resize(at + N);
    if constexpr (N == 2) {
      core::store_u16_be(out_.data() + at, value);
    } else if constexpr (N == 4) {
      core::store_u32_be(out_.data() + at, value);
    } else {
      core::store_u64_be(out_.data() + at, value);
    }
    return *this;
  }

  std::string out_;
};

Frame decode_body(FrameType type, std::string_view body) {
  switch (type) {
    case FrameType::hello: {
      BodyReader r(body, "HELLO");
      Hello hello;
      hello.version = r.short_string();
      hello.cookie = r.short_string();
      hello.program_name = r.short_string();
      hello.instance_name = r.short_string();
      r.finish();
      return hello;
    }
    case FrameType::ok: {
      BodyReader r(body, "OK");
      Ok ok{r.u32()};
      r.finish();
      return ok;
    }
    case FrameType::error: {
      BodyReader r(body, "ERROR");
      ErrorFrame error{r.short_string()};
      r.finish();
      return error;
    }
    case FrameType::notify: {
      BodyReader r(body, "NOTIFY");
      Notify notify;
      notify.stream_id = r.u64();
      notify.stream_name = r.short_string();
      notify.point_of_ref = r.u64();
      r.finish();
      return notify;
    }
    case FrameType::notify_ack: {
      BodyReader r(body, "NOTIFY_ACK");
      NotifyAck ack;
      ack.success = r.u8() != 0;
      ack.stream_id = r.u64();
      ack.point_of_ref = r.u64();
      r.finish();
      return ack;
    }
    case FrameType::message: {
      BodyReader r(body, "MESSAGE");
      Message message;
      message.stream_id = r.u64();
      message.message_id = r.u64();
      message.event_time = r.i64();
      message.key = r.short_bytes();
      message.payload = r.rest();
      return message;
    }
    case FrameType::ack: {
      BodyReader r(body, "ACK");
      Ack ack;
      ack.credits = r.u32();
      std::uint32_t n = r.count(16);
      ack.acks.reserve(n);
      for (std::uint32_t i = 0; i < n; ++i) {
        StreamAck entry;
        entry.stream_id = r.u64();
        entry.point_of_ref = r.u64();
        ack.acks.push_back(entry);
      }
      r.finish();
      return ack;
    }
    case FrameType::restart: {
      BodyReader r(body, "RESTART");
      std::uint32_t n = r.u32();
      Restart restart{std::string(r.take(n))};
      r.finish();
      return restart;
    }
    case FrameType::eos_message: {
      BodyReader r(body, "EOS_MESSAGE");
      EndOfStream eos{r.u64()};
      r.finish();
      return eos;
    }
  }
  throw core::Error(fmt::format("unknown connector message type {}", static_cast<unsigned>(type)));
}

}  // namespace

Frame decode_frame(std::string_view frame) {
  if (frame.empty()) {
    throw core::Error("an empty frame has no message type");
  }
  auto type = static_cast<std::uint8_t>(frame[0]);
  if (type > static_cast<std::uint8_t>(FrameType::eos_message)) {
    throw core::Error(fmt::format("unknown connector message type {}", type));
  }
  return decode_body(static_cast<FrameType>(type), frame.substr(1));
}

const char* frame_name(const Frame& frame) {
  static constexpr const char* names[] = {"HELLO",   "OK",  "ERROR",   "NOTIFY",     "NOTIFY_ACK",
                                          "MESSAGE", "ACK", "RESTART", "EOS_MESSAGE"};
  return names[frame.index()];
}

std::string encode_hello(const Hello& hello) {
  return FrameWriter(FrameType::hello)
      .short_string(hello.version)
      .short_string(hello.cookie)
      .short_string(hello.program_name)
      .short_string(hello.instance_name)
      .take_frame();
}

std::string encode_ok(const Ok& ok) { return FrameWriter(FrameType::ok).u32(ok.initial_credits).take_frame(); }

std::string encode_error(const ErrorFrame& error) {
  return FrameWriter(FrameType::error).short_string(error.message).take_frame();
}

std::string encode_notify(const Notify& notify) {
  return FrameWriter(FrameType::notify)
      .u64(notify.stream_id)
      .short_string(notify.stream_name)
      .u64(notify.point_of_ref)
      .take_frame();
}

std::string encode_notify_ack(const NotifyAck& ack) {
  return FrameWriter(FrameType::notify_ack)
      .u8(ack.success ? 1 : 0)
      .u64(ack.stream_id)
      .u64(ack.point_of_ref)
      .take_frame();
}

std::string encode_message(const Message& message) {
  return FrameWriter(FrameType::message)
      .u64(message.stream_id)
      .u64(message.message_id)
      .u64(static_cast<std::uint64_t>(message.event_time))
      .short_string(message.key)
      .raw(message.payload)
      .take_frame();
}

std::string encode_ack(const Ack& ack) {
  FrameWriter writer(FrameType::ack);
  writer.u32(ack.credits).u32(static_cast<std::uint32_t>(ack.acks.size()));
  for (const StreamAck& entry : ack.acks) {
    writer.u64(entry.stream_id).u64(entry.point_of_ref);
  }
  return writer.take_frame();
}

std::string encode_restart(const Restart& restart) {
  return FrameWriter(FrameType::restart)
      .u32(static_cast<std::uint32_t>(restart.address.size()))
      .raw(restart.address)
      .take_frame();
}

std::string encode_eos_message(const EndOfStream& eos) {
  return FrameWriter(FrameType::eos_message).u64(eos.stream_id).take_frame();
}

std::string encode_two_phase(const TwoPhaseMessage& message) {
  struct Encode {
    std::string operator()(const ListUncommitted& m) const {
      return FrameWriter(TwoPhaseTag::list_uncommitted).u64(m.rtag).take_payload();
    }
    std::string operator()(const ReplyUncommitted& m) const {
      FrameWriter writer(TwoPhaseTag::reply_uncommitted);
      writer.u64(m.rtag).u32(static_cast<std::uint32_t>(m.txn_ids.size()));
      for (const std::string& id : m.txn_ids) {
        writer.short_string(id);
      }
      return writer.take_payload();
    }
    std::string operator()(const Phase1& m) const {
      FrameWriter writer(TwoPhaseTag::phase1);
      writer.short_string(m.txn_id).u32(static_cast<std::uint32_t>(m.where.size()));
      for (const WhereRange& range : m.where) {
        writer.u64(range.stream_id).u64(range.start_offset).u64(range.end_offset);
      }
      return writer.take_payload();
    }
    std::string operator()(const Phase1Reply& m) const {
      return FrameWriter(TwoPhaseTag::phase1_reply).short_string(m.txn_id).u8(m.commit ? 1 : 0).take_payload();
    }
    std::string operator()(const Phase2& m) const {
      return FrameWriter(TwoPhaseTag::phase2).short_string(m.txn_id).u8(m.commit ? 1 : 0).take_payload();
    }
  };
  return std::visit(Encode{}, message);
}

TwoPhaseMessage decode_two_phase(std::string_view payload) {
  if (payload.empty()) {
    throw core::Error("an empty 2PC message has no tag");
  }
  auto tag = static_cast<std::uint8_t>(payload[0]);
  std::string_view body = payload.substr(1);
  switch (static_cast<TwoPhaseTag>(tag)) {
    case TwoPhaseTag::list_uncommitted: {
      BodyReader r(body, "LIST_UNCOMMITTED");
      ListUncommitted m{r.u64()};
      r.finish();
      return m;
    }
    case TwoPhaseTag::reply_uncommitted: {
      BodyReader r(body, "REPLY_UNCOMMITTED");
      ReplyUncommitted m;
      m.rtag = r.u64();
      std::uint32_t n = r.count(2);
      for (std::uint32_t i = 0; i < n; ++i) {
        m.txn_ids.push_back(r.short_string());
      }
      r.finish();
      return m;
    }
    case TwoPhaseTag::phase1: {
      BodyReader r(body, "PHASE1");
      Phase1 m;
      m.txn_id = r.short_string();
      std::uint32_t n = r.count(24);
      m.where.reserve(n);
      for (std::uint32_t i = 0; i < n; ++i) {
        WhereRange range;
        range.stream_id = r.u64();
        range.start_offset = r.u64();
        range.end_offset = r.u64();
        m.where.push_back(range);
      }
      r.finish();
      return m;
    }
    case TwoPhaseTag::phase1_reply: {
      BodyReader r(body, "PHASE1_REPLY");
      Phase1Reply m;
      m.txn_id = r.short_string();
      m.commit = r.u8() != 0;
      r.finish();
      return m;
    }
    case TwoPhaseTag::phase2: {
      BodyReader r(body, "PHASE2");
      Phase2 m;
      m.txn_id = r.short_string();
      m.commit = r.u8() != 0;
      r.finish();
      return m;
    }
  }
  throw core::Error(fmt::format("unknown 2PC message tag {}", tag));
}

}  // namespace roo::io::connector
