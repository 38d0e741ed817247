#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace roo::cli {

/// What a shrink request asks (Wallaroo's ShrinkRequest, external message 4; spec §2.3 and §2.5): which workers
/// could leave (query), or that these named workers leave, or that this many leave.
struct ShrinkAsk {
  bool query = false;
  std::vector<std::string> workers;  ///< --workers a,b
  std::uint64_t count = 0;           ///< --count N (0 when workers are named or for a query)
};

/// The ask from `--workers a,b`, `--count N` and `--query`, exactly one of which must be given. Throws
/// core::UsageError naming what is wrong (none or several given, an empty name in the list).
[[nodiscard]] ShrinkAsk shrink_ask(const std::optional<std::string>& workers, const std::optional<std::uint64_t>& count,
                                   bool query);

/// The request's payload, in the spec's field order: `{"query":false,"node_names":["a","b"],"node_count":0}`.
[[nodiscard]] std::string shrink_request_json(const ShrinkAsk& ask);

/// A ShrinkQueryResponse (message 5): the workers that could leave (a query) or that leave now.
struct ShrinkAnswer {
  std::vector<std::string> workers;
  std::uint64_t count = 0;
};

/// Reads a ShrinkQueryResponse's JSON `{"node_names":[...],"node_count":N}`. Throws core::Error "<action>: the
/// answer is not a ShrinkQueryResponse (<why>)".
[[nodiscard]] ShrinkAnswer parse_shrink_answer(const std::string& json, const std::string& action);

/// The one line `roo ctl shrink` prints for an answer: "shrinking: worker1, worker2 will leave (2 workers)", with
/// "; 3 were asked for, only 2 can leave" when a --count asked for more; for a query "could leave: worker1 (1
/// worker)"; "no worker can leave" / "no worker could leave" when none.
[[nodiscard]] std::string describe_shrink(const ShrinkAsk& ask, const ShrinkAnswer& answer);

}  // namespace roo::cli
