#!/usr/bin/env python3
"""Robustness to deliberate misspelling: ROC-AUC on clean dev vs perturbed dev.

1. `moderate perturb` writes perturbed copies of the dev file (seeded): one with
   every trick mixed (the headline), one per trick, and one with two tricks in
   every rewritten word (`--tricks-per-word 2`, all tricks).
2. `moderate eval --json` scores the clean and perturbed files with each model
   given (default: the built-in model).
3. `scripts/baselines/sklearn_baseline.py --also-eval` fits each scikit-learn
   pipeline once on train and scores the same files.
4. Two markdown tables are printed: ROC-AUC with the drop against clean dev,
   and the drops alone, with each moderate model's worst drop against the
   0.01 target.

Usage (from the repository root, after `cargo build --release`):
  python3 scripts/robustness/perturbed_eval.py
  python3 scripts/robustness/perturbed_eval.py --model plain=/tmp/plain.model --sklearn word
  python3 scripts/robustness/perturbed_eval.py --no-default-model --model new=/tmp/new.model
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
LABELS = ("abusive", "violent")
TRICKS = ("leet", "dense-leet", "repeats", "mask", "homoglyphs", "spacing", "separators",
          "zero-width", "full-width")
TARGET_DROP = 0.01


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
    parser.add_argument("--no-default-model", action="store_true",
                        help="do not measure the built-in model")
    parser.add_argument("--sklearn", default="word,wordchar",
                        help="comma-separated scikit-learn pipelines ('' for none)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out-dir", type=Path, default=Path("/tmp/moderate-perturbed"))
    parser.add_argument("--json", type=Path, help="also write all figures to this JSON file")
    args = parser.parse_args()

    args.out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {"clean": args.dev.resolve()}
    variants = [("all tricks mixed", "mixed", [])] + [(t, t, ["--tricks", t]) for t in TRICKS] + [
        ("two tricks per word", "two", ["--tricks-per-word", "2"])]
    for name, stem, extra in variants:
        path = args.out_dir / f"dev_{stem}.csv"
        run([args.moderate, "perturb", str(args.dev), "--out", str(path), "--seed", str(args.seed),
             *extra])
        files[name] = path

    systems: dict[str, dict[str, dict[str, float]]] = {}
    models = [] if args.no_default_model else [("moderate (default model)", None)]
    models += [
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

    print()
    print("| ROC-AUC drop | " + " | ".join(f"{s} {l}" for s in systems for l in LABELS) + " |")
    print("|" + "---|" * (1 + len(systems) * len(LABELS)))
    for name in files:
        if name == "clean":
            continue
        cells = [f"{figures['clean'][l] - figures[name][l]:+.4f}"
                 for figures in systems.values() for l in LABELS]
        print(f"| {name} | " + " | ".join(cells) + " |")
    for system, figures in systems.items():
        if not system.startswith("moderate"):
            continue
        worst = max((figures["clean"][l] - figures[n][l], n, l)
                    for n in files if n != "clean" for l in LABELS)
        verdict = "meets" if worst[0] <= TARGET_DROP else "misses"
        print(f"\n{system}: worst drop {worst[0]:.4f} ({worst[1]}, {worst[2]}); "
              f"{verdict} the {TARGET_DROP} target", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(systems, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
