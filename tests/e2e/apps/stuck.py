"""Test app: a computation that never returns on some events.

Pipeline: source 'Stuck' (text frames) -> key_by (the text) -> computation 'spin' -> sink (`<text>\n`).
--stuck {spin,sleep,stubborn} picks what 'spin' does on texts starting with "stuck": `while True: pass`,
time.sleep(1000), or a busy loop that swallows every exception (even BaseException) and so never returns.
Other texts pass through. With --forged-key, the key of a "stuck" text is an object whose repr holds a newline and
a would-be log line (the stuck-step warning must print it escaped).
"""
import argparse
import time

import wallaroo

MODE = None
FORGED_KEY = False


class ForgedKey:
    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return self.text + "\n2026-01-01 00:00:00.000 E roo.forged"

    def __hash__(self):
        return hash(self.text)

    def __eq__(self, other):
        return isinstance(other, ForgedKey) and other.text == self.text


def application_setup(args):
    parser = argparse.ArgumentParser(prog="stuck")
    parser.add_argument("--stuck", choices=["spin", "sleep", "stubborn"], required=True)
    parser.add_argument("--forged-key", action="store_true")
    opts, _ = parser.parse_known_args(args)
    global MODE, FORGED_KEY
    MODE = opts.stuck
    FORGED_KEY = opts.forged_key
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
    if FORGED_KEY and text.startswith("stuck"):
        return ForgedKey(text)
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
