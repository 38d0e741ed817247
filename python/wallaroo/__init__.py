"""Roo's ``wallaroo`` package: Wallaroo's Python API, pure Python, stdlib only.

Supports the three API generations: G2 (``wallaroo.source(...)`` pipelines and
``build_application``), G1 (``ApplicationBuilder`` with decorators) and G0
(``ApplicationBuilder`` with user classes). The Roo runtime sets ``_ARGS``,
calls the app's ``application_setup(args)`` and passes the result to
``wallaroo.description.describe``. See docs/python-api.md.
"""

import sys

from .application_builder import ApplicationBuilder, StateBuilder
from .cli_args import (kafka_parse_sink_options, kafka_parse_source_options,
                       tcp_parse_input_addrs, tcp_parse_output_addrs)
from .configs import (CustomKafkaSinkCLIParser, CustomKafkaSourceCLIParser,
                      DefaultKafkaSinkCLIParser, DefaultKafkaSourceCLIParser,
                      GenSourceConfig, KafkaSinkConfig, KafkaSourceConfig,
                      TCPSinkConfig, TCPSourceConfig)
from .decorators import (computation, computation_multi, decoder, encoder,
                         key_extractor, partition, state_computation,
                         state_computation_multi)
from .durations import (hours, microseconds, milliseconds, minutes, nanoseconds,
                        seconds)
from .errors import WallarooParameterError
from .pipeline import Pipeline, build_application, source
from .serialization import deserialize, serialize
from .windows import (Aggregation, CountWindows, CountWindowsBuilder, RangeWindows,
                      RangeWindowsBuilder, SessionWindows, SessionWindowsBuilder, count_windows,
                      range_windows, session_windows)
from .wrapped import (BaseWrapped, Computation, ComputationMulti, ConnectorDecoder,
                      ConnectorEncoder, Decoder, Encoder, KeyExtractor, OctetDecoder,
                      OctetEncoder, OctetMessageDecoder, OctetMessageEncoder,
                      PartitionFunction, StateComputation, StateComputationMulti)

# The full process argv as a tuple; set by the runtime before application_setup.
_ARGS = None


def _line_buffer_streams():
    """Make stdout/stderr flush per line when they are not TTYs (prompt logs)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None and not stream.isatty():
                stream.reconfigure(line_buffering=True)
        except Exception:  # replaced streams may lack isatty/reconfigure
            pass


_line_buffer_streams()
