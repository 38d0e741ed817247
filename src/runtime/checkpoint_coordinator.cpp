#include "checkpoint_coordinator.hpp"

#include "roo/core/error.hpp"
#include "roo/core/logging.hpp"
#include "roo/python/exception_text.hpp"
#include "roo/python/interpreter.hpp"
#include "roo/state/key_group.hpp"

#include <fmt/format.h>

namespace roo::runtime {
namespace {

double milliseconds(std::chrono::steady_clock::duration duration) {
  return std::chrono::duration<double, std::milli>(duration).count();
}

std::string byte_count(std::size_t bytes) {
  if (bytes < 10 * 1024) {
    return fmt::format("{} B", bytes);
  }
  if (bytes < 10 * 1024 * 1024) {
    return fmt::format("{} KiB", bytes / 1024);
  }
  return fmt::format("{} MiB", bytes / (1024 * 1024));
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

}  // namespace

CheckpointCoordinator::CheckpointCoordinator(const CheckpointOptions& options, checkpoint::CheckpointIdentity identity,
                                             const graph::Plan& plan, PipelineRunner& runner,
                                             std::vector<GeneratorSource>& generators, core::Doorbell& doorbell)
    : options_(options),
      runner_(runner),
      generators_(generators),
      store_(checkpoint::StoreConfig{.dir = options.dir, .identity = std::move(identity)}),
      dump_position_(attribute("pickle", "dumps")),
      load_position_(attribute("pickle", "loads")),
      next_due_(std::chrono::steady_clock::now() + options.interval) {
  codec_.dump_key = dump_position_;
  codec_.load_key = load_position_;
  codec_.dump_state = plan.serialize ? plan.serialize : dump_position_;
  codec_.load_state = plan.deserialize ? plan.deserialize : load_position_;
  for (auto& table : runner_.state_tables()) {
    table.track_changes();
  }
  writer_.emplace(store_, [&doorbell] { doorbell.ring(); });
}

CheckpointCoordinator::~CheckpointCoordinator() {
  if (writer_) {
    python::GilRelease release;  // the write in progress needs no Python
    writer_.reset();
  }
}

void CheckpointCoordinator::recover() {
  static auto log = core::module_logger("runtime");
  std::vector<std::string> skipped;
  std::optional<checkpoint::RecoveryPoint> point = store_.latest_complete(skipped);
  for (const auto& line : skipped) {
    log->warn("checkpoint skipped: {}", line);
  }
  if (!point) {
    return;
  }
  auto started = std::chrono::steady_clock::now();
  log->info("recovery from checkpoint {} started ({})", point->checkpoint_id,
            std::filesystem::absolute(store_.folder()).string());
  auto& tables = runner_.state_tables();
  std::size_t keys = 0;
  try {
    store_.read(
        *point,
        [&](std::uint32_t table, std::uint32_t, std::string_view key, std::string_view value) {
          if (table >= tables.size()) {
            throw core::Error(fmt::format("state table {} in the checkpoint does not exist in this application", table));
          }
          tables[table].restore(key, value, codec_);
          ++keys;
        },
        [&](std::uint32_t source, std::string_view position) {
          for (auto& generator : generators_) {
            if (generator.source_index() != source) {
              continue;
            }
            python::PyRef bytes = python::PyRef::steal(
                PyBytes_FromStringAndSize(position.data(), static_cast<Py_ssize_t>(position.size())));
            python::PyRef value = python::PyRef::steal(bytes ? PyObject_CallOneArg(load_position_.get(), bytes.get())
                                                             : nullptr);
            if (!value || !generator.seek(value.get())) {
              std::string cause = value ? "not a generator position" : python::take_exception_text();
              throw core::Error(fmt::format("the position of source {} could not be read back: {}", source, cause));
            }
          }
        });
  } catch (const core::Error& error) {
    throw core::Error(fmt::format("recover from checkpoint {} in {}: {}", point->checkpoint_id,
                                  store_.folder().string(), error.what()));
  }
  next_id_ = point->checkpoint_id + 1;
  auto took = std::chrono::steady_clock::now() - started;
  log->info("recovery from checkpoint {} complete: {} keys restored in {:.0f} ms", point->checkpoint_id, keys,
            milliseconds(took));
  log->info("|~~ - Recovery COMPLETE - ~~|");
}

void CheckpointCoordinator::on_turn(std::chrono::steady_clock::time_point now) {
  if (in_flight_ != 0) {
    if (auto outcome = writer_->take_outcome()) {
      report(*outcome);
    } else {
      return;
    }
  }
  if (now >= next_due_) {
    take_checkpoint(false);
    next_due_ = now + options_.interval;
  }
}

void CheckpointCoordinator::checkpoint_and_wait() {
  if (in_flight_ != 0) {
    std::optional<checkpoint::CheckpointOutcome> outcome;
    {
      python::GilRelease release;
      outcome = writer_->wait();
    }
    if (outcome) {
      report(*outcome);
    }
  }
  take_checkpoint(true);
  if (in_flight_ != 0) {
    std::optional<checkpoint::CheckpointOutcome> outcome;
    {
      python::GilRelease release;
      outcome = writer_->wait();
    }
    if (outcome) {
      report(*outcome);
    }
  }
}

void CheckpointCoordinator::remove_files() {
  static auto log = core::module_logger("runtime");
  {
    python::GilRelease release;
    if (auto outcome = writer_->wait()) {
      in_flight_ = 0;
    }
  }
  log->info("Removing recovery files");
  try {
    store_.remove_all();
  } catch (const core::Error& error) {
    log->warn("the checkpoint files in {} could not all be removed: {}", store_.folder().string(), error.what());
  }
}

// The executor's pause: serialize what changed, then hand the bytes to the writer.
void CheckpointCoordinator::take_checkpoint(bool even_if_unchanged) {
  static auto log = core::module_logger("runtime");
  auto started = std::chrono::steady_clock::now();
  auto& tables = runner_.state_tables();
  bool full = store_.needs_full();
  bool changed = full || even_if_unchanged;
  for (const auto& table : tables) {
    changed = changed || table.has_changes();
  }
  std::vector<std::string> positions;
  try {
    for (auto& generator : generators_) {
      python::PyRef position = generator.position();
      python::PyRef bytes =
          python::PyRef::steal(position ? PyObject_CallOneArg(dump_position_.get(), position.get()) : nullptr);
      if (!bytes || !PyBytes_Check(bytes.get())) {
        std::string cause = bytes ? "pickle.dumps did not return bytes" : python::take_exception_text();
        throw state::StateSerializationError(
            fmt::format("the position of generator source {} could not be pickled: {}", generator.source_index(),
                        cause));
      }
      positions.emplace_back(bytes_of(bytes.get()));
    }
  } catch (const state::StateSerializationError& error) {
    log->error("checkpoint {} failed: {}; the stream goes on and the next checkpoint retries", next_id_, error.what());
    return;
  }
  if (!changed && positions == last_positions_) {
    return;  // an idle stream writes nothing
  }
  std::uint64_t id = next_id_++;
  checkpoint::Snapshot snapshot(id, full);
  for (std::size_t i = 0; i < generators_.size(); ++i) {
    snapshot.add_source_position(static_cast<std::uint32_t>(generators_[i].source_index()), positions[i]);
  }
  try {
    for (std::size_t i = 0; i < tables.size(); ++i) {
      tables[i].snapshot(static_cast<std::uint32_t>(i), snapshot, full, codec_, state::default_key_groups);
    }
  } catch (const state::StateSerializationError& error) {
    log->error("checkpoint {} failed: {}; the stream goes on and the next checkpoint retries", id, error.what());
    return;
  }
  for (auto& table : tables) {
    table.forget_changes();
  }
  last_positions_ = std::move(positions);
  last_pause_ = std::chrono::steady_clock::now() - started;
  in_flight_ = id;
  writer_->submit(std::move(snapshot));
}

void CheckpointCoordinator::report(const checkpoint::CheckpointOutcome& outcome) {
  static auto log = core::module_logger("runtime");
  in_flight_ = 0;
  if (!outcome.ok) {
    log->error("checkpoint {} failed: {}; the stream goes on and the next checkpoint, a full one, retries",
               outcome.checkpoint_id, outcome.error);
    return;
  }
  const auto& result = outcome.result;
  log->info("checkpoint {} complete: {} keys changed, {} written in {:.1f} ms (executor paused {:.2f} ms){}",
            outcome.checkpoint_id, result.state_entries, byte_count(result.bytes_written),
            milliseconds(result.took), milliseconds(last_pause_), result.compacted ? "; compacted" : "");
}

}  // namespace roo::runtime
