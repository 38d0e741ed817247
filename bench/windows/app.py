"""The windowed workload as a Roo app: two sources (the same events sent to each), event time from the data.

    roo run bench/windows/app.py --in 'Counts'@127.0.0.1:7010,'Sums'@127.0.0.1:7020 --out 127.0.0.1:7002

    Counts: decode -> with_event_time(logic.event_time) -> key_by key -> range_windows(1 s).over(Count)
    Sums:   decode -> with_event_time(logic.event_time) -> key_by key
                   -> range_windows(10 s).with_slide(1 s).over(Sum)
    merged -> TCP sink (logic.encode_output: `c|s KEY WINDOW_END_NS VALUE` lines)

A Wallaroo pipeline is a tree that ends in one sink and cannot branch, so the two aggregations read two sources
and the harness sends every event to both (Roo decodes each event twice; the ceiling and Bytewax once). Each
window stage's watermark is its own source's largest event time (one TCP connection each). Idleness is 60 s, not
the default 2 s: a replay runs far ahead of its event time, and while the worker is still busy with one source's
backlog the other source's connection, done sending, must not count as idle (its watermark would then advance by the
wall clock and fire windows ending after the last event, which the harness does not wait for).
"""
import wallaroo

import logic

IDLENESS = wallaroo.seconds(60)


def application_setup(args):
    (c_name, c_host, c_port), (s_name, s_host, s_port) = wallaroo.tcp_parse_input_addrs(args)[:2]
    out_host, out_port = wallaroo.tcp_parse_output_addrs(args)[0]
    decode = wallaroo.decoder(header_length=4, length_fmt=">I")(logic.decode)
    key = wallaroo.key_extractor(logic.key_of)
    counts = (wallaroo.source(c_name, wallaroo.TCPSourceConfig(c_name, c_host, c_port, decode))
              .with_event_time(logic.event_time, idleness=IDLENESS)
              .key_by(key)
              .to(wallaroo.range_windows(wallaroo.seconds(1)).over(logic.Count)))
    sums = (wallaroo.source(s_name, wallaroo.TCPSourceConfig(s_name, s_host, s_port, decode))
            .with_event_time(logic.event_time, idleness=IDLENESS)
            .key_by(key)
            .to(wallaroo.range_windows(wallaroo.seconds(10)).with_slide(wallaroo.seconds(1)).over(logic.Sum)))
    pipeline = counts.merge(sums).to_sink(wallaroo.TCPSinkConfig(out_host, out_port,
                                                                 wallaroo.encoder(logic.encode_output)))
    return wallaroo.build_application("Windows", pipeline)
