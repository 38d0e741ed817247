#pragma once

#include "roo/io/sink.hpp"

#include <memory>

namespace roo::io {

/// A sink that drops every output (Bruco mode without a sink, docs/bruco.md): the outputs are counted where every
/// sink's are (the runner's outputs written, the sink's metrics), then thrown away. Everything written is delivered
/// at once, so a flush answers at once (a Kafka source's offsets get committed as after any sink's delivery), and it
/// never holds the executor back. Every call runs on the caller's thread, callbacks included.
[[nodiscard]] std::unique_ptr<Sink> make_discard_sink();

}  // namespace roo::io
