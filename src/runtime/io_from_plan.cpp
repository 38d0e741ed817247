#include "io_from_plan.hpp"

#include "roo/core/error.hpp"
#include "roo/io/connector_sink.hpp"
#include "roo/io/connector_source.hpp"
#include "roo/io/discard_sink.hpp"
#include "roo/io/kafka_sink.hpp"
#include "roo/io/kafka_source.hpp"
#include "roo/io/nats_sink.hpp"
#include "roo/io/nats_source.hpp"
#include "roo/io/tcp_sink.hpp"

#include <boost/asio/io_context.hpp>
#include <fmt/format.h>

#include <algorithm>

namespace roo::runtime {
namespace {

/// librdkafka's `log_level` (syslog levels) for Wallaroo's Kafka log levels, ahead of the user's properties.
io::KafkaProperties with_log_level(graph::KafkaLogLevel level, const io::KafkaProperties& properties) {
  const char* syslog = "4";
  switch (level) {
    case graph::KafkaLogLevel::fine:
      syslog = "7";
      break;
    case graph::KafkaLogLevel::info:
      syslog = "6";
      break;
    case graph::KafkaLogLevel::warn:
      syslog = "4";
      break;
    case graph::KafkaLogLevel::error:
      syslog = "3";
      break;
  }
  io::KafkaProperties out{{"log_level", syslog}};
  out.insert(out.end(), properties.begin(), properties.end());
  return out;
}

}  // namespace

HttpExchanges make_http_exchanges(const graph::Plan& plan, boost::asio::io_context& io,
                                  core::BoundedMailbox<core::FrameBatch>& mailbox, core::BatchPool& pool) {
  HttpExchanges exchanges(plan.sources.size());
  for (std::size_t i = 0; i < plan.sources.size(); ++i) {
    const auto* http = std::get_if<graph::HttpSourceSettings>(&plan.sources[i].settings);
    if (http == nullptr) {
      continue;
    }
    io::HttpExchangeConfig config;
    config.name = plan.sources[i].name;
    config.listen = core::Endpoint{http->host, http->port};
    config.source_index = static_cast<std::uint32_t>(i);
    config.ignore_response = http->ignore_response;
    config.max_body_bytes = http->max_body_bytes;
    exchanges[i] = std::make_unique<io::HttpExchange>(io, std::move(config), mailbox, pool);
  }
  return exchanges;
}

namespace {

/// A connector sink's stream is named as Wallaroo names it, "<app>-w-<worker>-id-<sink index>": the same for the same
/// worker across restarts, so that a restarted worker finds its transactions at the sink.
std::unique_ptr<io::Sink> make_connector_sink(const graph::SinkPlan& plan, const graph::ConnectorSinkSettings& settings,
                                              std::size_t index, boost::asio::io_context& io,
                                              const IoPlacement& placement) {
  io::ConnectorSinkConfig config;
  config.name = plan.name;
  config.peer = core::Endpoint{settings.host, settings.port};
  config.cookie = settings.cookie;
  config.program_name = placement.app_name;
  config.instance_name = placement.worker_name;
  config.stream_name = fmt::format("{}-w-{}-id-{}", placement.app_name, placement.worker_name, index);
  config.transactional = placement.checkpoints;
  return io::make_connector_sink(io, std::move(config));
}

}  // namespace

std::unique_ptr<io::Sink> make_sink(const graph::SinkPlan& plan, std::size_t index, boost::asio::io_context& io,
                                    boost::asio::io_context& own_thread_io, const IoPlacement& placement,
                                    HttpExchanges& exchanges) {
  if (const auto* tcp = std::get_if<graph::TcpSinkSettings>(&plan.settings)) {
    return io::make_tcp_sink(io, io::TcpSinkConfig{.name = plan.name, .peer = core::Endpoint{tcp->host, tcp->port}});
  }
  if (const auto* nats = std::get_if<graph::NatsSinkSettings>(&plan.settings)) {
    return io::make_nats_sink(
        io::NatsSinkConfig{.name = plan.name, .server_url = nats->server_url, .subject = nats->subject});
  }
  if (const auto* reply = std::get_if<graph::HttpReplySinkSettings>(&plan.settings)) {
    return exchanges.at(reply->source)->reply_sink(plan.name);
  }
  if (std::holds_alternative<graph::DiscardSinkSettings>(plan.settings)) {
    return io::make_discard_sink();
  }
  if (const auto* connector = std::get_if<graph::ConnectorSinkSettings>(&plan.settings)) {
    return make_connector_sink(plan, *connector, index, own_thread_io, placement);
  }
  const auto& kafka = std::get<graph::KafkaSinkSettings>(plan.settings);
  io::KafkaSinkConfig config;
  config.name = plan.name;
  config.topic = kafka.topic;
  config.brokers = kafka.brokers;
  config.properties = with_log_level(kafka.log_level, kafka.properties);
  config.max_message_size = kafka.max_message_size;
  // Wallaroo's max_produce_buffer_ms defaults to 0, but librdkafka 2.0.2 stalls a producer with linger.ms 0 (0.43 s
  // from produce to the broker's append at 10k messages/s, against 0.65 ms with 1 ms; docs/benchmarks.md): 1 ms is
  // the least Roo asks for.
  config.linger = std::max(kafka.linger, std::chrono::milliseconds(1));
  if (placement.checkpoints) {
    config.transactional_id =
        fmt::format("roo.{}.{}.{}", placement.app_name, plan.name.empty() ? fmt::format("sink{}", index) : plan.name,
                    placement.worker_name);
  }
  return io::make_kafka_sink(std::move(config));
}

std::unique_ptr<io::Source> make_kafka_source(const graph::SourcePlan& plan, std::size_t index,
                                              std::uint32_t generation, const io::SourcePosition& position,
                                              const IoPlacement& placement,
                                              core::BoundedMailbox<core::FrameBatch>& mailbox, core::BatchPool& pool) {
  const auto& kafka = std::get<graph::KafkaSourceSettings>(plan.settings);
  io::KafkaSourceConfig config;
  config.name = plan.name;
  config.source_index = static_cast<std::uint32_t>(index);
  config.generation = generation;
  config.topics = kafka.topics;
  config.brokers = kafka.brokers;
  config.group_id = kafka.group.empty() ? fmt::format("roo.{}", placement.app_name) : kafka.group;
  config.start = kafka.start == graph::KafkaSourceSettings::Start::latest ? io::KafkaSourceConfig::Start::latest
                                                                          : io::KafkaSourceConfig::Start::earliest;
  config.properties = with_log_level(kafka.log_level, kafka.properties);
  config.worker_index = placement.partition_reader;
  config.worker_count = placement.partition_readers;
  config.broker_wait = placement.broker_wait;
  config.quiet_after = std::chrono::nanoseconds(plan.event_time_spec.idleness_ns);
  auto source = io::make_kafka_source(std::move(config), mailbox, pool);
  source->seek(position);
  return source;
}

namespace {

// Worker i of a cluster listens on the configured port + i (port 0 stays 0: the system chooses).
unsigned connector_port(const graph::ConnectorSourceSettings& connector, std::size_t worker) {
  return connector.port == 0 ? 0 : connector.port + static_cast<unsigned>(worker);
}

}  // namespace

std::string connector_address(const graph::SourcePlan& plan, std::size_t worker, const std::string& host) {
  unsigned port = connector_port(std::get<graph::ConnectorSourceSettings>(plan.settings), worker);
  if (port == 0 || port > 65535) {
    return {};
  }
  return core::Endpoint{host, static_cast<std::uint16_t>(port)}.to_string();
}

std::unique_ptr<io::Source> make_connector_source(const graph::SourcePlan& plan, std::size_t index,
                                                  std::uint32_t generation, const io::SourcePosition& position,
                                                  const IoPlacement& placement, boost::asio::io_context& io,
                                                  core::BoundedMailbox<core::FrameBatch>& mailbox,
                                                  core::BatchPool& pool) {
  const auto& connector = std::get<graph::ConnectorSourceSettings>(plan.settings);
  unsigned port = connector_port(connector, placement.worker_index);
  if (port != 0) {
    if (port > 65535) {
      throw core::UsageError(fmt::format("listen for connector source '{}' on worker {}: port {} + {} would pass 65535",
                                         plan.name, placement.worker_index, connector.port, placement.worker_index));
    }
  }
  io::ConnectorSourceConfig config;
  config.name = plan.name;
  config.listen = core::Endpoint{connector.host, static_cast<std::uint16_t>(port)};
  config.source_index = static_cast<std::uint32_t>(index);
  config.generation = generation;
  config.cookie = connector.cookie;
  config.max_credits = connector.max_credits;
  config.refill_credits = connector.refill_credits;
  config.registry = placement.stream_registry;
  config.hold_uncommitted_streams = placement.stream_registry != nullptr && placement.checkpoints;
  auto source = io::make_connector_source(io, std::move(config), mailbox, pool);
  source->seek(position);
  return source;
}

std::unique_ptr<io::Source> make_replayable_source(const graph::SourcePlan& plan, std::size_t index,
                                                   std::uint32_t generation, const io::SourcePosition& position,
                                                   const IoPlacement& placement, boost::asio::io_context& io,
                                                   core::BoundedMailbox<core::FrameBatch>& mailbox,
                                                   core::BatchPool& pool) {
  if (plan.kind() == graph::SourcePlan::Kind::connector) {
    return make_connector_source(plan, index, generation, position, placement, io, mailbox, pool);
  }
  return make_kafka_source(plan, index, generation, position, placement, mailbox, pool);
}

bool is_replayable(const graph::SourcePlan& plan) {
  return plan.kind() == graph::SourcePlan::Kind::kafka || plan.kind() == graph::SourcePlan::Kind::connector;
}

std::unique_ptr<io::Source> make_nats_source(const graph::SourcePlan& plan, std::size_t index,
                                             const IoPlacement& placement,
                                             core::BoundedMailbox<core::FrameBatch>& mailbox, core::BatchPool& pool) {
  const auto& nats = std::get<graph::NatsSourceSettings>(plan.settings);
  io::NatsSourceConfig config;
  config.name = plan.name;
  config.source_index = static_cast<std::uint32_t>(index);
  config.server_url = nats.server_url;
  config.subject = nats.subject;
  config.queue_group =
      nats.queue_group.empty() ? fmt::format("roo.{}.{}", placement.app_name, plan.name) : nats.queue_group;
  return io::make_nats_source(std::move(config), mailbox, pool);
}

std::string sink_destination(const graph::SinkPlan& plan) {
  if (const auto* tcp = std::get_if<graph::TcpSinkSettings>(&plan.settings)) {
    return fmt::format("{}:{}", tcp->host, tcp->port);
  }
  if (const auto* nats = std::get_if<graph::NatsSinkSettings>(&plan.settings)) {
    return fmt::format("NATS subject '{}' at {}", nats->subject, nats->server_url);
  }
  if (const auto* reply = std::get_if<graph::HttpReplySinkSettings>(&plan.settings)) {
    return fmt::format("the clients of http source '{}'", reply->source_name);
  }
  if (std::holds_alternative<graph::DiscardSinkSettings>(plan.settings)) {
    return "nowhere (a discard sink)";
  }
  if (const auto* connector = std::get_if<graph::ConnectorSinkSettings>(&plan.settings)) {
    return fmt::format("the connector sink at {}:{}", connector->host, connector->port);
  }
  return fmt::format("Kafka topic '{}'", std::get<graph::KafkaSinkSettings>(plan.settings).topic);
}

}  // namespace roo::runtime
