"""S3 source: the records of the objects of a bucket (under a prefix), one stream per object named
``s3://BUCKET/KEY``, through boto3 (Debian's python3-boto3). UNTESTED against a server: none S3-compatible runs where
it was written (docs/connectors-shipped.md).

Params: ``--NAME-bucket B`` (required); optional ``--NAME-prefix P`` (default: every object), ``--NAME-format
framed|lines`` (default ``framed``, as the file source), ``--NAME-limit-rate R``, ``--NAME-key K``, ``--NAME-region``,
``--NAME-endpoint-url``. Objects are listed when the script starts; each is downloaded to a temporary file first.
Point of reference: the byte offset after a record in its object, as the file source: at-least-once, replayable
(as long as the object does not change). The script ends once every object has been sent and acknowledged.
"""

import os
import tempfile

from ..experimental.connector_errors import ConnectorError
from ..experimental.sources import ThrottledFileReader
from ._aws import AWS_PARAMS, AwsUnavailable, aws_client, aws_errors
from ._script import choice, number
from ._source_script import SourceFailed, run_source

PROGRAM = "s3-source"


class ObjectReader(ThrottledFileReader):
    """A downloaded object's records; its stream is named after the object, not the temporary file."""

    def __init__(self, url, path, rate, framed, key):
        ThrottledFileReader.__init__(self, path, rate, is_framed=framed, is_text_lines=not framed, key=key)
        self.name = url

    def close(self):
        ThrottledFileReader.close(self)
        if os.path.exists(self.filename):
            os.unlink(self.filename)
        try:
            os.rmdir(os.path.dirname(self.filename))  # the last object's reader removes the folder
        except OSError:
            pass


def _object_keys(s3, bucket, prefix):
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    return keys


def make_sources(settings):
    params = settings.params
    framed = choice(settings, "format", "framed", ("framed", "lines")) == "framed"
    rate = number(settings, "limit-rate", 0, float)
    key = params.key.encode("utf-8") if params.key else None
    try:
        s3 = aws_client("s3", settings)
        errors = aws_errors()
    except AwsUnavailable as e:
        raise SourceFailed(e)
    folder = tempfile.mkdtemp(prefix="roo-s3-source-")
    readers = []
    try:
        for index, name in enumerate(_object_keys(s3, params.bucket, params.prefix or "")):
            path = os.path.join(folder, str(index))
            s3.download_file(params.bucket, name, path)
            readers.append(ObjectReader("s3://{0}/{1}".format(params.bucket, name), path, rate, framed, key))
    except errors as e:
        raise SourceFailed("unable to read bucket {0}: {1}".format(params.bucket, e))
    if not readers:
        raise ConnectorError("bucket {0} has no objects under prefix {1!r}".format(params.bucket, params.prefix or ""))
    return readers


def main(argv=None):
    run_source(PROGRAM, make_sources, ["bucket"], ["prefix", "format", "limit-rate", "key"] + AWS_PARAMS, argv)


if __name__ == "__main__":
    main()
