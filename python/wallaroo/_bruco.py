"""Bruco mode (docs/bruco.md): a Bruco function -- `handle_event(context, data)` in a handler module, described by a
`config.yaml` -- run as a Roo pipeline: source -> the handler -> sink(s).

`roo run config.yaml` reads and checks the config (in C++, with yaml-cpp), prepares the environment and the
requirements, then runs this module as the application with `--bruco-*` flags saying what the config said. This
module loads the handler, calls `init_context(context)` once per worker, and applies Bruco's return rules:

- None or "": no output (an HTTP caller gets 200 with an empty body);
- a str: the output as is (text/plain);
- `context.response(key, data, content_type)`: an output with a key (a Kafka sink's message key) and a content
  type (the HTTP answer's);
- bytes: as they are (application/octet-stream);
- anything else: its JSON encoding (application/json).

A handler that raises fails only its event: an HTTP caller gets 400 `processor error: <message>`; for other sources
the event is counted and logged, and the stream goes on. A zero-length event is refused with Bruco's words,
`can't handle zero len event`.
"""
import argparse
import importlib
import json
import logging
import os
import struct
import sys

import wallaroo

ZERO_LENGTH = "can't handle zero len event"


class Response(object):
    """What `context.response(key, data, content_type)` returns, and a handler may return."""

    __slots__ = ("key", "data", "content_type")

    def __init__(self, key, data, content_type="application/json"):
        self.key, self.data, self.content_type = key, data, content_type

    def __repr__(self):
        return "Response(key=%r, content_type=%r, data=%r)" % (self.key, self.content_type, self.data)


class Context(object):
    """One per worker, for the worker's life: `logger`, `worker_name`, `response(...)`, and whatever the handler
    sets on it (init_context opens connections, loads models...)."""

    def __init__(self, worker_name):
        self.worker_name = worker_name
        self.logger = _logger(worker_name)

    @staticmethod
    def response(key, data, content_type="application/json"):
        return Response(key, data, content_type)


class _Stderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a line is logged (the worker's log; a test's capture)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


