"""Bruco mode's handler contract (python/wallaroo/_bruco.py; docs/bruco.md): loading, init_context once, Bruco's
return rules, errors and zero-length events. The HTTP path end to end is tests/e2e/test_bruco.py."""
import json
import os
import struct
import sys
import textwrap

import pytest

from wallaroo import _bruco


def make_function(tmp_path, source, module="handler"):
    folder = tmp_path / "fn"
    folder.mkdir(exist_ok=True)
    (folder / ("%s.py" % module)).write_text(textwrap.dedent(source))
    sys.modules.pop(module, None)
    return str(folder)


def test_init_context_runs_once_and_the_context_lives_on(tmp_path):
    folder = make_function(tmp_path, """
        def init_context(context):
            context.calls = 0
            context.inits = getattr(context, "inits", 0) + 1

        def handle_event(context, data):
            context.calls += 1
            return "%s %d %d %s" % (context.worker_name, context.inits, context.calls, data.decode())
    """)
    handler = _bruco.Handler(folder, "handler", "w1")
    assert handler(b"a").body == b"w1 1 1 a"
    out = handler(b"b")
    assert (out.body, out.content_type, out.status) == (b"w1 1 2 b", "text/plain; charset=utf-8", 200)


@pytest.mark.parametrize("result, body, content_type, key", [
    (None, None, "text/plain; charset=utf-8", None),
    ("", None, "text/plain; charset=utf-8", None),
    ("text", b"text", "text/plain; charset=utf-8", None),
    (b"\x00raw", b"\x00raw", "application/octet-stream", None),
    ({"a": [1, 2]}, json.dumps({"a": [1, 2]}).encode(), "application/json", None),
    (42, b"42", "application/json", None),
    (_bruco.Response("k1", {"x": 1}), b'{"x": 1}', "application/json", "k1"),
    (_bruco.Response(b"k2", "plain", "text/csv"), b"plain", "text/csv", b"k2"),
    (_bruco.Response(7, b"bin", "application/x"), b"bin", "application/x", "7"),
])
def test_brucos_return_rules(result, body, content_type, key):
    out = _bruco.output_of(result)
    assert (out.body, out.content_type, out.key, out.status) == (body, content_type, key, 200)


def test_context_response_builds_a_response():
    response = _bruco.Context("w").response("k", "d", "text/plain")
    assert (response.key, response.data, response.content_type) == ("k", "d", "text/plain")
    assert _bruco.Context("w").response("k", "d").content_type == "application/json"


def test_a_raising_handler_fails_its_event_only(tmp_path, capsys):
    folder = make_function(tmp_path, """
        def handle_event(context, data):
            if data == b"bad":
                raise ValueError("no bad input")
            return data.decode().upper()
    """)
    handler = _bruco.Handler(folder, "handler", "w")
    failed = handler(b"bad")
    assert (failed.status, failed.body, failed.error) == (400, b"processor error: no bad input",
                                                          "ValueError: no bad input")
    assert handler(b"ok").body == b"OK"
    assert "handle_event raised on an event of 3 bytes: ValueError: no bad input" in capsys.readouterr().err


def test_zero_length_events_are_refused_in_brucos_words(tmp_path):
    folder = make_function(tmp_path, "def handle_event(context, data):\n    return 'never'\n")
    out = _bruco.Handler(folder, "handler", "w")(b"")
    assert (out.status, out.body) == (400, b"processor error: can't handle zero len event")


def test_a_result_that_cannot_be_json_is_a_400(tmp_path):
    folder = make_function(tmp_path, "def handle_event(context, data):\n    return object()\n")
    out = _bruco.Handler(folder, "handler", "w")(b"x")
    assert out.status == 400 and out.body.startswith(b"processor error: the handler's result cannot be written as JSON")


def test_a_missing_module_or_function_names_where_it_looked(tmp_path):
    folder = make_function(tmp_path, "x = 1\n", module="other")
    with pytest.raises(_bruco.HandlerError) as missing:
        _bruco.Handler(folder, "handler", "w")
    assert str(missing.value) == ("load the handler: no module 'handler' in %s (looked for %s.py; "
                                  "processor.moduleName)" % (folder, os.path.join(folder, "handler")))
    with pytest.raises(_bruco.HandlerError) as no_function:
        _bruco.Handler(folder, "other", "w")
    assert str(no_function.value) == ("load the handler: %s has no handle_event(context, data) function"
                                      % os.path.join(folder, "other.py"))
    with pytest.raises(_bruco.HandlerError) as no_folder:
        _bruco.Handler(str(tmp_path / "absent"), "handler", "w")
    assert "is not a folder (processor.handlerPath)" in str(no_folder.value)


@pytest.mark.parametrize("data, key", [
    (b'{"user": "ann", "x": 1}', "ann"),
    (b'{"user": 7}', "7"),
    (b'{"user": "7"}', "7"),
    (b'{"user": {"id": 1}}', '{"id": 1}'),
    ('{"user": "\u00e9"}'.encode("utf-8"), "\u00e9"),
])
def test_a_json_state_key_is_the_fields_value_as_text(data, key):
    assert _bruco.json_field_key("user")(data) == key


