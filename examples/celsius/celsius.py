"""Celsius: convert binary temperature readings to Fahrenheit.

Input frames are `u32 BE length (8) | f64 BE degrees Celsius`. One stateless
computation converts each reading; the encoder writes a *framed* record
`u32 BE length | ASCII text "<celsius> C = <fahrenheit> F"` (both with two decimals),
so `roo receive --framed` prints one conversion per line.

Run (see README.md):
    roo run examples/celsius/celsius.py --in 'Celsius'@127.0.0.1:7010 --out 127.0.0.1:7002
"""
import struct

import wallaroo


def application_setup(args):
    source_name, in_host, in_port = wallaroo.tcp_parse_input_addrs(args)[0]
    out_host, out_port = wallaroo.tcp_parse_output_addrs(args)[0]

    readings = wallaroo.source(
        source_name,
        wallaroo.TCPSourceConfig(source_name, in_host, in_port, decode_celsius))
    pipeline = (readings
                .to(to_fahrenheit)
                .to_sink(wallaroo.TCPSinkConfig(out_host, out_port, encode_conversion)))
    return wallaroo.build_application("Celsius to Fahrenheit", pipeline)


@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode_celsius(payload):
    return struct.unpack(">d", payload)[0]


@wallaroo.computation("to fahrenheit")
def to_fahrenheit(celsius):
    return (celsius, celsius * 9.0 / 5.0 + 32.0)


@wallaroo.encoder
def encode_conversion(conversion):
    text = ("%.2f C = %.2f F" % conversion).encode("ascii")
    return struct.pack(">I", len(text)) + text
