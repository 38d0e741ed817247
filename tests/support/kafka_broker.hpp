#pragma once

// The address of the Kafka test broker that ctest's `kafka` fixture starts (cmake/RooKafkaFixture.cmake;
// docs/kafka.md, "The test broker"), for the GoogleTests a suite names in
// roo_add_test_suite(... KAFKA_TESTS "<gtest filter>").

#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>

namespace roo::test {

/// "127.0.0.1:PORT" of the test broker: the first line of the file named by ROO_KAFKA_BOOTSTRAP_FILE. Throws when the
/// variable, the file or the address is missing, which fails the calling test with the message: a test that needs
/// Kafka never skips. Call it from a test body or SetUp (GoogleTest turns the exception into the test's failure).
inline std::string kafka_bootstrap() {
  const char* path = std::getenv("ROO_KAFKA_BOOTSTRAP_FILE");
  if (path == nullptr || *path == '\0') {
    throw std::runtime_error(
        "this test needs the Kafka test broker, but ROO_KAFKA_BOOTSTRAP_FILE is not set: run it through ctest (its "
        "kafka fixture starts the broker), or start one with `tools/kafka/broker start DIR PORT > FILE` and set "
        "ROO_KAFKA_BOOTSTRAP_FILE=FILE");
  }
  std::ifstream file(path);
  std::string address;
  if (!file || !std::getline(file, address) || address.empty()) {
    throw std::runtime_error(std::string("this test needs the Kafka test broker, but ") + path +
                             " (ROO_KAFKA_BOOTSTRAP_FILE) holds no address: did ctest's kafka.broker.start fail?");
  }
  return address;
}

}  // namespace roo::test
