#!/usr/bin/env python3
"""scikit-learn reference baselines for `moderate`.

Fits one tf-idf + logistic-regression model per label (`abusive`, `violent`) on the
training split and reports dev ROC-AUC and average precision, the wall time of
vectorising + fitting, and the peak resident set size of the process.

Rows whose label is -1 (not labelled by their source dataset) are skipped for that
label, in both train and dev; they are not treated as negatives.

Pipelines:
  word      TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
            + LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000)
  wordchar  FeatureUnion(word tf-idf as above,
                         TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5),
                                         min_df=2, sublinear_tf=True))
            + LogisticRegression(C=4, class_weight="balanced", max_iter=1000)

Usage (from the repository root):
  python3 scripts/baselines/sklearn_baseline.py --pipeline word
  python3 scripts/baselines/sklearn_baseline.py --pipeline wordchar --json
  python3 scripts/baselines/sklearn_baseline.py --also-eval perturbed_dev.csv
  python3 scripts/baselines/sklearn_baseline.py --pipeline wordchar --loso --json

--loso adds leave-one-source-out cross-validation on the training file: for every
`source`, the pipeline is fitted on the other sources' rows (vectoriser included)
and scored on the held-out source. A source with one class only for a label
(e.g. every edos row is abusive) has no ROC-AUC of its own; the mean is over the
sources that have both classes, and the pooled ROC-AUC is over every held-out row.
"""
from __future__ import annotations

import argparse
import csv
import json
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.pipeline import FeatureUnion, Pipeline

LABELS = ("abusive", "violent")
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = REPO_ROOT / ".." / "shared" / "data"


def read_corpus(path: Path, sources: list[str] | None = None) -> tuple[list[str], dict[str, np.ndarray]]:
    """Read `id,source,text,abusive,violent` CSV; return texts and label arrays (-1 kept).

    With `sources`, each row's `source` value is appended to it.
    """
    csv.field_size_limit(sys.maxsize)
    texts: list[str] = []
    labels: dict[str, list[int]] = {name: [] for name in LABELS}
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in ("text", *LABELS) if c not in (reader.fieldnames or [])]
        if missing:
            sys.exit(f"error: {path} lacks column(s) {', '.join(missing)}")
        for row in reader:
            texts.append(row["text"])
            if sources is not None:
                sources.append(row.get("source", ""))
            for name in LABELS:
                labels[name].append(int(row[name]))
    return texts, {name: np.asarray(values, dtype=np.int8) for name, values in labels.items()}


def word_tfidf() -> TfidfVectorizer:
    return TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)


def build(pipeline: str) -> Pipeline:
    if pipeline == "word":
        features = word_tfidf()
        classifier = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000)
    elif pipeline == "wordchar":
        features = FeatureUnion(
            [
                ("word", word_tfidf()),
                (
                    "char",
                    TfidfVectorizer(
                        analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True
                    ),
                ),
            ]
        )
        classifier = LogisticRegression(C=4, class_weight="balanced", max_iter=1000)
    else:  # argparse restricts the choices
        raise ValueError(pipeline)
    return Pipeline([("features", features), ("clf", classifier)])


def leave_one_source_out(pipeline: str, texts: list[str], labels: np.ndarray,
                         sources: np.ndarray) -> dict:
    """Per-source held-out ROC-AUC (None with one class), their mean, and the pooled AUC."""
    labelled = np.flatnonzero(labels >= 0)
    per_source: dict[str, float | None] = {}
    pooled_y: list[np.ndarray] = []
    pooled_p: list[np.ndarray] = []
    for source in sorted(set(sources[labelled])):
        held = labelled[sources[labelled] == source]
        fit_rows = labelled[sources[labelled] != source]
        model = build(pipeline)
        model.fit([texts[i] for i in fit_rows], labels[fit_rows])
        probs = model.predict_proba([texts[i] for i in held])[:, list(model.classes_).index(1)]
        y = labels[held]
        per_source[source] = float(roc_auc_score(y, probs)) if 0 < y.sum() < len(y) else None
        pooled_y.append(y)
        pooled_p.append(probs)
        print(f"  loso {source}: {per_source[source]}", file=sys.stderr, flush=True)
    defined = [a for a in per_source.values() if a is not None]
    return {
        "per_source": per_source,
        "mean": float(np.mean(defined)) if defined else None,
        "pooled": float(roc_auc_score(np.concatenate(pooled_y), np.concatenate(pooled_p))),
    }


