#pragma once

#include "external_client_flags.hpp"
#include "shrink_request.hpp"

#include <string>

namespace roo::cli {

/// Where a shrink request goes and how: the worker's external address (any worker: it passes the request to the
/// initializer), how long to wait, and the client's secret and TLS files.
struct ShrinkTarget {
  std::string external;
  double timeout_seconds = 5;
  ExternalClientFlags client;
};

/// Sends ShrinkRequest (message 4) with `payload` and returns the ShrinkQueryResponse's JSON (message 5). Throws
/// core::Error "shrink the cluster at h:p: <the worker's text>" when it answers ShrinkErrorResponse (6), and the
/// external client's one-line errors otherwise.
[[nodiscard]] std::string send_shrink_request(const ShrinkTarget& target, const std::string& payload);

/// `roo ctl shrink` and `cluster_shrinker`: sends `ask` and prints the answer's line (describe_shrink), or only its
/// JSON with `json`.
void run_shrink(const ShrinkTarget& target, const ShrinkAsk& ask, bool json);

}  // namespace roo::cli
