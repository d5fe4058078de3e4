#!/usr/bin/env python3
"""Merges the decisions files of several `moderate serve` instances (or
`moderate review` sessions) into one, ordered by decision time, for
`moderate train --data`.

    python3 scripts/serve/merge_decisions.py a.csv b.csv c.csv -o merged.csv
    moderate train --data ../shared/data/train.csv --data merged.csv --out new.model

Every row of every input is written, none is dropped or rewritten: the rows
are sorted by `decided_at` (RFC 3339 UTC, so text order is time order), ties
kept in input order (file order on the command line, then line order). When
one comment was decided more than once (a moderator approved it on one
instance and another rejected it on another later), `train` keeps the later
decision, because later rows replace earlier labels of the same id, and a
`-1` (undecided) never replaces a decided label.

All inputs must have the same header (the same labels in the same order).
Standard library only. Exit code 2, with the file and line, on a bad input.
"""
import argparse
import csv
import os
import sys


def fail(message):
    print(f"merge_decisions: {message}", file=sys.stderr)
    sys.exit(2)


def read(path):
    """The header and the (decided_at, file index, row) of every data row."""
    try:
        f = open(path, newline="", encoding="utf-8")
    except OSError as e:
        fail(f"{path}: {e.strerror}")
    with f:
        reader = csv.reader(f)
        try:
            header = next(reader)
        except StopIteration:
            fail(f"{path}: empty file (no header)")
        except (csv.Error, UnicodeDecodeError) as e:
            fail(f"{path}, line 1: {e}")
        if "id" not in header or "decided_at" not in header:
            fail(f"{path}, line 1: not a decisions file (no id or decided_at column): {header}")
        at = header.index("decided_at")
        rows = []
        try:
            for row in reader:
                if len(row) != len(header):
                    fail(f"{path}, line {reader.line_num}: {len(row)} fields, the header has {len(header)}")
                rows.append((row[at], row))
        except (csv.Error, UnicodeDecodeError) as e:
            fail(f"{path}, line {reader.line_num}: {e}")
    return header, rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", help="decisions files, same header")
    ap.add_argument("-o", "--out", required=True, help="merged file to write (not one of the inputs)")
    args = ap.parse_args()
    out = os.path.abspath(args.out)
    if any(os.path.abspath(p) == out for p in args.files):
        fail(f"{args.out} is also an input")
    header, merged = None, []
    for n, path in enumerate(args.files):
        h, rows = read(path)
        if header is None:
            header = h
        elif h != header:
            fail(f"{path}, line 1: header {h} differs from {args.files[0]}'s {header}")
        merged.extend((at, n, i, row) for i, (at, row) in enumerate(rows))
    merged.sort(key=lambda r: (r[0], r[1], r[2]))
    tmp = out + ".tmp"
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for *_, row in merged:
            w.writerow(row)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, out)
    ids = len({row[header.index("id")] for *_, row in merged})
    print(f"merged {len(args.files)} files: {len(merged)} rows in, {len(merged)} rows out "
          f"({ids} distinct ids) -> {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
