"""Writes expected.txt (the output reverse.py must produce) from lines.txt: each line reversed."""
import argparse
import os


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out-dir", default=here)
    opts = parser.parse_args()
    with open(os.path.join(here, "lines.txt"), encoding="utf-8") as text, \
            open(os.path.join(opts.out_dir, "expected.txt"), "w", encoding="utf-8") as expected:
        for line in text:
            expected.write("".join(reversed(line.rstrip("\n"))) + "\n")


if __name__ == "__main__":
    main()
