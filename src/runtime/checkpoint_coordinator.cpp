#include "checkpoint_coordinator.hpp"

#include "byte_count.hpp"
#include "cluster_layout.hpp"

#include "roo/core/big_endian.hpp"
#include "roo/core/error.hpp"
#include "roo/core/logging.hpp"
#include "roo/python/collector_pause.hpp"
#include "roo/python/exception_text.hpp"
#include "roo/python/interpreter.hpp"
#include "roo/state/key_group.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <thread>

namespace roo::runtime {
namespace {

// A checkpoint that has not completed this long after it began is given up (a worker hung or is gone).
constexpr std::chrono::seconds min_round_timeout{10};
// A checkpoint due while the cluster's membership changes (a rescale) is tried again this much later.
constexpr std::chrono::milliseconds membership_change_retry{20};
// What a part may record of the batches in flight to this worker at the cut (the peers' credit bounds it far lower
// in practice: 16 MiB per peer).
constexpr std::size_t max_recorded_bytes = 256u * 1024 * 1024;

std::shared_ptr<spdlog::logger> checkpoint_log() {
  static auto log = core::module_logger("runtime");
  return log;
}

double milliseconds(std::chrono::steady_clock::duration duration) {
  return std::chrono::duration<double, std::milli>(duration).count();
}

python::PyRef attribute(const char* module, const char* name) {
  python::PyRef imported = python::PyRef::steal(PyImport_ImportModule(module));
  if (!imported) {
    throw core::Error(fmt::format("take checkpoints: importing {} failed: {}", module, python::take_exception_text()));
  }
  return python::PyRef::steal(PyObject_GetAttrString(imported.get(), name));
}

std::string_view bytes_of(PyObject* object) {
  return {PyBytes_AS_STRING(object), static_cast<std::size_t>(PyBytes_GET_SIZE(object))};
}

/// A durable part, as a worker reports it to the initializer: "<keys> <bytes> <microseconds> <compacted>".
struct PartSummary {
  std::size_t keys = 0;
  std::size_t bytes = 0;
  long long micros = 0;
  int compacted = 0;
};

std::string summary_text(const checkpoint::CommitResult& result) {
  return fmt::format("{} {} {} {}", result.state_entries, result.bytes_written,
                     std::chrono::duration_cast<std::chrono::microseconds>(result.took).count(),
                     result.compacted ? 1 : 0);
}

PartSummary parse_summary(const std::string& text) {
  PartSummary summary;
  std::istringstream in(text);
  in >> summary.keys >> summary.bytes >> summary.micros >> summary.compacted;
  return summary;
}

}  // namespace

std::size_t CheckpointPeers::parts() const {
  std::size_t count = 0;
  for (std::size_t worker = 0; worker < names.size(); ++worker) {
    count += takes_part(worker) ? 1 : 0;
  }
  return count;
}

void CheckpointPeers::adopt(const cluster::Membership& membership) {
  self = membership.self;
  names.clear();
  departed.clear();
  for (std::size_t worker = 0; worker < membership.workers.size(); ++worker) {
    names.push_back(membership.workers[worker].name);
    departed.push_back(membership.has_departed(worker));
  }
  layout = layout_json(membership);
}

CheckpointCoordinator::CheckpointCoordinator(const CheckpointOptions& options, PipelineRunner& runner,
                                             const StateCodecs& codecs, std::vector<GeneratorSource>& generators,
                                             CheckpointFiles& files, CheckpointPeers peers, std::function<void()> flush,
                                             CheckpointIo io)
    : options_(options),
      runner_(runner),
      codecs_(codecs),
      generators_(generators),
      files_(files),
      peers_(std::move(peers)),
      flush_(std::move(flush)),
      io_(std::move(io)),
      dump_position_(attribute("pickle", "dumps")),
      load_position_(attribute("pickle", "loads")),
      next_due_(std::chrono::steady_clock::now() + options.interval) {
  for (auto& table : runner_.state_tables()) {
    table.track_changes();
  }
}

CheckpointCoordinator::~CheckpointCoordinator() {
  // A part still being written belongs to a cut this run gives up (a rollback, or the end): its outcome is dropped,
  // and the files stay consistent whichever way it ends.
  python::GilRelease release;
  (void)files_.writer.wait();
  files_.writer.wait_idle();
}

std::uint64_t CheckpointCoordinator::newest_complete(CheckpointFiles& files,
                                                     std::optional<cluster::Membership>& layout) {
  std::vector<std::string> skipped;
  std::optional<checkpoint::RecoveryPoint> point = files.store.latest_complete(skipped);
  for (const auto& line : skipped) {
    checkpoint_log()->warn("checkpoint skipped: {}", line);
  }
  layout = point ? layout_of(files.store.cluster_layout(point->checkpoint_id)) : std::nullopt;
  if (point && !layout) {
    checkpoint_log()->warn(
        "checkpoint {} records no cluster layout (an earlier Roo's, or a damaged mark): the cluster "
        "forms as --worker-count says, its key groups dealt round-robin",
        point->checkpoint_id);
  }
  return point ? point->checkpoint_id : 0;
}

void CheckpointCoordinator::membership_changed(const cluster::Membership& membership, bool moved) {
  peers_.adopt(membership);
  if (moved) {
    full_next_ = true;
    next_due_ = std::chrono::steady_clock::time_point{};  // the initializer: as soon as the round is over
  }
}

void CheckpointCoordinator::recover(std::uint64_t id) {
  auto& store = files_.store;
  std::optional<checkpoint::RecoveryPoint> point;
  if (peers_.alone()) {
    std::vector<std::string> skipped;
    point = store.latest_complete(skipped);
    for (const auto& line : skipped) {
      checkpoint_log()->warn("checkpoint skipped: {}", line);
    }
  } else if (id != 0) {
    std::string problem;
    point = store.point_of(id, problem);
    if (!point) {
      throw core::Error(fmt::format("recover from checkpoint {} in {}: this worker's part cannot be used: {}", id,
                                    std::filesystem::absolute(store.folder()).string(), problem));
    }
  }
  if (!point) {
    // Nothing to restore (a joiner, a cluster's first run): this run's chain starts with a full part, whatever this
    // process wrote before a rollback (a part of a checkpoint that never completed).
    store.start_over();
    return;
  }
  auto started = std::chrono::steady_clock::now();
  checkpoint_log()->info("recovery from checkpoint {} started ({})", point->checkpoint_id,
                         std::filesystem::absolute(store.folder()).string());
  auto& tables = runner_.state_tables();
  std::size_t keys = 0;
  std::vector<std::pair<std::uint32_t, std::string>> in_flight;
  python::CollectorPause collector_paused;
  try {
    store.read(
        *point,
        [&](std::uint32_t table, std::uint32_t, std::string_view key, std::string_view value) {
          if (table >= tables.size()) {
            throw core::Error(
                fmt::format("state table {} in the checkpoint does not exist in this application", table));
          }
          tables[table].restore(key, value, codecs_.of(table));
          ++keys;
        },
        [&](std::uint32_t source, std::string_view position) {
          if ((source & checkpoint::Snapshot::window_watermark_flag) != 0) {
            core::BigEndianReader mark(position);
            auto watermark = static_cast<EventTime>(mark.u64());
            if (mark.ok_and_done()) {
              runner_.restore_window_watermark(source & ~checkpoint::Snapshot::window_watermark_flag, watermark);
            }
            return;
          }
          if (io_.positions != nullptr &&
              std::find(io_.replayable.begin(), io_.replayable.end(), source) != io_.replayable.end()) {
            io_.positions->restore(source, SourcePositions::decode(position));
            return;
          }
          for (auto& generator : generators_) {
            if (generator.source_index() != source) {
              continue;
            }
            python::PyRef bytes = python::PyRef::steal(
                PyBytes_FromStringAndSize(position.data(), static_cast<Py_ssize_t>(position.size())));
            python::PyRef value =
                python::PyRef::steal(bytes ? PyObject_CallOneArg(load_position_.get(), bytes.get()) : nullptr);
            if (!value || !generator.seek(value.get())) {
              std::string cause = value ? "not a generator position" : python::take_exception_text();
              throw core::Error(fmt::format("the position of source {} could not be read back: {}", source, cause));
            }
          }
        },
        [&](std::uint32_t from, std::string_view bytes) {
          if ((from & checkpoint::Snapshot::sink_output_flag) == 0) {
            in_flight.emplace_back(from, std::string(bytes));
          } else if (io_.sinks != nullptr) {
            constexpr std::uint32_t flags =
                checkpoint::Snapshot::sink_output_flag | checkpoint::Snapshot::sink_location_flag;
            if ((from & checkpoint::Snapshot::sink_location_flag) != 0) {
              io_.sinks->remember_location(point->checkpoint_id, from & ~flags, bytes);
            } else {
              io_.sinks->remember(point->checkpoint_id, from & ~flags, bytes);
            }
          }
        });
  } catch (const core::Error& error) {
    throw core::Error(fmt::format("recover from checkpoint {} in {}: {}", point->checkpoint_id,
                                  std::filesystem::absolute(store.folder()).string(), error.what()));
  }
  // The batches that were on their way here at the cut: run again, as they would have been.
  for (const auto& [from, bytes] : in_flight) {
    runner_.process_remote(bytes, from);
  }
  next_id_ = point->checkpoint_id + 1;
  begun_id_ = point->checkpoint_id;
  files_.store.protect(point->checkpoint_id);
  auto took = std::chrono::steady_clock::now() - started;
  checkpoint_log()->info(
      "recovery from checkpoint {} complete: {} keys restored{} in {:.0f} ms", point->checkpoint_id, keys,
      in_flight.empty() ? "" : fmt::format(", {} batches in flight run again", in_flight.size()), milliseconds(took));
  checkpoint_log()->info("|~~ - Recovery COMPLETE - ~~|");
  if (meters_.recoveries != nullptr) {
    meters_.recoveries->add();
  }
}

void CheckpointCoordinator::on_turn(std::chrono::steady_clock::time_point now, CheckpointInbox& inbox) {
  take_messages(inbox);
  take_sinks_output();
  if (writing_ != 0) {
    if (auto outcome = files_.writer.take_outcome()) {
      take_outcome(*outcome);
    }
  }
  if (!peers_.initializer()) {
    return;
  }
  if (round_ && now - round_->started >
                    std::max<std::chrono::steady_clock::duration>(min_round_timeout, options_.interval * 10)) {
    std::string missing;
    for (std::size_t worker = 0; worker < peers_.names.size(); ++worker) {
      if (peers_.takes_part(worker) && !round_->parts.contains(worker)) {
        missing += (missing.empty() ? "'" : ", '") + peers_.names[worker] + "'";
      }
    }
    checkpoint_log()->error("checkpoint {} failed: no word from worker(s) {} within {} s; the next checkpoint retries",
                            round_->id, missing,
                            std::chrono::duration_cast<std::chrono::seconds>(now - round_->started).count());
    bool was_last = after_last_ && last_round_ == round_->id;
    if (!peers_.alone()) {
      peers_.cluster->end_checkpoint(round_->id, false);
    }
    round_.reset();
    next_due_ = now + options_.interval;
    if (was_last) {
      last_round_ = 0;
      std::exchange(after_last_, {})();
    }
  }
  if (!round_ && writing_ == 0 && !active_ && now >= next_due_) {
    start_round(now);
  }
}

void CheckpointCoordinator::take_messages(CheckpointInbox& inbox) {
  for (auto& message : inbox.take()) {
    switch (message.kind) {
      case CheckpointInbox::Message::Kind::begin:
        begin_part(message.id);
        break;
      case CheckpointInbox::Message::Kind::part:
        on_part(message.worker, message.id, message.ok, message.text);
        break;
      case CheckpointInbox::Message::Kind::complete:
        files_.store.protect(message.id);
        checkpoint_log()->debug("checkpoint {} is complete on every worker", message.id);
        on_complete(message.id);
        break;
    }
  }
}

void CheckpointCoordinator::start_round(std::chrono::steady_clock::time_point now) {
  std::uint64_t id = next_id_;
  if (peers_.one_part() && (peers_.alone() || completed_once_)) {
    // An idle stream writes nothing: no state changed and the generators have not moved since the last one. (A
    // cluster's first checkpoint of a run is written anyway: joiners wait for one.)
    bool changed = files_.store.needs_full() || full_next_;
    for (const auto& table : runner_.state_tables()) {
      changed = changed || table.has_changes();
    }
    if (!changed && io_.positions != nullptr) {
      for (std::size_t source : io_.replayable) {  // cheap: a few partitions each
        changed = changed || SourcePositions::encode(io_.positions->of(source)) != last_io_positions_[source];
      }
    }
    if (!changed) {
      try {
        if (generator_positions() == last_positions_) {
          next_due_ = now + options_.interval;
          if (after_last_) {  // the stop's last checkpoint: the newest one holds everything already
            last_round_ = 0;
            std::exchange(after_last_, {})();
          }
          return;
        }
      } catch (const state::StateSerializationError&) {
        // the checkpoint itself reports it
      }
    }
  }
  if (!peers_.alone() && !peers_.cluster->begin_checkpoint(id)) {
    next_due_ = now + membership_change_retry;  // a rescale is under way: its end is the next cut
    if (after_last_ && last_round_ == 0) {
      // The cluster stops during a rescale, which will not end: the last complete checkpoint is the last one.
      std::exchange(after_last_, {})();
    }
    return;
  }
  ++next_id_;
  round_ = Round{.id = id, .started = now, .parts = {}, .layout = peers_.layout};
  if (after_last_ && last_round_ == 0) {
    last_round_ = id;
  }
  begin_part(id);
}

void CheckpointCoordinator::begin_part(std::uint64_t id) {
  if (id <= begun_id_) {
    return;  // taken already: a peer's marker came first
  }
  if (writing_ != 0) {
    // The previous part's write must end first (the store is the writer's while it writes). Rare: a checkpoint
    // begins only once the previous one is resolved, and a worker reports its part only once it is written.
    wait_for_write();
  }
  if (active_) {
    checkpoint_log()->warn("checkpoint {} abandoned here: checkpoint {} begins before its markers all came",
                           active_->id, id);
    full_next_ = full_next_ || active_->snapshot.has_value();  // its changes are in no file
    active_.reset();
  }
  begun_id_ = id;
  flush_();  // the events this worker queued for others go before its markers
  auto started = std::chrono::steady_clock::now();
  Part part{.id = id, .snapshot = std::nullopt, .failure = {}, .awaiting = {}, .recorded_bytes = 0};
  serialize(part);
  last_pause_ = std::chrono::steady_clock::now() - started;
  if (peers_.cluster != nullptr) {
    for (std::size_t worker = 0; worker < peers_.names.size(); ++worker) {
      if (worker != peers_.self && peers_.takes_part(worker)) {
        peers_.cluster->send_marker(worker, id);
        part.awaiting.insert(worker);
      }
    }
  }
  if (io_.sinks != nullptr && part.snapshot) {
    io_.sinks->prepare(id);  // after flush_: this checkpoint's output is all handed over
    part.awaiting_sinks = true;
  }
  active_ = std::move(part);
  finish_part_if_ready();
}

void CheckpointCoordinator::take_sinks_output() {
  if (!active_ || !active_->awaiting_sinks) {
    return;
  }
  std::optional<TransactionalSinks::Prepared> prepared = io_.sinks->take_prepared();
  if (!prepared) {
    return;
  }
  active_->awaiting_sinks = false;
  if (prepared->id == active_->id && active_->snapshot) {
    if (!prepared->error.empty()) {
      active_->snapshot.reset();
      active_->failure = prepared->error;
    } else {
      for (auto& [sink, output] : prepared->output) {
        if (!output.location.empty()) {
          active_->snapshot->add_sink_output_location(static_cast<std::uint32_t>(sink), output.location);
        } else {
          active_->snapshot->add_sink_output_later(static_cast<std::uint32_t>(sink),
                                                   TransactionalSinks::encode_later(std::move(output.records)));
        }
      }
    }
  }
  finish_part_if_ready();
}

void CheckpointCoordinator::measure(metrics::MetricsRegistry& registry) {
  meters_.duration = &registry.latency(metrics::checkpoint_duration, {});
  meters_.completed = &registry.counter(metrics::checkpoints_completed, {});
  meters_.last_id = &registry.counter(metrics::checkpoint_last_id, {});
  meters_.last_bytes = &registry.counter(metrics::checkpoint_bytes, {});
  meters_.recoveries = &registry.counter(metrics::recoveries, {});
}

void CheckpointCoordinator::on_complete(std::uint64_t id) {
  if (meters_.completed != nullptr) {
    meters_.completed->add();
    meters_.last_id->set(id);
  }
  if (io_.sinks != nullptr) {
    io_.sinks->commit(id);
  }
  auto cut = cut_positions_.find(id);
  if (cut != cut_positions_.end() && io_.commit_positions) {
    io_.commit_positions(cut->second);
  }
  cut_positions_.erase(cut_positions_.begin(), cut_positions_.upper_bound(id));
}

void CheckpointCoordinator::serialize(Part& part) {
  auto& tables = runner_.state_tables();
  checkpoint::Snapshot snapshot(part.id, files_.store.needs_full() || full_next_);
  std::vector<std::string> positions;
  try {
    positions = generator_positions();
    for (std::size_t i = 0; i < generators_.size(); ++i) {
      snapshot.add_source_position(static_cast<std::uint32_t>(generators_[i].source_index()), positions[i]);
    }
    if (io_.positions != nullptr && !io_.replayable.empty()) {
      auto& cut = cut_positions_[part.id];
      for (std::size_t source : io_.replayable) {
        cut.emplace_back(source, io_.positions->of(source));
        std::string encoded = SourcePositions::encode(cut.back().second);
        snapshot.add_source_position(static_cast<std::uint32_t>(source), encoded);
        last_io_positions_[source] = std::move(encoded);
      }
    }
    auto marks = runner_.window_watermarks();
    for (std::size_t i = 0; i < marks.size(); ++i) {
      core::BigEndianWriter mark;
      mark.u64(static_cast<std::uint64_t>(marks[i]));
      auto bytes = mark.take();
      snapshot.add_source_position(checkpoint::Snapshot::window_watermark_flag | static_cast<std::uint32_t>(i),
                                   {bytes.data(), bytes.size()});
    }
    for (std::size_t i = 0; i < tables.size(); ++i) {
      tables[i].snapshot(static_cast<std::uint32_t>(i), snapshot, snapshot.full(), codecs_.of(i),
                         state::default_key_groups);
    }
  } catch (const state::StateSerializationError& error) {
    part.failure = error.what();
    return;
  }
  for (auto& table : tables) {
    table.forget_changes();
  }
  if (full_next_) {
    full_part_ = part.id;  // full_next_ holds until this one is written
  }
  last_positions_ = std::move(positions);
  part.snapshot = std::move(snapshot);
}

std::vector<std::string> CheckpointCoordinator::generator_positions() {
  std::vector<std::string> positions;
  for (auto& generator : generators_) {
    python::PyRef position = generator.position();
    python::PyRef bytes =
        python::PyRef::steal(position ? PyObject_CallOneArg(dump_position_.get(), position.get()) : nullptr);
    if (!bytes || !PyBytes_Check(bytes.get())) {
      std::string cause = bytes ? "pickle.dumps did not return bytes" : python::take_exception_text();
      throw state::StateSerializationError(
          fmt::format("the position of generator source {} could not be pickled: {}", generator.source_index(), cause));
    }
    positions.emplace_back(bytes_of(bytes.get()));
  }
  return positions;
}

void CheckpointCoordinator::on_marker(std::size_t from, std::uint64_t id) {
  if (id > begun_id_) {
    begin_part(id);
  }
  if (active_ && active_->id == id) {
    active_->awaiting.erase(from);
    finish_part_if_ready();
  }
}

void CheckpointCoordinator::record(std::size_t from, const core::PeerData& data) {
  if (active_->snapshot && active_->recorded_bytes + data.bytes.size() > max_recorded_bytes) {
    active_->snapshot.reset();
    active_->failure =
        fmt::format("more than {} MiB were in flight to this worker at the cut", max_recorded_bytes / (1024 * 1024));
  }
  if (active_->snapshot) {
    active_->snapshot->add_channel_batch(static_cast<std::uint32_t>(from),
                                         std::string_view(data.bytes.data(), data.bytes.size()));
    active_->recorded_bytes += data.bytes.size();
  }
}

void CheckpointCoordinator::finish_part_if_ready() {
  if (!active_ || !active_->awaiting.empty() || active_->awaiting_sinks) {
    return;
  }
  Part part = std::move(*active_);
  active_.reset();
  if (!part.snapshot) {
    take_outcome(
        checkpoint::CheckpointOutcome{.checkpoint_id = part.id, .ok = false, .error = part.failure, .result = {}});
    return;
  }
  writing_ = part.id;
  files_.writer.submit(std::move(*part.snapshot));
}

// This worker's part is written (or failed): tell whoever decides.
void CheckpointCoordinator::take_outcome(const checkpoint::CheckpointOutcome& outcome) {
  if (outcome.checkpoint_id == writing_) {
    writing_ = 0;
  }
  if (!outcome.ok) {
    full_next_ = true;  // the changes this part took from the tables are in no file
  } else if (outcome.checkpoint_id == full_part_) {
    full_next_ = false;
  }
  std::string text = outcome.ok ? summary_text(outcome.result) : outcome.error;
  if (peers_.initializer()) {
    on_part(peers_.self, outcome.checkpoint_id, outcome.ok, text);
  } else if (peers_.cluster != nullptr) {
    peers_.cluster->report_checkpoint_part(outcome.checkpoint_id, outcome.ok, text);
  }
}

void CheckpointCoordinator::on_part(std::size_t worker, std::uint64_t id, bool ok, const std::string& text) {
  if (!round_ || round_->id != id || !peers_.takes_part(worker)) {
    return;  // a round given up already
  }
  round_->parts[worker] = {ok, text};
  if (round_->parts.size() == peers_.parts()) {
    close_round(std::chrono::steady_clock::now());
  }
}

void CheckpointCoordinator::close_round(std::chrono::steady_clock::time_point now) {
  Round round = std::move(*round_);
  round_.reset();
  // Checkpoints begin every interval, counted from one begin to the next (Wallaroo's --time-between-checkpoints,
  // Flink's checkpoint interval), so that a transactional sink's output waits one interval, not an interval plus the
  // checkpoint's own duration; one that took longer than the interval is followed at once. After a failure the next
  // waits a whole interval: a full disk is not retried back to back.
  bool failed = std::ranges::any_of(round.parts, [](const auto& part) { return !part.second.first; });
  next_due_ = failed ? now + options_.interval : round.started + options_.interval;
  if (after_last_ && last_round_ == round.id) {
    // Whatever the outcome: the cluster exits now (a failure is logged below).
    auto done = std::exchange(after_last_, {});
    last_round_ = 0;
    report_round(round, now);
    done();
    return;
  }
  report_round(round, now);
}

void CheckpointCoordinator::report_round(const Round& round, std::chrono::steady_clock::time_point now) {
  std::string failures;
  PartSummary total;
  for (const auto& [worker, part] : round.parts) {
    if (!part.first) {
      failures += (failures.empty() ? "" : "; ") +
                  (peers_.one_part() ? part.second : fmt::format("worker '{}': {}", peers_.names[worker], part.second));
      continue;
    }
    PartSummary summary = parse_summary(part.second);
    total.keys += summary.keys;
    total.bytes += summary.bytes;
    total.compacted |= summary.compacted;
  }
  if (!failures.empty()) {
    if (!peers_.alone()) {
      peers_.cluster->end_checkpoint(round.id, false);
    }
    bool write_failed = failures.find("unable to ") != std::string::npos;
    checkpoint_log()->error("checkpoint {} failed: {}; the stream goes on and the next checkpoint{} retries", round.id,
                            failures, write_failed ? ", a full one," : "");
    return;
  }
  if (!peers_.alone()) {
    try {
      files_.store.mark_cluster_complete(round.id, round.layout);
    } catch (const core::Error& error) {
      peers_.cluster->end_checkpoint(round.id, false);
      checkpoint_log()->error("checkpoint {} failed: unable to {}; the stream goes on and the next checkpoint retries",
                              round.id, error.what());
      return;
    }
    files_.store.protect(round.id);
    peers_.cluster->end_checkpoint(round.id, true);
    completed_once_ = true;
  }
  if (meters_.duration != nullptr) {
    auto took = std::chrono::duration_cast<std::chrono::nanoseconds>(now - round.started).count();
    meters_.duration->latency.record(static_cast<std::uint64_t>(std::max<std::int64_t>(took, 0)));
    meters_.duration->events.add();
    meters_.last_bytes->set(total.bytes);
  }
  on_complete(round.id);
  checkpoint_log()->info(
      "checkpoint {} complete{}: {} keys changed, {} written in {:.1f} ms (executor paused {:.2f} ms{}){}", round.id,
      peers_.one_part() ? "" : fmt::format(" on {} workers", peers_.parts()), total.keys, byte_count(total.bytes),
      milliseconds(now - round.started), milliseconds(last_pause_), peers_.one_part() ? "" : " here",
      total.compacted ? "; compacted" : "");
}

// Waits (without the GIL) for the part being written, and passes its outcome on.
void CheckpointCoordinator::wait_for_write() {
  std::optional<checkpoint::CheckpointOutcome> outcome;
  {
    python::GilRelease release;
    outcome = files_.writer.wait();
  }
  if (outcome) {
    take_outcome(*outcome);
  }
}

void CheckpointCoordinator::take_last(std::function<void()> done) {
  after_last_ = std::move(done);
  last_round_ = 0;
  next_due_ = std::chrono::steady_clock::time_point{};  // now, or as soon as the round in flight closes
}

void CheckpointCoordinator::wait_for_sinks_output(std::chrono::steady_clock::time_point give_up) {
  while (active_ && active_->awaiting_sinks && std::chrono::steady_clock::now() < give_up) {
    {
      python::GilRelease release;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    take_sinks_output();
  }
}

void CheckpointCoordinator::checkpoint_and_wait() {
  if (!peers_.alone()) {
    return;  // a cluster's last checkpoint is the last one it completed
  }
  // The checkpoint in flight ends first, as any checkpoint does before the next begins: its sinks may still be
  // voting on it, and a transactional sink takes one prepare at a time (begun now, the last one would abandon it).
  wait_for_sinks_output(std::chrono::steady_clock::now() + min_round_timeout);
  if (active_ && active_->awaiting_sinks) {
    // A sink that did not answer the last prepare will not answer another: the newest complete checkpoint stays.
    checkpoint_log()->error("checkpoint {} failed: the sinks did not flush their output within {} s", active_->id,
                            min_round_timeout.count());
    active_.reset();
    return;
  }
  if (writing_ != 0) {
    wait_for_write();
  }
  round_.reset();
  std::uint64_t id = next_id_++;
  round_ = Round{.id = id, .started = std::chrono::steady_clock::now(), .parts = {}, .layout = {}};
  begin_part(id);
  wait_for_sinks_output(std::chrono::steady_clock::now() + min_round_timeout);
  if (active_ && active_->awaiting_sinks) {
    checkpoint_log()->error("checkpoint {} failed: the sinks did not flush their output within {} s", id,
                            min_round_timeout.count());
    active_.reset();
    return;
  }
  if (writing_ != 0) {
    wait_for_write();
  }
}

void CheckpointCoordinator::remove_files() {
  {
    python::GilRelease release;
    (void)files_.writer.wait();
    files_.writer.wait_idle();
  }
  writing_ = 0;
  checkpoint_log()->info("Removing recovery files");
  try {
    files_.store.remove_all();
  } catch (const core::Error& error) {
    checkpoint_log()->warn("the checkpoint files in {} could not all be removed: {}", files_.store.folder().string(),
                           error.what());
  }
}

}  // namespace roo::runtime
