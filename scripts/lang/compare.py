#!/usr/bin/env python3
"""Per-language dev ROC-AUC of moderate's shipped model against a scikit-learn
word+char pipeline trained on the same training file, in one run.

For each language (en, de, es, fr, pt) and each label the language's data labels:
  sklearn   the `wordchar` pipeline of scripts/baselines/sklearn_baseline.py (word 1-2-gram
            and char_wb 2-5-gram tf-idf + LogisticRegression(C=4, balanced)), fitted on
            <lang>/train.csv, scored on <lang>/dev.csv;
  detected  `moderate eval --data <lang>/dev.csv --json`: each comment's language detected,
            as a site without `languages` would be scored (rows detected in a language with
            no model for the label are left out and counted);
  given     the same with `--language <lang>`: the language's own model on every row.
Rows labelled -1 are skipped for that label, as everywhere.

Usage (from the repository root, after `cargo build --release`):
  python3 scripts/lang/compare.py                      # all languages, word models only
  python3 scripts/lang/compare.py --both-readers       # English scored with the encoder too
  python3 scripts/lang/compare.py --langs de,es --json
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts" / "baselines"))
from sklearn_baseline import LABELS, build, read_corpus  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

DATA = REPO / ".." / "shared" / "data"


def files(lang: str) -> tuple[Path, Path]:
    base = DATA if lang == "en" else DATA / "lang" / lang
    return base / "train.csv", base / "dev.csv"


def sklearn_auc(train: Path, dev: Path) -> dict[str, float | None]:
    tr_text, tr = read_corpus(train)
    dv_text, dv = read_corpus(dev)
    out: dict[str, float | None] = {}
    for label in LABELS:
        keep_tr = tr[label] >= 0
        keep_dv = dv[label] >= 0
        y_tr = tr[label][keep_tr]
        y_dv = dv[label][keep_dv]
        if len(set(y_tr)) < 2 or len(set(y_dv)) < 2:
            out[label] = None
            continue
        model = build("wordchar")
        model.fit([t for t, k in zip(tr_text, keep_tr) if k], y_tr)
        scores = model.predict_proba([t for t, k in zip(dv_text, keep_dv) if k])[:, 1]
        out[label] = float(roc_auc_score(y_dv, scores))
    return out


def moderate_eval(binary: Path, dev: Path, extra: list[str]) -> dict:
    cmd = [str(binary), "eval", "--data", str(dev), "--json", *extra]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(done.stdout)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", type=Path, default=REPO / "target" / "release" / "moderate")
    ap.add_argument("--langs", default="en,de,es,fr,pt")
    ap.add_argument("--both-readers", action="store_true",
                    help="score English with the second stage as well (about 2.5 minutes)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = []
    for lang in args.langs.split(","):
        train, dev = files(lang)
        started = time.time()
        sk = sklearn_auc(train, dev)
        word_only = [] if (lang == "en" and args.both_readers) else ["--word-only"]
        detected = moderate_eval(args.bin, dev, word_only)
        given = moderate_eval(args.bin, dev, word_only + ["--language", lang])
        for label in LABELS:
            d = detected["labels"][label]
            g = given["labels"][label]
            if sk[label] is None and d["positives"] == 0 and g["positives"] == 0:
                continue
            rows.append({
                "lang": lang,
                "label": label,
                "sklearn_wordchar": sk[label],
                "moderate_detected": d["roc_auc"],
                "moderate_given": g["roc_auc"],
                "unscored_detected": d["unavailable"],
                "positives": g["positives"],
                "negatives": g["negatives"],
                "readers": "words" if word_only else "both",
                "seconds": round(time.time() - started, 1),
            })
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    fmt = lambda v: "-" if v is None else f"{v:.4f}"  # noqa: E731
    print("| lang | label | dev pos / neg | scikit-learn word+char | moderate, language detected "
          "| moderate, language given | rows left unscored (detected) | readers |")
    print("|---|---|---|---:|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['lang']} | {r['label']} | {r['positives']} / {r['negatives']} | "
              f"{fmt(r['sklearn_wordchar'])} | {fmt(r['moderate_detected'])} | "
              f"{fmt(r['moderate_given'])} | {r['unscored_detected']} | {r['readers']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