def _logger(worker_name):
    logger = logging.getLogger("bruco.%s" % worker_name)
    if not logger.handlers:
        handler = _Stderr()
        handler.setFormatter(logging.Formatter("%(asctime)s " + worker_name + " bruco: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


class HandlerError(Exception):
    """The function package is not usable: one line saying what and where."""


class Output(object):
    """One event's result, after the return rules: `body` (bytes) is None when there is no output."""

    __slots__ = ("body", "content_type", "key", "status", "error")

    def __init__(self, body=None, content_type="text/plain; charset=utf-8", key=None, status=200, error=None):
        self.body, self.content_type, self.key, self.status, self.error = body, content_type, key, status, error


def _as_bytes(data, what):
    if data is None:
        return b""
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    if isinstance(data, str):
        return data.encode("utf-8")
    try:
        return json.dumps(data).encode("utf-8")
    except (TypeError, ValueError) as error:
        raise TypeError("%s cannot be written as JSON: %s" % (what, error))


def output_of(result):
    """Bruco's return rules (the module docstring). Raises TypeError for what cannot be encoded."""
    if result is None or (isinstance(result, str) and result == ""):
        return Output()
    if isinstance(result, Response):
        key = result.key
        if key is not None and not isinstance(key, (bytes, str)):
            key = str(key)
        return Output(_as_bytes(result.data, "the response's data"), result.content_type or "application/json",
                      key)
    if isinstance(result, str):
        return Output(result.encode("utf-8"), "text/plain; charset=utf-8")
    if isinstance(result, (bytes, bytearray, memoryview)):
        return Output(bytes(result), "application/octet-stream")
    return Output(_as_bytes(result, "the handler's result"), "application/json")


class Handler(object):
    """The function: its module, its context, and the rules around each call."""

    def __init__(self, folder, module_name, worker_name, log_errors=True):
        self.context = Context(worker_name)
        self.log_errors = log_errors
        self.module = load_module(folder, module_name)
        self.handle_event = getattr(self.module, "handle_event", None)
        if not callable(self.handle_event):
            raise HandlerError("load the handler: %s has no handle_event(context, data) function"
                               % _module_file(self.module))
        init = getattr(self.module, "init_context", None)
        if init is not None:
            if not callable(init):
                raise HandlerError("load the handler: init_context in %s is not a function" % _module_file(self.module))
            init(self.context)

    def __call__(self, data):
        """The Output for one event; the handler's exception becomes a 400 Output (logged, counted by the caller)."""
        if not data:
            return Output(("processor error: " + ZERO_LENGTH).encode("utf-8"), status=400, error=ZERO_LENGTH)
        try:
            return output_of(self.handle_event(self.context, data))
        except Exception as error:  # the handler's: it fails this event only
            message = "%s: %s" % (type(error).__name__, error) if str(error) else type(error).__name__
            if self.log_errors:
                self.context.logger.error("handle_event raised on an event of %d bytes: %s", len(data), message)
            return Output(("processor error: %s" % error).encode("utf-8"), status=400, error=message)


def _module_file(module):
    return getattr(module, "__file__", None) or module.__name__


def load_module(folder, module_name):
    """Imports `module_name` from `folder` (put first on sys.path); HandlerError names the path it looked in."""
    folder = os.path.abspath(folder)
    if not os.path.isdir(folder):
        raise HandlerError("load the handler: %s is not a folder (processor.handlerPath)" % folder)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    candidate = os.path.join(folder, module_name.replace(".", os.sep))
    if not (os.path.isfile(candidate + ".py") or os.path.isdir(candidate)):
        raise HandlerError("load the handler: no module '%s' in %s (looked for %s.py; processor.moduleName)"
                           % (module_name, folder, candidate))
    return importlib.import_module(module_name)


# ---------------------------------------------------------------------------------------------------- the pipeline

def _parser():
    p = argparse.ArgumentParser(prog="roo run config.yaml", add_help=False)
    p.add_argument("--bruco-handler-folder", required=True)
    p.add_argument("--bruco-module", default="handler")
    p.add_argument("--bruco-worker-name", default=None)
    p.add_argument("--bruco-source", required=True, choices=("http", "kafka", "nats"))
    p.add_argument("--bruco-http-host", default="0.0.0.0")
    p.add_argument("--bruco-http-port", type=int, default=8080)
    p.add_argument("--bruco-ignore-response", action="store_true")
    p.add_argument("--bruco-kafka-topics", default="")  # comma-separated
    p.add_argument("--bruco-kafka-group", default=None)
    p.add_argument("--bruco-kafka-start", default="latest", choices=("latest", "earliest"))
    p.add_argument("--bruco-kafka-property", action="append", default=[])  # key=value (librdkafka)
    p.add_argument("--bruco-nats-source-url", default=None)
    p.add_argument("--bruco-nats-source-subject", default=None)
    p.add_argument("--bruco-nats-queue-group", default=None)
    p.add_argument("--bruco-sink", default="none", choices=("none", "kafka", "nats"))
    p.add_argument("--bruco-kafka-sink-partition", type=int, default=None)
    p.add_argument("--bruco-kafka-sink-partitioner", default=None)
    p.add_argument("--bruco-nats-sink-url", default=None)
    p.add_argument("--bruco-nats-sink-subject", default=None)
    return p


def _worker_name(args, given):
    if given:
        return given
    if "--name" in args:
        at = args.index("--name")
        if at + 1 < len(args):
            return args[at + 1]
    return "initializer"


_HANDLER = None
_SINK_PARTITION = None


def application_setup(args):
    global _HANDLER, _SINK_PARTITION
    opts, _ = _parser().parse_known_args(args)
    http = opts.bruco_source == "http"
    # An HTTP caller is told about a failed event (400); elsewhere the step fails and Roo counts and logs it.
    _HANDLER = Handler(opts.bruco_handler_folder, opts.bruco_module, _worker_name(args, opts.bruco_worker_name),
                       log_errors=http)
    if http:
        from wallaroo._bruco_io import HttpReplySinkConfig, HttpSourceConfig
        source = HttpSourceConfig("bruco", opts.bruco_http_host, opts.bruco_http_port, decode_request,
                                  ignore_response=opts.bruco_ignore_response)
        pipeline = wallaroo.source("bruco", source).to(handle_request)
        sinks = [HttpReplySinkConfig("bruco", encode_reply)]
    elif opts.bruco_source == "nats":
        from wallaroo._bruco_io_nats import NatsSourceConfig
        source = NatsSourceConfig("bruco", opts.bruco_nats_source_url, opts.bruco_nats_source_subject, decode_message,
                                  queue_group=opts.bruco_nats_queue_group)
        pipeline = wallaroo.source("bruco", source).to(handle_message)
        sinks = []
    else:
        topics = [t for t in opts.bruco_kafka_topics.split(",") if t]
        properties = dict(item.split("=", 1) for item in opts.bruco_kafka_property)
        source = wallaroo.CustomKafkaSourceCLIParser(args, decode_message, topics=topics[1:] or None,
                                                     group=opts.bruco_kafka_group, start=opts.bruco_kafka_start,
                                                     properties=properties or None)
        pipeline = wallaroo.source("bruco", source).to(handle_message)
        sinks = []
    if opts.bruco_sink == "kafka":
        _SINK_PARTITION = opts.bruco_kafka_sink_partition
        sinks.append(wallaroo.CustomKafkaSinkCLIParser(args, encode_record,
                                                       partitioner=opts.bruco_kafka_sink_partitioner))
    elif opts.bruco_sink == "nats":
        from wallaroo._bruco_io_nats import NatsSinkConfig
        sinks.append(NatsSinkConfig(opts.bruco_nats_sink_url, opts.bruco_nats_sink_subject, encode_message))
    if not sinks:  # roo run refuses this before (docs/bruco.md)
        raise HandlerError("run the function: a %s source needs a sink in Roo's Bruco mode" % opts.bruco_source)
    return wallaroo.build_application("bruco", pipeline.to_sinks(sinks))


# An HTTP request's frame is `u64 BE request id | body`; its answer `u32 BE length | u64 BE request id | u16 BE status
# | u16 BE content-type length | content type | body` (the HTTP source's contract: docs/bruco.md).

@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode_request(frame):
    return frame[:8], frame[8:]


@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode_message(frame):
    return frame


@wallaroo.computation(name="handle_event")
def handle_request(request):
    request_id, body = request
    return request_id, _HANDLER(body)


class EventFailed(Exception):
    """handle_event raised (or broke a return rule) on a message: Roo counts and logs the failed event."""


@wallaroo.computation(name="handle_event")
def handle_message(data):
    output = _HANDLER(data)
    if output.error is not None:
        raise EventFailed(output.error)
    return None if output.body is None else (None, output)


@wallaroo.encoder
def encode_reply(result):
    request_id, output = result
    content_type = output.content_type.encode("utf-8")
    body = output.body or b""
    rest = request_id + struct.pack(">HH", output.status, len(content_type)) + content_type + body
    return struct.pack(">I", len(rest)) + rest


def _output(result):
    output = result[1]
    return None if output.body is None or output.status != 200 else output


@wallaroo.encoder
def encode_record(result):
    output = _output(result)
    if output is None:
        return None
    key = output.key.encode("utf-8") if isinstance(output.key, str) else output.key
    return output.body, key, _SINK_PARTITION


@wallaroo.encoder
def encode_message(result):
    output = _output(result)
    return None if output is None else output.body
