#include "roo/python/user_errors.hpp"

#include "roo/core/logging.hpp"

#include <pybind11/embed.h>

namespace py = pybind11;

namespace roo::python {
namespace {

constexpr std::uint32_t lines_per_second = 5;

std::string basename_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

bool StepErrors::should_log() {
  auto now = std::chrono::steady_clock::now();
  if (now - window_start_ >= std::chrono::seconds(1)) {
    window_start_ = now;
    logged_this_second_ = 0;
  }
  if (logged_this_second_ >= lines_per_second) {
    ++suppressed_;
    return false;
  }
  ++logged_this_second_;
  return true;
}

void StepErrors::log_line(const std::string& line) {
  static auto log = core::module_logger("python");
  if (suppressed_ > 0) {
    log->warn("{} ({} similar lines suppressed)", line, suppressed_);
    suppressed_ = 0;
  } else {
    log->warn("{}", line);
  }
}

void StepErrors::report_exception(std::string_view action) {
  ++failures_;
  py::error_already_set error;  // fetches and clears the current exception
  if (!should_log()) {
    return;
  }
  std::string type_name = error.type() ? py::str(error.type().attr("__name__")).cast<std::string>() : "Exception";
  std::string message;
  std::string where;
  try {
    message = py::str(error.value()).cast<std::string>();
    if (error.trace()) {
      py::object traceback = py::module_::import("traceback");
      py::list frames = traceback.attr("extract_tb")(error.trace());
      if (!frames.empty()) {
        py::object last = frames[frames.size() - 1];
        where = " (" + basename_of(py::str(last.attr("filename")).cast<std::string>()) + ":" +
                py::str(last.attr("lineno")).cast<std::string>() + ")";
      }
      if (traceback_shown_for_.insert(type_name).second) {
        py::list lines = traceback.attr("format_exception")(error.type(), error.value(), error.trace());
        std::string full = py::str("").attr("join")(lines).cast<std::string>();
        static auto log = core::module_logger("python");
        log->warn("{} {} {}; traceback (shown once per exception type):\n{}", label_, action, type_name, full);
      }
    }
  } catch (const py::error_already_set&) {
    message = "<the exception could not be printed>";
  }
  log_line(
      fmt::format("{} {} {}: {}{}; event skipped ({} so far)", label_, action, type_name, message, where, failures_));
}

void StepErrors::report_misuse(std::string_view what) {
  ++failures_;
  if (should_log()) {
    log_line(fmt::format("{} {}; event skipped ({} so far)", label_, what, failures_));
  }
}

}  // namespace roo::python
