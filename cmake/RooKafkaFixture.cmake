# The Kafka test broker as a ctest fixture (docs/kafka.md, "The test broker"). tests/kafka/CMakeLists.txt adds
# kafka.broker.start (FIXTURES_SETUP kafka: a broker in ${ROO_KAFKA_BROKER_DIR} on free ports, its address written to
# ${ROO_KAFKA_BOOTSTRAP_FILE}) and kafka.broker.stop (FIXTURES_CLEANUP kafka). A test that needs the broker requires
# the fixture, so ctest starts one broker before the first such test and stops it after the last, whatever -R/-L
# select. C++ tests read the address with roo::test::kafka_bootstrap() (tests/support/kafka_broker.hpp).
set(ROO_KAFKA_BROKER_DIR ${CMAKE_BINARY_DIR}/kafka-broker)
set(ROO_KAFKA_BOOTSTRAP_FILE ${ROO_KAFKA_BROKER_DIR}/bootstrap)
# The properties of a test that needs the broker, as gtest_discover_tests' PROPERTIES takes them.
set(ROO_KAFKA_TEST_PROPERTIES FIXTURES_REQUIRED kafka ENVIRONMENT ROO_KAFKA_BOOTSTRAP_FILE=${ROO_KAFKA_BOOTSTRAP_FILE})

# roo_needs_kafka(pytest.kafka my.test ...): tests added with add_test (in the calling directory) need the broker.
# GoogleTest suites say it with roo_add_test_suite(... KAFKA_TESTS <gtest filter>) instead.
function(roo_needs_kafka)
  foreach(test IN LISTS ARGN)
    set_property(TEST ${test} APPEND PROPERTY FIXTURES_REQUIRED kafka)
    set_property(TEST ${test} APPEND PROPERTY ENVIRONMENT ROO_KAFKA_BOOTSTRAP_FILE=${ROO_KAFKA_BOOTSTRAP_FILE})
    set_property(TEST ${test} APPEND PROPERTY LABELS kafka)
  endforeach()
endfunction()
