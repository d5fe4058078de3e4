#!/usr/bin/env python3
"""Robustness to deliberate misspelling: ROC-AUC on clean dev vs perturbed dev.

1. `moderate perturb` writes perturbed copies of the dev file (seeded): one with
   every listed trick mixed (the headline), one per trick, and one with `mask`
   (a trick the analyzer does not undo, to show where it is weak).
2. `moderate eval --json` scores the clean and perturbed files with each model
   given (default: the built-in model).
3. `scripts/baselines/sklearn_baseline.py --also-eval` fits each scikit-learn
   pipeline once on train and scores the same files.
4. A markdown table of ROC-AUC and the drop against clean dev is printed.

Usage (from the repository root, after `cargo build --release`):
  python3 scripts/robustness/perturbed_eval.py
  python3 scripts/robustness/perturbed_eval.py --model plain=/tmp/plain.model --sklearn word
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
LABELS = ("abusive", "violent")
TRICKS = ("leet", "spacing", "separators", "repeats", "homoglyphs", "zero-width", "full-width", "mask")


def run(cmd: list[str]) -> str:
    print("$ " + " ".join(cmd), file=sys.stderr)
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    if done.stderr.strip():
        print(done.stderr.strip(), file=sys.stderr)
    return done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--moderate", default=str(REPO_ROOT / "target/release/moderate"))
    parser.add_argument("--dev", type=Path, default=REPO_ROOT / ".." / "shared/data/dev.csv")
    parser.add_argument("--train", type=Path, default=REPO_ROOT / ".." / "shared/data/train.csv")
    parser.add_argument("--model", action="append", default=[], metavar="NAME=PATH",
                        help="a moderate model to measure besides the built-in one")
    parser.add_argument("--sklearn", default="word,wordchar",
                        help="comma-separated scikit-learn pipelines ('' for none)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out-dir", type=Path, default=Path("/tmp/moderate-perturbed"))
    parser.add_argument("--json", type=Path, help="also write all figures to this JSON file")
    args = parser.parse_args()

    args.out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {"clean": args.dev.resolve()}
    variants = [("mixed (all but mask)", None)] + [(t, t) for t in TRICKS]
    for name, trick in variants:
        path = args.out_dir / f"dev_{(trick or 'mixed')}.csv"
        cmd = [args.moderate, "perturb", str(args.dev), "--out", str(path), "--seed", str(args.seed)]
        if trick:
            cmd += ["--tricks", trick]
        run(cmd)
        files[name] = path

    systems: dict[str, dict[str, dict[str, float]]] = {}
    models = [("moderate (default model)", None)] + [
        (f"moderate ({spec.split('=', 1)[0]})", spec.split("=", 1)[1]) for spec in args.model
    ]
    for system, model in models:
        systems[system] = {}
        for name, path in files.items():
            cmd = [args.moderate, "eval", "--data", str(path), "--json"]
            if model:
                cmd += ["--model", model]
            report = json.loads(run(cmd))
            systems[system][name] = {l: report["labels"][l]["roc_auc"] for l in LABELS}

    for pipeline in filter(None, args.sklearn.split(",")):
        out = run([sys.executable, str(REPO_ROOT / "scripts/baselines/sklearn_baseline.py"),
                   "--pipeline", pipeline, "--train", str(args.train), "--dev", str(args.dev),
                   "--json", "--also-eval", *[str(files[n]) for n in files if n != "clean"]])
        report = json.loads(out)
        system = f"scikit-learn {pipeline}"
        systems[system] = {"clean": {r["label"]: r["roc_auc"] for r in report["labels"]}}
        for name, path in files.items():
            if name != "clean":
                systems[system][name] = report["also_eval"][str(path)]

    header = "| perturbed dev | " + " | ".join(
        f"{s} {l}" for s in systems for l in LABELS) + " |"
    print(header)
    print("|" + "---|" * (1 + len(systems) * len(LABELS)))
    for name in files:
        cells = []
        for figures in systems.values():
            for label in LABELS:
                auc = figures[name][label]
                drop = figures["clean"][label] - auc
                cells.append(f"{auc:.4f}" if name == "clean" else f"{auc:.4f} (−{drop:.4f})"
                             if drop >= 0 else f"{auc:.4f} (+{-drop:.4f})")
        print(f"| {name} | " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(json.dumps(systems, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