@pytest.mark.parametrize("data, message", [
    (b'{"name": "ann"}', "the event has no field 'user' (processor.stateKey: json:user)"),
    (b'{"user": null}', "the event's field 'user' is null (processor.stateKey: json:user)"),
    (b'[1]', "the event is not a JSON object (processor.stateKey: json:user)"),
    (b'ann', "the event is not JSON (processor.stateKey: json:user): Expecting value: line 1 column 1 (char 0)"),
    (b'', "can't handle zero len event"),
])
def test_an_event_without_a_json_state_key_says_why(data, message):
    with pytest.raises(_bruco.StateKeyError) as raised:
        _bruco.json_field_key("user")(data)
    assert str(raised.value) == message


def test_a_keyed_call_shows_the_key_and_its_state_to_the_handler(tmp_path, capsys):
    folder = make_function(tmp_path, """
        def handle_event(context, data):
            context.state["seen"] = context.state.get("seen", []) + [data.decode()]
            return {"key": context.key, "seen": context.state["seen"]}
    """)
    handler = _bruco.Handler(folder, "handler", "w1")
    assert (handler.context.key, handler.context.state) == (None, None)
    ann, bob = {}, {}
    handler.keyed("ann", ann)
    assert json.loads(handler(b"a").body) == {"key": "ann", "seen": ["a"]}
    handler.keyed("bob", bob)
    assert json.loads(handler(b"b").body) == {"key": "bob", "seen": ["b"]}
    handler.keyed("ann", ann)
    assert json.loads(handler(b"c").body) == {"key": "ann", "seen": ["a", "c"]}
    refused = handler.without_key(b"{}", "the event has no field 'user' (processor.stateKey: json:user)")
    assert (refused.status, refused.body) == (
        400, b"processor error: the event has no field 'user' (processor.stateKey: json:user)")
    assert "no state key for an event of 2 bytes: the event has no field 'user'" in capsys.readouterr().err


@pytest.mark.parametrize("value", [
    {"a": [1, 2.5, None, True], "é": "ü\n", "n": -0.0}, [float("nan"), float("inf")], "text", 7, None, [],
    {1: "int key", None: "none key", 2.5: "float key"},
])
def test_results_are_written_as_json_dumps_writes_them(value):
    assert _bruco.output_of([value]).body == json.dumps([value]).encode()
    assert _bruco.output_of({"v": value}).body == json.dumps({"v": value}).encode()


def test_a_result_that_failed_as_json_does_not_spoil_the_next_ones():
    shared = {"x": 1}
    circular = [shared]
    circular.append(circular)
    for bad, error in ((circular, "Circular reference detected"), ([shared, object()], "is not JSON serializable")):
        with pytest.raises(TypeError) as raised:
            _bruco.output_of(bad)
        assert str(raised.value).startswith("the handler's result cannot be written as JSON: ")
        assert error in str(raised.value)
        assert _bruco.output_of([shared, shared]).body == b'[{"x": 1}, {"x": 1}]'


def parse_reply(record):
    """(request id, status, content type, body) of a reply record, checking its length."""
    length, request_id, status, type_length = struct.unpack_from(">I8sHH", record)
    assert length == len(record) - 4
    return request_id, status, record[16:16 + type_length].decode(), record[16 + type_length:]


@pytest.mark.parametrize("result, status, content_type, body", [
    ({"n": 1}, 200, "application/json", b'{"n": 1}'),
    ("é", 200, "text/plain; charset=utf-8", "é".encode()),
    (None, 200, "text/plain; charset=utf-8", b""),
    (b"\x00", 200, "application/octet-stream", b"\x00"),
    (_bruco.Response("k", "<p/>", "text/html"), 200, "text/html", b"<p/>"),
    (object(), 400, "text/plain; charset=utf-8", None),
])
def test_a_reply_is_the_output_the_handler_gives_encoded_as_a_reply_record(tmp_path, result, status, content_type,
                                                                          body):
    folder = make_function(tmp_path, "def handle_event(context, data):\n    return context.result\n")
    handler = _bruco.Handler(folder, "handler", "w", log_errors=False)
    handler.context.result = result
    frame = struct.pack(">Q", 2 ** 64 - 2) + b"in"
    output = handler(b"in")
    assert parse_reply(handler.reply(frame)) == (frame[:8], status, content_type, output.body or b"")
    assert parse_reply(_bruco.encode_reply.encode((frame[:8], output))) == parse_reply(handler.reply(frame))
    if body is not None:
        assert (output.status, output.content_type, output.body or b"") == (status, content_type, body)


def test_a_reply_to_an_empty_or_failing_request_is_a_400(tmp_path):
    folder = make_function(tmp_path, "def handle_event(context, data):\n    raise KeyError('k')\n")
    handler = _bruco.Handler(folder, "handler", "w", log_errors=False)
    assert parse_reply(handler.reply(b"\x00" * 7 + b"\x01")) == (
        b"\x00" * 7 + b"\x01", 400, "text/plain; charset=utf-8", b"processor error: can't handle zero len event")
    assert parse_reply(handler.reply(b"\x00" * 8 + b"x"))[1:] == (
        400, "text/plain; charset=utf-8", b"processor error: 'k'")
