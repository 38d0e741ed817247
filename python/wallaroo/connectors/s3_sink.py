"""S3 sink: collects messages and writes them as new objects of a bucket, through boto3 (Debian's python3-boto3).
UNTESTED against a server: none S3-compatible runs where it was written (docs/connectors-shipped.md).

Params: ``--NAME-bucket B`` (required); optional ``--NAME-prefix P`` (object names are
``P<UTC time>-<pid>-<n>``; default none), ``--NAME-format raw|framed|lines`` (as the file sink; default ``raw``),
``--NAME-max-bytes N`` (write an object once this much is collected; default 8 MiB), ``--NAME-region``,
``--NAME-endpoint-url``. An object is written on each two-phase-commit PHASE1 (before the commit vote), when
``max-bytes`` is reached, and when the sink stops: at-least-once with a worker that runs those rounds; without them
what was collected when the sink died is lost.
"""

import os
import struct
import time

from ._aws import AWS_PARAMS, AwsUnavailable, aws_client, aws_errors
from ._script import choice, number
from ._sink_script import Sink, SinkFailed, as_bytes, run_sink

PROGRAM = "s3-sink"
DEFAULT_MAX_BYTES = 8 * 1024 * 1024


class ObjectSink(Sink):
    def __init__(self, s3, bucket, prefix, fmt, max_bytes):
        self.s3 = s3
        self.errors = aws_errors()
        self.bucket = bucket
        self.prefix = prefix
        self.fmt = fmt
        self.max_bytes = max_bytes
        self.collected = bytearray()
        self.objects = 0

    def write(self, value):
        data = as_bytes(value, PROGRAM)
        if self.fmt == "framed":
            data = struct.pack(">I", len(data)) + data
        elif self.fmt == "lines":
            data += b"\n"
        self.collected.extend(data)
        if len(self.collected) >= self.max_bytes:
            self.commit()

    def commit(self):
        if not self.collected:
            return
        self.objects += 1
        name = "{0}{1}-{2}-{3}".format(self.prefix, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()), os.getpid(),
                                       self.objects)
        try:
            self.s3.put_object(Bucket=self.bucket, Key=name, Body=bytes(self.collected))
        except self.errors as e:
            raise SinkFailed("unable to write s3://{0}/{1}: {2}".format(self.bucket, name, e))
        self.collected = bytearray()

    def close(self):
        self.commit()


def make_sink(settings):
    try:
        s3 = aws_client("s3", settings)
    except AwsUnavailable as e:
        raise SinkFailed(e)
    params = settings.params
    return ObjectSink(s3, params.bucket, params.prefix or "", choice(settings, "format", "raw",
                                                                      ("raw", "framed", "lines")),
                      number(settings, "max-bytes", DEFAULT_MAX_BYTES))


def main(argv=None):
    run_sink(PROGRAM, make_sink, ["bucket"], ["prefix", "format", "max-bytes"] + AWS_PARAMS, argv)


if __name__ == "__main__":
    main()
