"""Writes celsius.msg (the input) and expected.txt (the output celsius.py must produce).

celsius.msg holds 12-byte records ready for `roo send --binary --msg-size 12`:
u32 BE 8 | f64 BE degrees Celsius, from -40.0 to 59.75 in steps of 0.25.
expected.txt holds the payload of each output frame, one per line.
"""
import argparse
import os
import struct


def readings():
    return [-40.0 + 0.25 * i for i in range(400)]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out-dir", default=here)
    opts = parser.parse_args()
    with open(os.path.join(opts.out_dir, "celsius.msg"), "wb") as data, \
            open(os.path.join(opts.out_dir, "expected.txt"), "w") as expected:
        for celsius in readings():
            data.write(struct.pack(">Id", 8, celsius))
            expected.write("%.2f C = %.2f F\n" % (celsius, celsius * 9.0 / 5.0 + 32.0))


if __name__ == "__main__":
    main()
