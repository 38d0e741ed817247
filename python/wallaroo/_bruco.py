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

Without a sink, outputs are dropped (an HTTP caller still gets them): a discard sink counts them. With
`processor.stateKey` (Roo's extension), events are keyed (`key_by`) and `handle_event` runs as a state computation:
`context.key` is the event's key and `context.state` that key's dict, kept (and checkpointed) by Roo.
"""
import argparse
import collections
import importlib
import json
import logging
import os
import struct
import sys
from json.encoder import c_make_encoder, encode_basestring_ascii

import wallaroo
from wallaroo._bruco_io import HttpReplySinkConfig, HttpSourceConfig
from wallaroo._bruco_io_nats import NatsSinkConfig, NatsSourceConfig
from wallaroo._discard_sink import DiscardSinkConfig

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
    sets on it (init_context opens connections, loads models...). With processor.stateKey, `key` and `state` are the
    event's key and that key's state (a dict) during each handle_event call; None otherwise."""

    key = None
    state = None

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


JSON = "application/json"
TEXT = "text/plain; charset=utf-8"
OCTETS = "application/octet-stream"


class _JsonEncoder(object):
    """json.dumps with its defaults, without building an encoder on every call as json.dumps does (a third of its
    cost on a small dict): the same C encoder with the same arguments, so the same text and the same errors. A
    failed call can leave circular-reference markers behind, so a failure replaces the encoder. Calls from several
    threads at once (a threaded server) could only clash by encoding the very same object at the same time."""

    def __init__(self):
        self._encode = None
        self._reset()

    def _reset(self):
        if c_make_encoder is None:  # an interpreter without _json: json.dumps itself
            self._encode = None
            return
        # json.dumps's: markers (check_circular), default, ensure_ascii, indent, separators, sort_keys, skipkeys,
        # allow_nan.
        self._encode = c_make_encoder({}, json.JSONEncoder().default, encode_basestring_ascii, None, ": ", ", ",
                                      False, False, True)

    def dumps(self, value):
        if self._encode is None:
            return json.dumps(value)
        try:
            return "".join(self._encode(value, 0))
        except BaseException:
            self._reset()
            raise


_JSON_ENCODER = _JsonEncoder()


def _json_bytes(data, what):
    try:
        return _JSON_ENCODER.dumps(data).encode("utf-8")
    except (TypeError, ValueError) as error:
        raise TypeError("%s cannot be written as JSON: %s" % (what, error))


def _as_bytes(data, what):
    if data is None:
        return b""
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    if isinstance(data, str):
        return data.encode("utf-8")
    return _json_bytes(data, what)


def encoded(result):
    """Bruco's return rules (the module docstring) -> (body bytes, None for no output; content type; key). Raises
    TypeError for what cannot be encoded."""
    kind = type(result)
    if kind is dict or kind is list:  # what most handlers return: the last rule's, checked first
        return _json_bytes(result, "the handler's result"), JSON, None
    if result is None or (isinstance(result, str) and result == ""):
        return None, TEXT, None
    if isinstance(result, Response):
        key = result.key
        if key is not None and not isinstance(key, (bytes, str)):
            key = str(key)
        return _as_bytes(result.data, "the response's data"), result.content_type or JSON, key
    if isinstance(result, str):
        return result.encode("utf-8"), TEXT, None
    if isinstance(result, (bytes, bytearray, memoryview)):
        return bytes(result), OCTETS, None
    return _as_bytes(result, "the handler's result"), JSON, None


def output_of(result):
    """Bruco's return rules as an Output. Raises TypeError for what cannot be encoded."""
    body, content_type, key = encoded(result)
    return Output(body, content_type, key)


def failed_output(error):
    """The 400 Output of an event that failed for `error` (a str: said as it is; an exception: its message)."""
    return Output(("processor error: %s" % error).encode("utf-8"), status=400,
                  error=error if isinstance(error, str) else _message(error))


def _message(error):
    return "%s: %s" % (type(error).__name__, error) if str(error) else type(error).__name__


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

    def keyed(self, key, state):
        """The next call's event has `key`, whose state is `state`: the handler sees them as context.key and
        context.state."""
        context = self.context
        context.key = key
        context.state = state

    def without_key(self, data, error):
        """The 400 Output of an event that has no state key (`error` says why); logged like a handler's error."""
        if self.log_errors and data:
            self.context.logger.error("no state key for an event of %d bytes: %s", len(data), error)
        return failed_output(error)

    def __call__(self, data):
        """The Output for one event; the handler's exception becomes a 400 Output (logged, counted by the caller)."""
        if not data:
            return failed_output(ZERO_LENGTH)
        try:
            body, content_type, key = encoded(self.handle_event(self.context, data))
        except Exception as error:  # the handler's: it fails this event only
            return self._failed(data, error)
        return Output(body, content_type, key)

    def reply(self, frame):
        """The reply record for an HTTP source's frame `u64 request id | body`: what __call__ then encode_reply
        give, in one call and without the Output in between (the HTTP flow's hot path)."""
        data = frame[8:]
        if not data:
            output = failed_output(ZERO_LENGTH)
        else:
            try:
                body, content_type, _key = encoded(self.handle_event(self.context, data))
            except Exception as error:  # the handler's: it fails this event only
                output = self._failed(data, error)
            else:
                return reply_record(frame[:8], 200, content_type, body)
        return reply_record(frame[:8], output.status, output.content_type, output.body)

    def _failed(self, data, error):
        output = failed_output(error)
        if self.log_errors:
            self.context.logger.error("handle_event raised on an event of %d bytes: %s", len(data), output.error)
        return output


_LENGTH = struct.Struct(">I")
_STATUS_AND_TYPE_LENGTH = struct.Struct(">HH")


def _reply_head(status, content_type):
    kind = content_type.encode("utf-8")
    return _STATUS_AND_TYPE_LENGTH.pack(status, len(kind)) + kind


_OK_HEADS = {kind: _reply_head(200, kind) for kind in (JSON, TEXT, OCTETS)}


def reply_record(request_id, status, content_type, body):
    """`u32 BE length | request_id (8 bytes) | u16 BE status | u16 BE content-type length | content type | body`:
    what the HTTP reply sink reads (its length counts what follows it)."""
    head = _OK_HEADS.get(content_type) if status == 200 else None
    if head is None:
        head = _reply_head(status, content_type)
    body = body or b""
    return _LENGTH.pack(8 + len(head) + len(body)) + request_id + head + body


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


class StateKeyError(Exception):
    """An event has no key for processor.stateKey: that event fails, the stream goes on."""


def json_field_key(field):
    """The function giving an event's key for `processor.stateKey: json:<field>`: the field of the JSON object the
    event holds, a string as it is, any other value as its JSON text (so 7 and "7" are one key). Raises
    StateKeyError naming what is wrong."""
    where = "processor.stateKey: json:%s" % field

    def key_of(data):
        if not data:
            raise StateKeyError(ZERO_LENGTH)
        try:
            event = json.loads(data)
        except ValueError as error:
            raise StateKeyError("the event is not JSON (%s): %s" % (where, error))
        if not isinstance(event, dict):
            raise StateKeyError("the event is not a JSON object (%s)" % where)
        value = event.get(field)
        if value is None:
            raise StateKeyError(("the event's field '%s' is null (%s)" if field in event
                                 else "the event has no field '%s' (%s)") % (field, where))
        return value if isinstance(value, str) else json.dumps(value)
    return key_of


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
    p.add_argument("--bruco-state-key", default=None)  # message-key | json:<field>
    return p


def _worker_name(given):
    """The worker's name: Wallaroo's --name on the worker's command line (wallaroo._ARGS: the application's args do
    not carry the worker's own flags); a cluster's initializer, or a worker alone, is "initializer"."""
    if given:
        return given
    argv = list(wallaroo._ARGS or ())
    for at, arg in enumerate(argv):
        if arg == "--name" and at + 1 < len(argv):
            return argv[at + 1]
        if arg.startswith("--name="):
            return arg[len("--name="):]
    return "initializer"


_HANDLER = None
_SINK_PARTITION = None
_STATE_KEY = None  # json:<field>: json_field_key(field)


def application_setup(args):
    global _HANDLER, _SINK_PARTITION, _STATE_KEY
    opts, _ = _parser().parse_known_args(args)
    http = opts.bruco_source == "http"
    # An HTTP caller is told about a failed event (400); elsewhere the step fails and Roo counts and logs it.
    _HANDLER = Handler(opts.bruco_handler_folder, opts.bruco_module, _worker_name(opts.bruco_worker_name),
                       log_errors=http)
    state_key = opts.bruco_state_key
    if state_key is not None and state_key.startswith("json:"):
        _STATE_KEY = json_field_key(state_key[len("json:"):])
    if http and state_key is None and not opts.bruco_ignore_response and opts.bruco_sink == "none":
        # Answers only: one Python call per request (Handler.reply); the decoder and the encoder pass bytes on.
        source = HttpSourceConfig("bruco", opts.bruco_http_host, opts.bruco_http_port, decode_message)
        pipeline = wallaroo.source("bruco", source).to(handle_request_replying)
        return wallaroo.build_application("bruco", pipeline.to_sink(HttpReplySinkConfig("bruco", pass_reply)))
    source, steps = _source(opts, args, state_key)
    pipeline = wallaroo.source("bruco", source)
    if state_key is None:
        pipeline = pipeline.to(steps.handle)
    else:
        pipeline = pipeline.key_by(steps.key).to(steps.handle_keyed)
    sinks = [HttpReplySinkConfig("bruco", encode_reply)] if http and not opts.bruco_ignore_response else []
    if opts.bruco_sink == "kafka":
        _SINK_PARTITION = opts.bruco_kafka_sink_partition
        sinks.append(wallaroo.CustomKafkaSinkCLIParser(args, encode_record,
                                                       partitioner=opts.bruco_kafka_sink_partitioner))
    elif opts.bruco_sink == "nats":
        sinks.append(NatsSinkConfig(opts.bruco_nats_sink_url, opts.bruco_nats_sink_subject, encode_message))
    if not sinks:  # Bruco drops the outputs: Roo counts them, then drops them
        sinks.append(DiscardSinkConfig(encode_dropped))
    return wallaroo.build_application("bruco", pipeline.to_sinks(sinks))


# The steps for a source's events: `handle` (a computation), or with processor.stateKey `key` (a key extractor) and
# `handle_keyed` (a state computation).
Steps = collections.namedtuple("Steps", "key handle handle_keyed")


def _source(opts, args, state_key):
    """The source config, and the Steps for its events."""
    if opts.bruco_source == "http":
        source = HttpSourceConfig("bruco", opts.bruco_http_host, opts.bruco_http_port,
                                  decode_request if state_key is None else decode_keyed_request,
                                  ignore_response=opts.bruco_ignore_response)
        return source, Steps(request_state_key, handle_request, handle_keyed_request)
    if state_key is None:
        decoder = decode_message
    else:
        decoder = decode_message_with_key if state_key == "message-key" else decode_message_with_json_key
    steps = Steps(message_state_key, handle_message, handle_keyed_message)
    if opts.bruco_source == "nats":
        return NatsSourceConfig("bruco", opts.bruco_nats_source_url, opts.bruco_nats_source_subject, decoder,
                                queue_group=opts.bruco_nats_queue_group), steps
    topics = [t for t in opts.bruco_kafka_topics.split(",") if t]
    properties = dict(item.split("=", 1) for item in opts.bruco_kafka_property)
    return wallaroo.CustomKafkaSourceCLIParser(args, decoder, topics=topics[1:] or None, group=opts.bruco_kafka_group,
                                               start=opts.bruco_kafka_start, properties=properties or None), steps


# An HTTP request's frame is `u64 BE request id | body`; its answer `u32 BE length | u64 BE request id | u16 BE status
# | u16 BE content-type length | content type | body` (the HTTP source's contract: docs/bruco.md).

@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode_request(frame):
    return frame[:8], frame[8:]


@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode_message(frame):
    return frame


# With processor.stateKey, events carry their key: a message is `(key, data)` (an event without a key fails in the
# decoder: Roo counts and logs it, with a Kafka message's topic, partition and offset); a request is `(request id,
# key, body, error)`, its key None and `error` set when it has none, so that it still reaches its reply (400).

@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode_keyed_request(frame):
    body = frame[8:]
    try:
        return frame[:8], _STATE_KEY(body), body, None
    except StateKeyError as error:
        return frame[:8], None, body, str(error)


@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode_message_with_key(value, key):
    if key is None:
        raise StateKeyError("the message has no key (processor.stateKey: message-key)")
    return key, value


@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode_message_with_json_key(frame):
    return _STATE_KEY(frame), frame


@wallaroo.key_extractor
def request_state_key(request):
    return request[1]


@wallaroo.key_extractor
def message_state_key(message):
    return message[0]


def _handle_request(request):
    request_id, body = request
    return request_id, _HANDLER(body)


handle_request = wallaroo.computation(name="handle_event")(_handle_request)


@wallaroo.computation(name="handle_event")
def handle_request_replying(frame):
    return _HANDLER.reply(frame)


@wallaroo.encoder
def pass_reply(record):
    return record


@wallaroo.state_computation(name="handle_event", state=dict)
def handle_keyed_request(request, state):
    request_id, key, body, error = request
    if error is not None:
        return request_id, _HANDLER.without_key(body, error)
    _HANDLER.keyed(key, state)
    return request_id, _HANDLER(body)


class EventFailed(Exception):
    """handle_event raised (or broke a return rule) on a message: Roo counts and logs the failed event."""


def _handle_message(data):
    output = _HANDLER(data)
    if output.error is not None:
        raise EventFailed(output.error)
    return None if output.body is None else (None, output)


handle_message = wallaroo.computation(name="handle_event")(_handle_message)


@wallaroo.state_computation(name="handle_event", state=dict)
def handle_keyed_message(message, state):
    _HANDLER.keyed(message[0], state)
    return _handle_message(message[1])


@wallaroo.encoder
def encode_reply(result):
    request_id, output = result
    return reply_record(request_id, output.status, output.content_type, output.body)


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


@wallaroo.encoder
def encode_dropped(result):
    """No sink: each output is counted (an empty record to a discard sink), then dropped."""
    return None if _output(result) is None else b""
