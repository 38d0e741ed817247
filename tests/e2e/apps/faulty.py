"""Test app: one chosen stage raises ValueError on events whose text starts with "bad".

Pipeline: source 'Faulty' (decoder decode_event) -> key_by key_of -> computation
'check' -> state computation 'tally' -> sink (encoder encode_event). The flag
--fail-in {decoder,key_by,computation,state,encoder} picks the stage that raises
`ValueError("refusing <text>")`; every other event passes through unchanged and is
written as `<text>\n`.
"""
import argparse

import wallaroo

FAIL_IN = None


def application_setup(args):
    parser = argparse.ArgumentParser(prog="faulty")
    parser.add_argument("--fail-in", required=True,
                        choices=["decoder", "key_by", "computation", "state", "encoder"])
    opts, _ = parser.parse_known_args(args)
    global FAIL_IN
    FAIL_IN = opts.fail_in
    name, host, port = wallaroo.tcp_parse_input_addrs(args)[0]
    out_host, out_port = wallaroo.tcp_parse_output_addrs(args)[0]
    pipeline = (wallaroo.source(name, wallaroo.TCPSourceConfig(name, host, port, decode_event))
                .key_by(key_of)
                .to(check)
                .to(tally)
                .to_sink(wallaroo.TCPSinkConfig(out_host, out_port, encode_event)))
    return wallaroo.build_application("Faulty", pipeline)


def maybe_fail(stage, text):
    if FAIL_IN == stage and text.startswith("bad"):
        raise ValueError("refusing %s" % text)


class Seen(object):
    def __init__(self):
        self.count = 0


@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode_event(payload):
    text = payload.decode("utf-8")
    maybe_fail("decoder", text)
    return text


@wallaroo.key_extractor
def key_of(text):
    maybe_fail("key_by", text)
    return text[-1:]


@wallaroo.computation("check")
def check(text):
    maybe_fail("computation", text)
    return text


@wallaroo.state_computation("tally", Seen)
def tally(text, seen):
    maybe_fail("state", text)
    seen.count += 1
    return text


@wallaroo.encoder
def encode_event(text):
    maybe_fail("encoder", text)
    return (text + "\n").encode("utf-8")
