#pragma once

#include "connector_frames.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace roo::io {

/// The transaction id of checkpoint `checkpoint`'s output on stream `stream_name`: "<stream_name>:c_id=<checkpoint>"
/// (as Wallaroo's connector sink names them).
[[nodiscard]] std::string transaction_id(std::string_view stream_name, std::uint64_t checkpoint);

/// The checkpoint of a transaction id of stream `stream_name`; empty for another stream's id or one not of that form.
[[nodiscard]] std::optional<std::uint64_t> checkpoint_of(std::string_view txn_id, std::string_view stream_name);

/// What to do with the uncommitted transactions a sink listed (REPLY_UNCOMMITTED), at the start of a session:
/// commit those of this stream whose checkpoint is complete (<= `last_complete`), leave the ones this process
/// prepared and still waits to commit (`open_prepared`), abort the others (a failed round, or a predecessor's round
/// after the checkpoint the worker restored). Another stream's transactions are left alone. Commits come first, in
/// checkpoint order, then aborts, newest first.
[[nodiscard]] std::vector<connector::Phase2> resolve_uncommitted(const std::vector<std::string>& txn_ids,
                                                                 std::string_view stream_name,
                                                                 std::uint64_t last_complete,
                                                                 const std::vector<std::uint64_t>& open_prepared);

}  // namespace roo::io
