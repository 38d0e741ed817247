"""Celsius over Kafka: Wallaroo's celsius-kafka example, with Roo's keyed messages and exactly-once output.

Input messages: the value is a reading in degrees Celsius (f64, big-endian), the key the sensor's name. The app
converts each reading and writes "<sensor>: <celsius> C = <fahrenheit> F" to the output topic, keyed by the sensor
(so a sensor's readings stay in one partition, in order).

Run (tools/demo-kafka does all of it, with a broker of its own):
    roo run --checkpoint-dir /tmp/ck --checkpoint-interval 1s examples/celsius_kafka/celsius_kafka.py \
        --kafka_source_topic celsius --kafka_source_brokers 127.0.0.1:9092 \
        --kafka_sink_topic fahrenheit --kafka_sink_brokers 127.0.0.1:9092
"""
import struct

import wallaroo


def application_setup(args):
    readings = wallaroo.source("Celsius", wallaroo.CustomKafkaSourceCLIParser(args, decode_reading))
    pipeline = (readings
                .to(to_fahrenheit)
                .to_sink(wallaroo.CustomKafkaSinkCLIParser(args, encode_conversion)))
    return wallaroo.build_application("Celsius to Fahrenheit over Kafka", pipeline)


@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode_reading(value, key):
    return (key.decode("utf-8") if key is not None else "?", struct.unpack(">d", value)[0])


@wallaroo.computation("to fahrenheit")
def to_fahrenheit(reading):
    sensor, celsius = reading
    return (sensor, celsius, celsius * 9.0 / 5.0 + 32.0)


@wallaroo.encoder
def encode_conversion(conversion):
    sensor = conversion[0]
    text = "%s: %.2f C = %.2f F" % conversion
    return (text.encode("utf-8"), sensor.encode("utf-8"))