def peak_rss_mib() -> float:
    # ru_maxrss is KiB on Linux, bytes on macOS.
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=Path, default=DEFAULT_DATA / "train.csv",
                        help="training CSV (default: ../shared/data/train.csv from repo root)")
    parser.add_argument("--dev", type=Path, default=DEFAULT_DATA / "dev.csv",
                        help="dev CSV (default: ../shared/data/dev.csv from repo root)")
    parser.add_argument("--pipeline", choices=("word", "wordchar"), default="word",
                        help="feature pipeline (default: word)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--loso", action="store_true",
                        help="also run leave-one-source-out cross-validation on the training file")
    parser.add_argument("--also-eval", type=Path, nargs="+", default=[], metavar="CSV",
                        help="more labelled CSVs to score with the same fitted models "
                             "(e.g. a perturbed dev file); ROC-AUC per file and label")
    args = parser.parse_args()

    train_sources: list[str] = []
    train_texts, train_labels = read_corpus(args.train, train_sources)
    source_of = np.asarray(train_sources)
    dev_texts, dev_labels = read_corpus(args.dev)
    extra = [(path, *read_corpus(path)) for path in args.also_eval]
    extra_auc: dict[str, dict[str, float]] = {str(path): {} for path in args.also_eval}

    results = []
    total_fit = 0.0
    for name in LABELS:
        tr = np.flatnonzero(train_labels[name] >= 0)
        dv = np.flatnonzero(dev_labels[name] >= 0)
        x_train = [train_texts[i] for i in tr]
        y_train = train_labels[name][tr]
        x_dev = [dev_texts[i] for i in dv]
        y_dev = dev_labels[name][dv]

        model = build(args.pipeline)
        start = time.perf_counter()
        model.fit(x_train, y_train)  # vectoriser fit + transform + logistic fit
        fit_seconds = time.perf_counter() - start
        total_fit += fit_seconds

        start = time.perf_counter()
        scores = model.predict_proba(x_dev)[:, list(model.classes_).index(1)]
        score_seconds = time.perf_counter() - start

        for path, texts, labels in extra:
            rows = np.flatnonzero(labels[name] >= 0)
            probs = model.predict_proba([texts[i] for i in rows])[:, list(model.classes_).index(1)]
            extra_auc[str(path)][name] = float(roc_auc_score(labels[name][rows], probs))

        loso = None
        if args.loso:
            loso = leave_one_source_out(args.pipeline, train_texts, train_labels[name], source_of)
        results.append(
            {
                "label": name,
                "loso": loso,
                "train_rows": int(len(tr)),
                "train_positives": int(y_train.sum()),
                "dev_rows": int(len(dv)),
                "dev_positives": int(y_dev.sum()),
                "n_features": int(model.named_steps["clf"].coef_.shape[1]),
                "n_iter": int(model.named_steps["clf"].n_iter_[0]),
                "roc_auc": float(roc_auc_score(y_dev, scores)),
                "average_precision": float(average_precision_score(y_dev, scores)),
                "fit_seconds": fit_seconds,
                "dev_score_seconds": score_seconds,
            }
        )

    report = {
        "pipeline": args.pipeline,
        "train": str(args.train),
        "dev": str(args.dev),
        "labels": results,
        "fit_seconds_total": total_fit,
        "also_eval": extra_auc,
        "peak_rss_mib": peak_rss_mib(),
        "python": platform.python_version(),
        "sklearn": sklearn.__version__,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"pipeline {args.pipeline}  (scikit-learn {sklearn.__version__}, python {platform.python_version()})")
        print(f"{'label':<8} {'train':>7} {'pos':>6} {'dev':>6} {'pos':>5} {'features':>9} "
              f"{'ROC-AUC':>8} {'AP':>7} {'fit s':>7}")
        for r in results:
            print(f"{r['label']:<8} {r['train_rows']:>7} {r['train_positives']:>6} {r['dev_rows']:>6} "
                  f"{r['dev_positives']:>5} {r['n_features']:>9} {r['roc_auc']:>8.4f} "
                  f"{r['average_precision']:>7.4f} {r['fit_seconds']:>7.1f}")
        print(f"vectorise+fit total: {total_fit:.1f} s   peak RSS: {report['peak_rss_mib']:.0f} MiB")
        for r in results:
            if r["loso"]:
                cells = ", ".join(f"{s} {'-' if a is None else f'{a:.4f}'}"
                                  for s, a in r["loso"]["per_source"].items())
                print(f"leave-one-source-out {r['label']}: mean {r['loso']['mean']:.4f}, "
                      f"pooled {r['loso']['pooled']:.4f} ({cells})")
        for path, aucs in extra_auc.items():
            cells = "  ".join(f"{label} {auc:.4f}" for label, auc in aucs.items())
            print(f"ROC-AUC on {path}: {cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
