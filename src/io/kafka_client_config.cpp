#include "kafka_client_config.hpp"

#include "io_log.hpp"

#include "roo/core/error.hpp"

#include <array>
#include <cctype>

namespace roo::io {
namespace {

/// librdkafka's log callback (its own threads): its lines are details under Roo's own, so debug level.
void log_to_roo(const rd_kafka_t* handle, int level, const char* facility, const char* text) {
  (void)level;
  const auto* client = static_cast<const KafkaClientIdentity*>(rd_kafka_opaque(handle));
  io_logger()->debug("{}: librdkafka {}: {}", client != nullptr ? client->identity : std::string("kafka"), facility,
                     text);
}

/// "Connection refused" → "connection refused"; an acronym ("SASL …") stays.
std::string lower_first(std::string text) {
  if (!text.empty() && !(text.size() > 1 && std::isupper(static_cast<unsigned char>(text[1])) != 0)) {
    text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  }
  return text;
}

void set(rd_kafka_conf_t* conf, const std::string& identity, const std::string& key, const std::string& value) {
  std::array<char, 512> reason{};
  if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), reason.data(), reason.size()) != RD_KAFKA_CONF_OK) {
    throw core::Error("configure " + identity + ": " + key + "=" + value + ": " + lower_first(reason.data()));
  }
}

}  // namespace

KafkaConf make_kafka_client_config(KafkaClientIdentity& client, const std::string& brokers,
                                   const KafkaProperties& own, const KafkaProperties& properties) {
  const std::string& identity = client.identity;
  KafkaConf conf(rd_kafka_conf_new());
  set(conf.get(), identity, "bootstrap.servers", brokers);
  set(conf.get(), identity, "log.connection.close", "false");
  for (const auto& [key, value] : own) {
    set(conf.get(), identity, key, value);
  }
  for (const auto& [key, value] : properties) {
    set(conf.get(), identity, key, value);
  }
  rd_kafka_conf_set_log_cb(conf.get(), log_to_roo);
  rd_kafka_conf_set_opaque(conf.get(), &client);
  return conf;
}

KafkaHandle make_kafka_client(rd_kafka_type_t type, KafkaConf conf, const std::string& identity) {
  std::array<char, 512> reason{};
  rd_kafka_t* handle = rd_kafka_new(type, conf.get(), reason.data(), reason.size());
  if (handle == nullptr) {
    throw core::Error(std::string("create the Kafka ") + (type == RD_KAFKA_PRODUCER ? "producer" : "consumer") +
                      " for " + identity + ": " + lower_first(reason.data()));
  }
  (void)conf.release();  // rd_kafka_new took it
  return KafkaHandle(handle);
}

std::string kafka_error_text(rd_kafka_resp_err_t error) { return kafka_reason_text(rd_kafka_err2str(error)); }

std::string kafka_reason_text(std::string_view reason) {
  std::string text(reason);
  // "127.0.0.1:9092/bootstrap: Connect to ..." and "GroupCoordinator: 127.0.0.1:9092: ..." name where; the cause
  // follows. A leading word without spaces before ": " is such a name.
  for (auto colon = text.find(": "); colon != std::string::npos && text.find(' ') > colon; colon = text.find(": ")) {
    text.erase(0, colon + 2);
  }
  if (auto after = text.find(" (after "); after != std::string::npos && text.back() == ')') {
    text.erase(after);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == ':')) {
    text.pop_back();  // "…: broker's supported mechanisms: " with none listed
  }
  return lower_first(std::move(text));
}

}  // namespace roo::io
