#!/usr/bin/env python3
"""What `moderate` does with hostile input: a table for the README.

Writes each hostile file of issue 5 into a scratch directory, runs the real
binary on it (once stopping at the first bad record, the default, and once with
`--skip-bad`), and prints a markdown table: exit code, the first line of the
message, and the counts (records read = scored + rejected; output lines).
`tests/hostile.rs` asserts the same behaviour; this script shows it.

Usage (from the repository root, after `cargo build --release`):
  python3 scripts/robustness/hostile_inputs.py [--moderate PATH] [--dir DIR]
"""
from __future__ import annotations

import argparse
import random
import re
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def cases(rng: random.Random) -> list[tuple[str, str, bytes, str]]:
    """(description, file name, bytes, command) per hostile input."""
    words = b"the minister said the ceasefire would hold until spring "
    fifty_mb = (words * (50 * 1024 * 1024 // len(words) + 1))[: 50 * 1024 * 1024]
    junk = bytes(rng.randrange(256) for _ in range(1 << 20))
    return [
        ("invalid UTF-8 in a CSV text field", "utf8.csv",
         b"id,text\n1,fine\n2,bad \xff\xfe bytes\n3,also fine\n", "score"),
        ("invalid UTF-8 line in a text file", "utf8.txt",
         b"fine\nbad \xc3\x28 bytes\nalso fine\n", "score"),
        ("NUL bytes inside a comment", "nul.csv",
         b"id,text\n1,you \x00idiot\x00\n2,plain\n", "score"),
        ("a 50 MB single line", "huge.txt", fifty_mb + b"\nshort one\n", "score"),
        ("unbalanced CSV quote", "quotes.csv",
         b"id,text\n1,ok\n2,\"never closed\n3,more\n4,fine\n", "score"),
        ("missing `text` column", "nocol.csv", b"id,body\n1,hi\n2,there\n", "score"),
        ("label values other than 0/1/-1", "labels.csv",
         b"id,text,abusive,violent\n1,you idiot,1,0\n2,hello,2,0\n3,shoot them,yes,1\n4,fine,0,0\n",
         "eval"),
        ("malformed JSONL lines", "bad.jsonl",
         b'{"id":"1","text":"ok"}\n{"id":"2","text":\n[1,2]\n{"id":"4","text":5}\n{"id":"5","text":"fine"}\n',
         "score"),
        ("empty file (CSV)", "empty.csv", b"", "score"),
        ("empty file (JSONL)", "empty.jsonl", b"", "score"),
        ("1 MB of binary junk as text", "junk.txt", junk, "score"),
        ("1 MB of binary junk as CSV", "junk.csv", b"id,text\n" + junk, "score"),
    ]


def first_line(stderr: str, pattern: str) -> str:
    for line in stderr.splitlines():
        if re.search(pattern, line):
            return line.replace("|", "\\|")[:160]
    return ""


def run(moderate: str, command: str, path: Path, skip_bad: bool, scratch: Path) -> dict:
    if command == "eval":
        cmd = [moderate, "eval", "--data", str(path)]
    else:
        cmd = [moderate, "score", str(path), "--format", "jsonl"]
    if skip_bad:
        cmd += ["--skip-bad", "--rejects", str(scratch / "rejects.csv")]
    done = subprocess.run(cmd, capture_output=True, timeout=600)
    stderr = done.stderr.decode("utf-8", "replace")
    summary = first_line(stderr, r"records read|rows|rejected")
    error = first_line(stderr, r"error")
    out_lines = done.stdout.count(b"\n") if command == "score" else None
    return {"code": done.returncode, "summary": summary, "error": error, "out": out_lines}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--moderate", default=str(REPO_ROOT / "target/release/moderate"))
    parser.add_argument("--dir", type=Path, default=Path("/tmp/moderate-hostile"))
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    print("| input | command | default: exit, message | `--skip-bad`: exit, counts | output lines |")
    print("|---|---|---|---|---|")
    for description, name, data, command in cases(random.Random(5)):
        path = args.dir / name
        path.write_bytes(data)
        stop = run(args.moderate, command, path, False, args.dir)
        skip = run(args.moderate, command, path, True, args.dir)
        stop_text = stop["error"] or stop["summary"]
        skip_text = skip["error"] or skip["summary"]
        print(f"| {description} | {command} | {stop['code']}: {stop_text} | "
              f"{skip['code']}: {skip_text} | {skip['out'] if skip['out'] is not None else '-'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
