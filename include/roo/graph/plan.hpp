#pragma once

#include "roo/graph/window_spec.hpp"
#include "roo/python/py_ref.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace roo::graph {

using python::PyRef;

/// librdkafka properties passed through verbatim, in the order they apply (a later one wins): the config's
/// `properties`, then the app's `--kafka-property` flags, then the source's or sink's own `--<prefix>_property`.
using KafkaProperties = std::vector<std::pair<std::string, std::string>>;

/// Wallaroo's Kafka log levels (`--kafka_source_log_level Fine|Info|Warn|Error`): the least severe librdkafka
/// message a Kafka client logs.
enum class KafkaLogLevel {
  fine,  ///< debug
  info,
  warn,
  error,
};

/// A TCP source: listens on host:port and cuts length-prefixed frames (docs/description.md).
struct TcpSourceSettings {
  std::string host;
  std::uint16_t port = 0;
  bool valid = true;  ///< false: described, but does not listen
  std::size_t max_size = 16384;
  std::size_t parallelism = 10;  ///< at most this many connections at once
  std::size_t header_length = 4;
  std::string length_fmt = ">I";
};

/// Wallaroo's GenSource: `initial_value()`, then `apply(previous)`. Lives on the Python executor.
struct GeneratorSourceSettings {
  PyRef initial_value;
  PyRef apply;
};

/// A Kafka consumer over one or more topics (docs/description.md, Kafka sources).
struct KafkaSourceSettings {
  std::vector<std::string> topics;  ///< at least one
  std::string brokers;              ///< bootstrap.servers: "host:port,host:port"
  std::string group;                ///< the consumer group; empty: the runtime chooses one
  enum class Start {
    earliest,  ///< a partition with no committed offset starts at its first message
    latest,    ///< ... at its end: only messages produced from now on
  };
  Start start = Start::earliest;
  KafkaProperties properties;
  KafkaLogLevel log_level = KafkaLogLevel::warn;
  bool decode_takes_key = false;  ///< the decoder is called as decode(value, key), else decode(value)
};

/// A NATS core subscription (docs/nats.md): each message's data is one event for the decoder.
struct NatsSourceSettings {
  std::string server_url;   ///< "nats://host:port"
  std::string subject;
  std::string queue_group;  ///< empty: the runtime's "roo.<app>.<source>", so the app's workers share the messages
};

/// An HTTP request/response source (Bruco mode, docs/bruco.md): each POST body is one frame `u64 BE request id |
/// body`, answered by an `http_reply` sink's records (io::HttpExchange).
struct HttpSourceSettings {
  std::string host;
  std::uint16_t port = 0;
  bool ignore_response = false;  ///< answer `200 ok` on receipt; replies are ignored
  std::size_t max_body_bytes = 1024 * 1024;
};

/// A connector source (docs/connectors-source.md): listens on host:port for connector processes speaking Wallaroo's
/// connector protocol (wallaroo.experimental.SourceConnectorConfig).
struct ConnectorSourceSettings {
  std::string host;
  std::uint16_t port = 0;  ///< worker i of `roo run --workers N` listens on port + i
  std::string cookie;      ///< a connector's HELLO must carry it
  std::uint32_t max_credits = 10;
  std::uint32_t refill_credits = 8;
};

/// One source of the application: what all kinds have, and the settings of its kind. Lives on the Python executor
/// (holds Python objects).
struct SourcePlan {
  using Settings = std::variant<TcpSourceSettings, GeneratorSourceSettings, KafkaSourceSettings, NatsSourceSettings,
                                HttpSourceSettings, ConnectorSourceSettings>;
  /// The alternatives of Settings, in the same order.
  enum class Kind { tcp, generator, kafka, nats, http, connector };

  std::string name;
  PyRef decode;  ///< null for a generator
  Settings settings;
  /// `with_event_time(fn)`: fn(event) -> event time in ns since the epoch, called right after the decoder. Null: a
  /// Kafka message's timestamp (when it has one), else the time the worker took the event in (ingest time).
  PyRef event_time;
  EventTimeSpec event_time_spec;  ///< idleness and the future cap of this source's watermark

  [[nodiscard]] Kind kind() const { return static_cast<Kind>(settings.index()); }
};

static_assert(std::is_same_v<std::variant_alternative_t<static_cast<std::size_t>(SourcePlan::Kind::kafka),
                                                        SourcePlan::Settings>,
                             KafkaSourceSettings>);
static_assert(std::is_same_v<std::variant_alternative_t<static_cast<std::size_t>(SourcePlan::Kind::http),
                                                        SourcePlan::Settings>,
                             HttpSourceSettings>);
static_assert(std::is_same_v<
              std::variant_alternative_t<static_cast<std::size_t>(SourcePlan::Kind::connector), SourcePlan::Settings>,
              ConnectorSourceSettings>);

struct StagePlan {
  enum class Kind { computation, key_by, collect, state, window };
  Kind kind = Kind::computation;
  std::string name;
  PyRef fn;
  bool multi = false;
  bool int_as_chr = false;       ///< key_by: Wallaroo's legacy int -> chr() key conversion
  PyRef constant_key;            ///< collect
  std::size_t state_table = 0;   ///< state: index into Plan::state_tables
  bool returns_persist = false;  ///< state: G1 computations return (output, persist)
  WindowSpec window;             ///< window: which windows; `fn` is the Aggregation instance, `state_table` its
                                 ///< per-key windows
};

