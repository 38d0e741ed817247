#pragma once

#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

namespace roo::python {

/// Failures of one user-code step (a decoder, key extractor, computation or encoder): counted, logged with
/// the user's file:line, the full traceback once per exception type, and rate-limited after that.
/// Lives on the Python executor.
class StepErrors {
 public:
  /// `label` names the step for the user, e.g. "computation 'split words'".
  explicit StepErrors(std::string label) : label_(std::move(label)) {}

  /// Takes the Python exception currently set (clears it), logs it and counts one skipped event. The line reads
  /// `<label> <action> <Type>: <message> (file:line); event skipped (<n> so far)`; `action` is "raised" for user
  /// code, or says what Roo was doing when the exception came (e.g. "could not send its event to another worker:
  /// pickling the key raised"). Must be called with the GIL held and an exception set.
  void report_exception(std::string_view action = "raised");

  /// Counts one skipped event whose result broke a return rule (`what`, e.g. "returned int; expected bytes").
  void report_misuse(std::string_view what);

  [[nodiscard]] const std::string& label() const { return label_; }
  [[nodiscard]] std::uint64_t failures() const { return failures_; }

 private:
  [[nodiscard]] bool should_log();
  void log_line(const std::string& line);

  std::string label_;
  std::uint64_t failures_ = 0;
  std::uint64_t suppressed_ = 0;
  std::uint32_t logged_this_second_ = 0;
  std::chrono::steady_clock::time_point window_start_{};
  std::set<std::string> traceback_shown_for_;
};

}  // namespace roo::python
