"""``wallaroo.connectors``: the connector scripts Roo ships (docs/connectors-shipped.md).

Each module is a script: ``python3 -m wallaroo.connectors.<name> --application-module APP --connector NAME
--NAME-<param> VALUE ...`` or ``roo connector <name> ...`` (``-`` in a name stands for ``_``). It imports APP, calls
its ``application_setup(argv)`` and takes the worker's address and cookie from the ``SourceConnectorConfig`` or
``SinkConnectorConfig`` named NAME.

Sources (feed a connector source over the at-least-once protocol, spec §3.3): ``file_source``, ``udp_source``,
``kafka_source``, ``redis_source``, ``postgres_source``, ``rabbitmq_source``, ``s3_source``.
Sinks (a worker's connector sink connects to them): ``file_sink``, ``udp_sink``, ``kafka_sink``, ``redis_sink``,
``postgres_sink``, ``s3_sink``, ``kinesis_sink``, and the two-phase-commit ``transactional_file_sink``.
The S3 and Kinesis ones are untested against a real service (docs/connectors-shipped.md).

Modules whose names start with ``_`` are the shared machinery, not connectors. Nothing here imports a client library
until its connector runs, so ``import wallaroo.connectors`` needs only the standard library.
"""
