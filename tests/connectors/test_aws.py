"""The S3 and Kinesis connectors (wallaroo.connectors.s3_source/s3_sink/kinesis_sink). No S3- or Kinesis-compatible
server runs here, so only what they do when the service cannot be reached is tested: one line naming it (and for a
sink, ERROR to the worker first). Their work against a real service is untested (docs/connectors-shipped.md)."""
import os

import pytest

from protocol_worker import SinkPeer
from wallaroo.experimental import cwm

from loopback_ports import free_port

pytest.importorskip("boto3", reason="boto3 is not installed (Debian: python3-boto3)")


@pytest.fixture
def unreachable_aws(monkeypatch):
    """An endpoint nothing listens on, credentials that need no file, and no retries."""
    for name, value in (("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test"), ("AWS_MAX_ATTEMPTS", "1"),
                        ("AWS_CONFIG_FILE", os.devnull), ("AWS_SHARED_CREDENTIALS_FILE", os.devnull)):
        monkeypatch.setenv(name, value)
    return "http://127.0.0.1:%d" % free_port()


def test_s3_source_that_cannot_reach_the_service_says_so(unreachable_aws, connector_app, start_connector):
    connector = start_connector("s3_source", connector_app(), "--in-bucket", "data", "--in-endpoint-url",
                                unreachable_aws)
    assert connector.wait(60) == 1
    assert connector.stderr() == ('s3-source: unable to read bucket data: Could not connect to the endpoint URL: '
                                  '"%s/data?list-type=2&prefix=&encoding-type=url"\n' % unreachable_aws)


@pytest.mark.parametrize("name,params,error", [
    ("s3_sink", ["--out-bucket", "data", "--out-prefix", "p/"], "unable to write s3://data/p/"),
    ("kinesis_sink", ["--out-stream", "events"], "unable to put records to events: Could not connect to the "
                                                 "endpoint URL: "),
])
def test_a_sink_that_cannot_reach_the_service_tells_the_worker(unreachable_aws, connector_app, start_connector, name,
                                                              params, error):
    port = free_port()
    sink = start_connector(name, connector_app(sink_port=port), *(params + ["--out-endpoint-url", unreachable_aws]))
    peer = SinkPeer(port)
    peer.open_stream()
    peer.send(b"record")
    if name == "s3_sink":  # S3 writes an object at PHASE1; Kinesis puts records as soon as it has read them all
        peer.send_frame(cwm.Message(0, 0, 0, None, b"\xcb\x00\x03t:1\x00\x00\x00\x00"))
    reply = peer.read()
    assert isinstance(reply, cwm.Error) and reply.message.startswith(error), reply
    assert sink.wait(60) == 1
    assert sink.stderr() == "%s: %s\n" % (name.replace("_", "-"), reply.message)
