"""Kinesis sink: puts every message as one record of a Kinesis data stream, through boto3 (Debian's
python3-boto3). UNTESTED against a server: none Kinesis-compatible runs where it was written
(docs/connectors-shipped.md).

Params: ``--NAME-stream S`` (required); optional ``--NAME-partition-key K`` (default ``roo``: every record in one
shard, in order), ``--NAME-region``, ``--NAME-endpoint-url``. Records are sent in PutRecords batches (at most 500)
whenever the worker has sent everything queued and before each commit vote; records Kinesis refuses in a batch are
sent again (up to 5 times), then the sink stops with one line. At-least-once with a worker that runs two-phase-commit
rounds.
"""

from ._aws import AWS_PARAMS, AwsUnavailable, aws_client, aws_errors
from ._sink_script import Sink, SinkFailed, as_bytes, run_sink

PROGRAM = "kinesis-sink"
MAX_BATCH = 500
ATTEMPTS = 5


class StreamSink(Sink):
    def __init__(self, kinesis, stream, partition_key):
        self.kinesis = kinesis
        self.errors = aws_errors()
        self.stream = stream
        self.partition_key = partition_key
        self.pending = []

    def write(self, value):
        self.pending.append({"Data": as_bytes(value, PROGRAM), "PartitionKey": self.partition_key})
        if len(self.pending) >= MAX_BATCH:
            self.flush()

    def flush(self):
        while self.pending:
            batch, self.pending = self.pending[:MAX_BATCH], self.pending[MAX_BATCH:]
            self._put(batch)

    def _put(self, batch):
        for _ in range(ATTEMPTS):
            try:
                answer = self.kinesis.put_records(StreamName=self.stream, Records=batch)
            except self.errors as e:
                raise SinkFailed("unable to put records to {0}: {1}".format(self.stream, e))
            batch = [record for record, result in zip(batch, answer["Records"]) if "ErrorCode" in result]
            if not batch:
                return
        raise SinkFailed("Kinesis stream {0} refused {1} records {2} times".format(self.stream, len(batch), ATTEMPTS))


def make_sink(settings):
    try:
        kinesis = aws_client("kinesis", settings)
    except AwsUnavailable as e:
        raise SinkFailed(e)
    return StreamSink(kinesis, settings.params.stream, settings.params.partition_key or "roo")


def main(argv=None):
    run_sink(PROGRAM, make_sink, ["stream"], ["partition-key"] + AWS_PARAMS, argv)


if __name__ == "__main__":
    main()
