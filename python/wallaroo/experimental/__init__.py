"""``wallaroo.experimental``: Wallaroo's connector API (spec §1.4), with Wallaroo's names and signatures.

* Codec decorators: ``stream_message_encoder``/``stream_message_decoder``, ``octet_message_encoder``/
  ``octet_message_decoder``.
* Configs: ``SourceConnectorConfig``, ``SinkConnectorConfig`` (an app that uses them is described, but the runtime
  does not run connector sources and sinks yet: ``roo run`` refuses such an app with one line).
* Connector clients (the processes that feed a connector source or read a connector sink):
  ``AtLeastOnceSourceConnector``, ``MultiSourceConnector``, ``SourceConnector`` (disabled, as in Wallaroo),
  ``SinkConnector``, the sources ``BaseSource``, ``FramedFileReader``, ``ThrottledFileReader``,
  ``parse_connector_args`` and the wire messages (``connector_wire_messages``, also importable as ``cwm``).

See docs/python-api.md.
"""

from . import connector_wire_messages
from . import connector_wire_messages as cwm
from .codecs import (octet_message_decoder, octet_message_encoder, stream_message_decoder,
                     stream_message_encoder)
from .connector_args import parse_connector_args
from .connector_configs import SinkConnectorConfig, SourceConnectorConfig
from .connector_errors import ConnectorError, ProtocolError
from .sink_connector import SinkConnector
from .source_connectors import (AtLeastOnceSourceConnector, MultiSourceConnector, SourceConnector,
                                Stream)
from .sources import BaseSource, FramedFileReader, ThrottledFileReader
