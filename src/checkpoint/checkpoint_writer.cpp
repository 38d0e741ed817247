#include "roo/checkpoint/checkpoint_writer.hpp"

#include "roo/core/error.hpp"
#include "roo/core/logging.hpp"

#include <exception>
#include <stdexcept>

namespace roo::checkpoint {

CheckpointWriter::CheckpointWriter(CheckpointStore& store, std::function<void()> wake)
    : store_(store), wake_(std::move(wake)), thread_([this] { run(); }) {}

CheckpointWriter::~CheckpointWriter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

bool CheckpointWriter::busy() const {
  std::lock_guard lock(mutex_);
  return busy_;
}

void CheckpointWriter::submit(Snapshot snapshot) {
  {
    std::lock_guard lock(mutex_);
    if (busy_) {
      // A programmer error: a second snapshot would silently replace the first's outcome.
      throw std::logic_error("CheckpointWriter::submit while a checkpoint is in flight");
    }
    pending_.emplace(std::move(snapshot));
    busy_ = true;
  }
  changed_.notify_all();
}

std::optional<CheckpointOutcome> CheckpointWriter::take_outcome() {
  std::lock_guard lock(mutex_);
  return take_locked();
}

std::optional<CheckpointOutcome> CheckpointWriter::wait() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return !busy_ || outcome_.has_value(); });
  return take_locked();
}

void CheckpointWriter::wait_idle() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return !compacting_ && !pending_; });
}

std::optional<CheckpointOutcome> CheckpointWriter::take_locked() {
  std::optional<CheckpointOutcome> out = std::move(outcome_);
  outcome_.reset();
  if (out) {
    busy_ = false;
  }
  return out;
}

// The writer thread: one snapshot at a time; a pending one is written even when stopping, so the destructor
// waits for the write in progress.
void CheckpointWriter::run() {
  std::unique_lock lock(mutex_);
  while (true) {
    changed_.wait(lock, [this] { return pending_.has_value() || stopping_; });
    if (!pending_) {
      return;
    }
    Snapshot snapshot = std::move(*pending_);
    pending_.reset();
    lock.unlock();
    CheckpointOutcome outcome = write(snapshot);
    lock.lock();
    outcome_ = std::move(outcome);
    compacting_ = true;
    changed_.notify_all();
    lock.unlock();
    if (wake_) {
      wake_();
    }
    // After the outcome is out: the checkpoint is complete without waiting for a merge of the whole state. A
    // snapshot submitted meanwhile waits for it.
    compact();
    lock.lock();
    compacting_ = false;
    changed_.notify_all();
  }
}

void CheckpointWriter::compact() {
  try {
    (void)store_.compact_if_needed();
  } catch (const std::exception& error) {
    core::module_logger("checkpoint")
        ->warn("the checkpoint chain stays uncompacted for now: unable to {}", error.what());
  }
}

CheckpointOutcome CheckpointWriter::write(Snapshot& snapshot) {
  CheckpointOutcome outcome;
  outcome.checkpoint_id = snapshot.checkpoint_id();
  try {
    snapshot.encode_late_output();
    outcome.result = store_.write_and_commit(snapshot);
    outcome.ok = true;
  } catch (const core::Error& error) {
    outcome.error = std::string("unable to ") + error.what();
  } catch (const std::exception& error) {
    // e.g. out of memory while compacting: still one line, and the writer goes on.
    outcome.error = "unable to write checkpoint " + std::to_string(snapshot.checkpoint_id()) + ": " + error.what();
  }
  return outcome;
}

}  // namespace roo::checkpoint
