"""Market spread as a Roo app: market data and orders merged, keyed by symbol, state per symbol.

    roo run bench/workloads/market_spread/app.py \
        --in 'Market Data'@127.0.0.1:7010,'Orders'@127.0.0.1:7020 --out 127.0.0.1:7002
"""
import wallaroo

import logic


def application_setup(args):
    (quotes_name, quotes_host, quotes_port), (orders_name, orders_host, orders_port) = \
        wallaroo.tcp_parse_input_addrs(args)[:2]
    out_host, out_port = wallaroo.tcp_parse_output_addrs(args)[0]
    framing = wallaroo.decoder(header_length=4, length_fmt=">I")
    quotes = wallaroo.source(quotes_name, wallaroo.TCPSourceConfig(
        quotes_name, quotes_host, quotes_port, framing(logic.decode_quote)))
    orders = wallaroo.source(orders_name, wallaroo.TCPSourceConfig(
        orders_name, orders_host, orders_port, framing(logic.decode_order)))
    key = wallaroo.key_extractor(logic.symbol_of)
    check = wallaroo.state_computation("check spread", logic.SymbolState)(logic.check_spread)
    encode = wallaroo.encoder(logic.encode_notice)
    pipeline = (quotes.merge(orders)
                .key_by(key)
                .to(check)
                .to_sink(wallaroo.TCPSinkConfig(out_host, out_port, encode)))
    return wallaroo.build_application("Market Spread", pipeline)
