"""Test app: a computation that never returns on some events.

Pipeline: source 'Stuck' (text frames) -> key_by (the text) -> computation 'spin' -> sink (`<text>\n`).
--stuck {spin,sleep,stubborn} picks what 'spin' does on texts starting with "stuck": `while True: pass`,
time.sleep(1000), or a busy loop that swallows every exception (even BaseException) and so never returns.
Other texts pass through.
"""
import argparse
import time

import wallaroo

MODE = None


def application_setup(args):
    parser = argparse.ArgumentParser(prog="stuck")
    parser.add_argument("--stuck", choices=["spin", "sleep", "stubborn"], required=True)
    opts, _ = parser.parse_known_args(args)
    global MODE
    MODE = opts.stuck
    name, host, port = wallaroo.tcp_parse_input_addrs(args)[0]
    out_host, out_port = wallaroo.tcp_parse_output_addrs(args)[0]
    pipeline = (wallaroo.source(name, wallaroo.TCPSourceConfig(name, host, port, decode))
                .key_by(key_of)
                .to(spin)
                .to_sink(wallaroo.TCPSinkConfig(out_host, out_port, encode)))
    return wallaroo.build_application("Stuck", pipeline)


@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode(payload):
    return payload.decode("utf-8")


@wallaroo.key_extractor
def key_of(text):
    return text


@wallaroo.computation("spin")
def spin(text):
    if text.startswith("stuck"):
        if MODE == "spin":
            while True:
                pass
        elif MODE == "sleep":
            time.sleep(1000)
        else:
            while True:
                try:
                    while True:
                        pass
                except BaseException:
                    pass
    return text


@wallaroo.encoder
def encode(text):
    return (text + "\n").encode("utf-8")
