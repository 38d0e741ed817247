// ctest's Kafka fixture as a C++ test sees it: kafka_bootstrap() names a broker that accepts connections
// (KafkaBroker.*, which require the fixture), and fails the test with a clear message when there is none
// (KafkaBootstrap.*, which do not).

#include "kafka_broker.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <utility>

namespace {

namespace asio = boost::asio;

/// Sets an environment variable for one test, restoring the old value after it.
class ScopedEnvironment {
 public:
  ScopedEnvironment(std::string name, const std::string& value) : name_(std::move(name)) {
    if (const char* old = std::getenv(name_.c_str())) {
      old_ = old;
    }
    ::setenv(name_.c_str(), value.c_str(), 1);
  }
  ~ScopedEnvironment() {
    if (old_.empty()) {
      ::unsetenv(name_.c_str());
    } else {
      ::setenv(name_.c_str(), old_.c_str(), 1);
    }
  }
  ScopedEnvironment(const ScopedEnvironment&) = delete;
  ScopedEnvironment& operator=(const ScopedEnvironment&) = delete;

 private:
  std::string name_;
  std::string old_;
};

std::string failure_of_kafka_bootstrap() {
  try {
    roo::test::kafka_bootstrap();
  } catch (const std::runtime_error& error) {
    return error.what();
  }
  return "";
}

TEST(KafkaBroker, BootstrapAddressAcceptsConnections) {
  const std::string address = roo::test::kafka_bootstrap();
  ASSERT_EQ(address.rfind("127.0.0.1:", 0), 0U) << address;
  asio::io_context io;
  asio::ip::tcp::resolver resolver(io);
  asio::ip::tcp::socket socket(io);
  boost::system::error_code error;
  asio::connect(socket, resolver.resolve("127.0.0.1", address.substr(address.find(':') + 1)), error);
  EXPECT_FALSE(error) << address << ": " << error.message();
}

TEST(KafkaBootstrap, MissingFileFailsWithWhatToDo) {
  {
    ScopedEnvironment unset("ROO_KAFKA_BOOTSTRAP_FILE", "");
    EXPECT_EQ(failure_of_kafka_bootstrap(),
              "this test needs the Kafka test broker, but ROO_KAFKA_BOOTSTRAP_FILE is not set: run it through ctest "
              "(its kafka fixture starts the broker), or start one with `tools/kafka/broker start DIR PORT > FILE` "
              "and set ROO_KAFKA_BOOTSTRAP_FILE=FILE");
  }
  const std::string empty = ::testing::TempDir() + "roo_kafka_empty_bootstrap";
  std::ofstream(empty).close();
  for (const std::string& path : {empty, empty + ".missing"}) {
    ScopedEnvironment missing("ROO_KAFKA_BOOTSTRAP_FILE", path);
    EXPECT_EQ(failure_of_kafka_bootstrap(), "this test needs the Kafka test broker, but " + path +
                                                " (ROO_KAFKA_BOOTSTRAP_FILE) holds no address: did ctest's "
                                                "kafka.broker.start fail?");
  }
}

}  // namespace