/// One state table: the per-key state of every stage sharing one state id (docs/description.md). The state objects
/// themselves live in the runtime (state::KeyedStateTable), not in the plan.
struct StateTablePlan {
  std::string name;  ///< the state id: what the external channel's state queries call this table
  PyRef factory;     ///< called with no arguments for a key's first state
  /// A window stage's per-key windows (the runtime's layout, always pickled in checkpoints: the application's
  /// serialize/deserialize is for its own objects), not a state computation's state.
  bool window = false;
};

/// A TCP sink: writes every encoded output verbatim to host:port.
struct TcpSinkSettings {
  std::string host;
  std::uint16_t port = 0;
};

/// A Kafka producer writing one topic (docs/description.md, Kafka sinks). The encoder's result says what a record
/// holds: value bytes, (value, key), (value, key, partition) or (value, key, partition, headers).
struct KafkaSinkSettings {
  std::string topic;
  std::string brokers;  ///< bootstrap.servers: "host:port,host:port"
  KafkaProperties properties;  ///< the partitioner, if chosen, is the property `partitioner`
  std::size_t max_message_size = 100000;  ///< Wallaroo's max_message_size: a larger record is not sent
  std::chrono::milliseconds linger{0};    ///< Wallaroo's max_produce_buffer_ms (librdkafka's linger.ms)
  KafkaLogLevel log_level = KafkaLogLevel::warn;
};

/// A NATS core publisher (docs/nats.md): each output is one message on the subject.
struct NatsSinkSettings {
  std::string server_url;  ///< "nats://host:port"
  std::string subject;
};

/// The replies of an HTTP source: the encoder's bytes are reply records (io::HttpExchange) answering that source's
/// requests on their connections.
struct HttpReplySinkSettings {
  std::size_t source = 0;  ///< index of the http source in Plan::sources
  std::string source_name;
};

/// A sink that drops every output after its encoder ran (Bruco mode without a sink): the outputs are counted, not
/// written anywhere.
struct DiscardSinkSettings {};

/// A Wallaroo connector sink (wallaroo.experimental.SinkConnectorConfig, docs/connectors-sink.md): each output is one
/// MESSAGE of the connector protocol to host:port; with checkpoints, committed by a two-phase commit.
struct ConnectorSinkSettings {
  std::string host;
  std::uint16_t port = 0;
  std::string cookie;
};

/// One sink of the application: what all kinds have, and the settings of its kind. Lives on the Python executor.
struct SinkPlan {
  using Settings = std::variant<TcpSinkSettings, KafkaSinkSettings, NatsSinkSettings, HttpReplySinkSettings,
                                DiscardSinkSettings, ConnectorSinkSettings>;
  /// The alternatives of Settings, in the same order.
  enum class Kind { tcp, kafka, nats, http_reply, discard, connector };

  std::string name;
  PyRef encode;
  Settings settings;

  [[nodiscard]] Kind kind() const { return static_cast<Kind>(settings.index()); }
};

static_assert(std::is_same_v<
              std::variant_alternative_t<static_cast<std::size_t>(SinkPlan::Kind::kafka), SinkPlan::Settings>,
              KafkaSinkSettings>);
static_assert(std::is_same_v<std::variant_alternative_t<static_cast<std::size_t>(SinkPlan::Kind::http_reply),
                                                        SinkPlan::Settings>,
                             HttpReplySinkSettings>);
static_assert(
    std::is_same_v<std::variant_alternative_t<static_cast<std::size_t>(SinkPlan::Kind::connector), SinkPlan::Settings>,
                   ConnectorSinkSettings>);

/// The path of one source's events: its stages in order, then every sink listed.
struct Flow {
  std::size_t source = 0;
  std::vector<std::size_t> stages;
  std::vector<std::size_t> sinks;
};

/// What one worker runs, read from the application's description (docs/description.md).
struct Plan {
  std::string app_name;
  std::vector<SourcePlan> sources;
  std::vector<StagePlan> stages;
  std::vector<StateTablePlan> state_tables;
  std::vector<SinkPlan> sinks;
  std::vector<Flow> flows;  ///< one per source, same index
  PyRef serialize;          ///< the app's own serialize(obj) -> bytes, if it defines the pair (else null)
  PyRef deserialize;

  /// The same on every worker running the same application: compared when workers join a cluster, and recorded
  /// in checkpoints. Holds the names and kinds of sources, stages and sinks, and the Kafka topics; not what differs
  /// per worker (TCP addresses).
  [[nodiscard]] std::string fingerprint() const;
  /// Whether any stage is a window stage (else event time and watermarks cost nothing).
  [[nodiscard]] bool has_windows() const;
};

/// Reads the description dict returned by wallaroo.description.describe. Throws core::UsageError naming the
/// offending entry when the description is inconsistent. Call with the GIL held.
[[nodiscard]] Plan read_plan(PyObject* description);

}  // namespace roo::graph
