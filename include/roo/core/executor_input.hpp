#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <variant>
#include <vector>

namespace roo::core {

/// What a worker's executor takes, one message at a time, from each of its input channels (issue 9's "typed executor
/// inputs"). Here in core because both producers use it: the cluster (a peer's data channel) and io (a source).
///
/// The executor has two bounded mailboxes (core::BoundedMailbox, whose try_push answers accepted / full / closed):
/// - **Peers** (`BoundedMailbox<PeerInput>`, filled by cluster::DataChannels on the data io_context): each frame a
///   peer's data channel delivers is one PeerInput, in the order the peer sent them. Taken first, never held back
///   (two workers owing each other credit still drain each other). The messages:
///   - `PeerData`: a batch of events (Cluster::send: hop_codec's layout). The executor runs it, hands over what it
///     produced, then acknowledges its bytes to the sender (the credit and the drain count rely on that order); with a
///     checkpoint's part awaiting that peer's marker, the batch is recorded first (the channel's state).
///   - `CheckpointMarker`: checkpoint `id`'s barrier (Cluster::send_marker), after every batch the peer sent before
///     its cut. To the CheckpointCoordinator; nothing to acknowledge. The cut is unaligned Chandy–Lamport: the channel
///     is never blocked (docs/notes.md, session 4), so a marker only ends the recording of that channel.
///   - `Watermarks`: how far the peer's sources' watermarks went (Cluster::send_watermark, the runtime's encoding),
///     after the events they cover. To the runner's watermark table; not counted against the credit.
/// - **Sources** (`BoundedMailbox<FrameBatch>`, filled by io's TcpSource connections and KafkaSource): a source's
///   message is its data batch, a FrameBatch, tagged by `FrameBatch::source` and `FrameBatch::channel` (a TCP
///   connection). A message source's news (`SourceNews`: partitions started, assigned, quiet) rides in that batch
///   (FrameBatch::news) rather than travelling as messages of its own: it must keep its place around the batch's
///   frames (`assigned` before them, `quiet` after), and as separate messages each would cost a mailbox push (a
///   lock and a doorbell ring) and vectors of its own, and make the source keep a queue of refused messages under
///   backpressure, where today it keeps one batch. A batch may carry only news (no frames). The executor applies the
///   news before and after the frames itself (Worker::take_source_batch), not inside the runner's per-frame path.
///
/// Two controls reach the executor out of band, not as messages, and stay so: **stop** (a signal, the cluster's
/// stop, a failed sink: Worker's stop flag and the doorbell), because it must overtake what is queued (the sources stop
/// reading first, then the executor drains the mailboxes); and a source's **end of stream**, which exists only as the
/// end of a stop (io::Source::stop's callback, once the source has queued its last batch). A TCP connection's end is
/// not told to the executor (its watermark input goes idle), nor a generator's end (it runs on the executor).
struct InputChannel {
  enum class Kind : std::uint8_t {
    source,  ///< a source of the plan (`index`: its source index)
    peer,    ///< another worker's data channel (`index`: its index in the membership)
  };
  Kind kind = Kind::source;
  std::uint32_t index = 0;

  [[nodiscard]] static InputChannel peer(std::size_t worker) {
    return {Kind::peer, static_cast<std::uint32_t>(worker)};
  }
  [[nodiscard]] bool operator==(const InputChannel&) const = default;
};

/// A message source's news about its inputs (Kafka: (topic index as in FrameBatch::Meta::topic, partition) pairs),
/// sent by io::KafkaSource in the FrameBatch it concerns. Watermarks are kept per input (docs/windows.md): the executor
/// gives the news to the source's watermark clock, and without windows ignores it.
struct SourceNews {
  using Input = std::pair<std::uint32_t, std::int32_t>;
  /// Before the batch's frames: the partitions the source began reading since its previous batch, before any of their
  /// messages, so that a partition with a backlog holds the watermark back from the start rather than from its first
  /// message.
  std::vector<Input> assigned;
  /// Before the batch's frames: where partitions of `assigned` start (the offset of the first message to read), for
  /// those whose offset the source resolved (a committed offset, `latest`'s end, a seek). The executor's source
  /// positions (runtime::SourcePositions) hold it until a message of the partition is processed, so that a checkpoint
  /// or a rescale's hand-on knows where a partition not read from yet stands.
  std::vector<std::pair<Input, std::int64_t>> starts;
  /// Before the batch's frames: this is the first batch after the source (re)started, handed over at once even with
  /// nothing in it; `assigned` then lists every partition the source reads (maybe none). Until it arrives, the
  /// executor cannot know the source's inputs and holds its windows back.
  bool started = false;
  /// After the batch's frames: the partitions that sat at the end of what the broker holds, with nothing new, for
  /// the source's idleness, as the source's poll thread counts it (io::KafkaSourceConfig::quiet_after;
  /// src/io/README.md, "Which input a batch came from"), each told once until a message of it comes. Applied once
  /// every frame of the batch was processed: the windows take such a partition as idle at once.
  std::vector<Input> quiet;

  [[nodiscard]] bool empty() const { return !started && assigned.empty() && quiet.empty(); }
  void clear() {
    assigned.clear();
    starts.clear();
    started = false;
    quiet.clear();
  }
};

/// A peer's batch of events: the bytes of one Cluster::send, acknowledged once processed.
struct PeerData {
  std::vector<char> bytes;
};

/// A peer's checkpoint barrier: checkpoint `id` (never 0), after every batch the peer sent before its cut.
struct CheckpointMarker {
  std::uint64_t id = 0;
};

/// A peer's watermarks, in the runtime's encoding (runtime::WatermarkTable); nothing to acknowledge.
struct Watermarks {
  std::vector<char> bytes;
};

/// Key groups a peer hands to this worker in a rescale (docs/cluster.md, "Growing and shrinking"): their state, in
/// the checkpoint record encoding (runtime's KeyGroupHandover), after every batch the peer sent before it. Processed
/// like data: restored, then acknowledged (Cluster::acknowledge) with the bytes' size.
struct KeyGroupState {
  std::vector<char> bytes;
};

/// One message from a peer's data channel. A move costs what moving its vector does: no allocation per message beyond
/// the received frame's own bytes.
struct PeerInput {
  using Message = std::variant<PeerData, CheckpointMarker, Watermarks, KeyGroupState>;
  InputChannel channel;  ///< always Kind::peer
  Message message;

  /// The sender's index in the membership.
  [[nodiscard]] std::size_t from() const { return channel.index; }
};

}  // namespace roo::core
