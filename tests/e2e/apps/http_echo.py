"""Test app: an HTTP source whose requests are answered with their body in upper case.

A body starting with "json:" is answered 201 with a JSON content type and
{"upper": "<the rest in upper case>"}; the body "pid" is answered with the worker's process
id, a body "who:<text>" with "<pid>:<TEXT>"; any other body 200 text/plain. Flags:
  --http HOST:PORT   where to serve (default 127.0.0.1:0)
  --ignore-response  answer "ok" at once
  --reply-source NAME  the source the reply sink answers for (default web: a wrong name is a config error)
  --tcp-sink HOST:PORT  end in a TCP sink instead of the reply sink (nothing answers: a config error)
  --keyed            answer through a keyed state step (requests keyed by their body's first byte)
"""
import argparse
import json
import os

import wallaroo
from wallaroo._bruco_io import (HttpReplySinkConfig, HttpSourceConfig, encode_reply,
                                split_request)


def application_setup(args):
    parser = argparse.ArgumentParser(prog="http_echo")
    parser.add_argument("--http", default="127.0.0.1:0")
    parser.add_argument("--ignore-response", action="store_true")
    parser.add_argument("--reply-source", default="web")
    parser.add_argument("--tcp-sink")
    parser.add_argument("--keyed", action="store_true")
    opts, _ = parser.parse_known_args(args)
    host, port = opts.http.rsplit(":", 1)
    source = wallaroo.source("web", HttpSourceConfig(
        "web", host, int(port), decode_request, ignore_response=opts.ignore_response,
        max_body_bytes=4096))
    if opts.tcp_sink:
        sink_host, sink_port = opts.tcp_sink.rsplit(":", 1)
        sink = wallaroo.TCPSinkConfig(sink_host, int(sink_port), encode)
    else:
        sink = HttpReplySinkConfig(opts.reply_source, encode)
    if opts.keyed:
        source = source.key_by(first_byte).to(count_first_byte)
    pipeline = source.to(upper).to_sink(sink)
    return wallaroo.build_application("HttpEcho", pipeline)


@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode_request(data):
    return split_request(data)


@wallaroo.key_extractor
def first_byte(request):
    return request[1][:1].decode("latin-1")


class Count(object):
    def __init__(self):
        self.n = 0


@wallaroo.state_computation(name="count first byte", state=Count)
def count_first_byte(request, state):
    state.n += 1
    return request


@wallaroo.computation("upper")
def upper(request):
    request_id, body = request
    text = body.decode("utf-8")
    if text == "pid":
        return (request_id, 200, "text/plain", str(os.getpid()))
    if text.startswith("who:"):
        return (request_id, 200, "text/plain", "%d:%s" % (os.getpid(), text[len("who:"):].upper()))
    if text.startswith("json:"):
        return (request_id, 201, "application/json",
                json.dumps({"upper": text[len("json:"):].upper()}))
    return (request_id, 200, "text/plain; charset=utf-8", text.upper())


@wallaroo.encoder
def encode(reply):
    request_id, status, content_type, body = reply
    return encode_reply(request_id, body, status, content_type)
