"""Test app for metrics: steps that take a known time.

Pipeline 'Timed': decoder decode (text) -> computation 'nap_2ms' (sleeps 2 ms) -> key_by first_letter ->
state computation 'tally' (sleeps 5 ms, counts per key) -> sink (encoder encode: "<text>\\n").
With --workers 2 the key_by sends about half the events to the other worker, so their start-to-end latency
spans both.
"""
import time

import wallaroo


def application_setup(args):
    name, host, port = wallaroo.tcp_parse_input_addrs(args)[0]
    out_host, out_port = wallaroo.tcp_parse_output_addrs(args)[0]
    pipeline = (wallaroo.source(name, wallaroo.TCPSourceConfig(name, host, port, decode))
                .to(nap_2ms)
                .key_by(first_letter)
                .to(tally)
                .to_sink(wallaroo.TCPSinkConfig(out_host, out_port, encode)))
    return wallaroo.build_application("Timed", pipeline)


@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode(payload):
    return payload.decode("utf-8")


@wallaroo.computation(name="nap_2ms")
def nap_2ms(text):
    time.sleep(0.002)
    return text


@wallaroo.key_extractor
def first_letter(text):
    return text[:1]


class Count(object):
    def __init__(self):
        self.n = 0


@wallaroo.state_computation(name="tally", state=Count)
def tally(text, count):
    time.sleep(0.005)
    count.n += 1
    return text


@wallaroo.encoder
def encode(text):
    return (text + "\n").encode("utf-8")
