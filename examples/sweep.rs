//! Hyper-parameter sweep used to choose the default recipe.
//!
//! Vectorises once per feature setting, then fits every (label, alpha,
//! positive repeat) with the sparse pre-solve (the same optimum linfa
//! reaches from it) and reports k-fold cross-validated ROC-AUC on the
//! training file and, for reference, ROC-AUC on the dev file.
//!
//! ```text
//! cargo run --release --example sweep -- ../shared/data/train.csv ../shared/data/dev.csv \
//!     "K=8000" "K=16000 char=2-5" ...
//! ```
//! Each extra argument is one feature setting: `K=N`, `char=MIN-MAX`,
//! `mindf=N`, `nobigrams`, `negation`. Alphas and repeats come from the
//! `ALPHAS` and `REPEATS` environment variables (comma-separated).

use moderate::features::{NgramConfig, SparseMatrix, SparseRow, Vectorizer};
use moderate::io::{ReadOptions, read_all};
use moderate::metrics::roc_auc;
use moderate::model::presolve;
use moderate::text::{Analyzer, AnalyzerConfig, Tokens};
use moderate::train::{self, TrainConfig};
use std::path::Path;

fn env_list(name: &str, default: &str) -> Vec<f64> {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_string())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        eprintln!("usage: sweep TRAIN DEV SETTING...");
        std::process::exit(2);
    }
    let opts = ReadOptions {
        keep_columns: vec!["source".into()],
        ..ReadOptions::default()
    };
    let train_rows = read_all(Path::new(&args[0]), &opts).expect("train");
    let dev_rows = read_all(Path::new(&args[1]), &opts).expect("dev");
    let alphas = env_list("ALPHAS", "0.25");
    let repeats = env_list("REPEATS", "0");
    let folds: u32 = std::env::var("FOLDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let labels = ["abusive", "violent"];
    println!("setting\tlabel\talpha\trepeat\tcv_auc\tdev_auc");
    for setting in &args[2..] {
        let mut config = TrainConfig {
            ngrams: NgramConfig::default(),
            analyzer: AnalyzerConfig::default(),
            ..TrainConfig::default()
        };
        for part in setting.split_whitespace() {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            match k {
                "K" => config.max_features = v.parse().expect("K"),
                "mindf" => config.min_df = v.parse().expect("mindf"),
                "char" => {
                    let (a, b) = v.split_once('-').expect("char=MIN-MAX");
                    config.ngrams.char_ngrams = Some((a.parse().unwrap(), b.parse().unwrap()));
                }
                "nobigrams" => config.ngrams.word_bigrams = false,
                "only" => config.labels = vec![v.to_string()],
                "normall" => config.ngrams.norm_unselected = true,
                "normsel" => config.ngrams.norm_unselected = false,
                "blocks" => config.ngrams.norm_per_block = true,
                "negation" => config.analyzer.negation = true,
                "nostem" => config.analyzer.stem = false,
                other => panic!("unknown setting {other}"),
            }
        }
        let t = std::time::Instant::now();
        let (space, x) = train::vectorize(&train_rows, &config);
        let mut dev = SparseMatrix::new(space.len());
        let mut analyzer = Analyzer::new(config.analyzer.clone());
        let mut vectorizer = Vectorizer::new(&space);
        let mut tokens = Tokens::new();
        let mut row = SparseRow::default();
        for c in &dev_rows {
            analyzer.analyze(&c.text, &mut tokens);
            vectorizer.vectorize(&space, &tokens, &mut row);
            dev.push_row(&row);
        }
        eprintln!(
            "[{setting}] vectorised in {:.1}s",
            t.elapsed().as_secs_f64()
        );
        let mut jobs = Vec::new();
        for label in labels
            .iter()
            .copied()
            .filter(|l| config.labels.iter().any(|c| c == l))
        {
            for &alpha in &alphas {
                for &repeat in &repeats {
                    jobs.push((label, alpha, repeat));
                }
            }
        }
        let results = std::sync::Mutex::new(Vec::new());
        let next = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let Some(&(label, alpha, repeat)) = jobs.get(i) else {
                            break;
                        };
                        let (cv, dv) = evaluate(
                            &x,
                            &dev,
                            &train_rows,
                            &dev_rows,
                            label,
                            alpha,
                            repeat,
                            folds,
                        );
                        results.lock().unwrap().push((
                            i,
                            format!("{setting}\t{label}\t{alpha}\t{repeat}\t{cv:.4}\t{dv:.4}"),
                        ));
                    }
                });
            }
        });
        let mut r = results.into_inner().unwrap();
        r.sort();
        for (_, line) in r {
            println!("{line}");
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn evaluate(
    x: &SparseMatrix,
    dev: &SparseMatrix,
    train_rows: &[moderate::Comment],
    dev_rows: &[moderate::Comment],
    label: &str,
    alpha: f64,
    repeat: f64,
    folds: u32,
) -> (f64, f64) {
    let labelled: Vec<(u32, bool)> = train_rows
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            c.labels
                .get(label)
                .copied()
                .flatten()
                .map(|y| (i as u32, y))
        })
        .collect();
    let pos = labelled.iter().filter(|p| p.1).count() as f64;
    let neg = labelled.len() as f64 - pos;
    let repeat = if repeat > 0.0 {
        repeat
    } else {
        (neg / pos).sqrt().round().max(1.0)
    };
    // Optional naive-Bayes log-count-ratio scaling (NB-LR, Wang & Manning 2012).
    let nb = std::env::var("NB").ok().and_then(|v| v.parse::<f64>().ok());
    let (x, dev) = match nb {
        Some(smoothing) => {
            let mut p = vec![smoothing; x.ncols()];
            let mut q = vec![smoothing; x.ncols()];
            for &(r, y) in &labelled {
                let (idx, val) = x.row(r as usize);
                for (&c, &v) in idx.iter().zip(val) {
                    if y {
                        p[c as usize] += f64::from(v)
                    } else {
                        q[c as usize] += f64::from(v)
                    }
                }
            }
            let (sp, sq): (f64, f64) = (p.iter().sum(), q.iter().sum());
            let ratio: Vec<f32> = p
                .iter()
                .zip(&q)
                .map(|(a, b)| ((a / sp) / (b / sq)).ln() as f32)
                .collect();
            (scale(x, &ratio), scale(dev, &ratio))
        }
        None => (x.clone(), dev.clone()),
    };
    let (x, dev) = (&x, &dev);
    let fit = |rows: &[(u32, bool)]| {
        let r: Vec<u32> = rows.iter().map(|p| p.0).collect();
        let y: Vec<bool> = rows.iter().map(|p| p.1).collect();
        let w: Vec<f32> = y
            .iter()
            .map(|&t| if t { repeat as f32 } else { 1.0 })
            .collect();
        presolve::solve(x, &r, &y, &w, alpha, 1000, 1e-5 * r.len() as f64, None)
    };
    let mut oof = Vec::new();
    let mut cv_aucs = Vec::new();
    for f in 0..folds {
        let fold_of = |r: u32| {
            (moderate::features::hash::mix(u64::from(r) ^ 1u64.rotate_left(32)) % u64::from(folds))
                as u32
        };
        let tr: Vec<(u32, bool)> = labelled
            .iter()
            .copied()
            .filter(|p| fold_of(p.0) != f)
            .collect();
        let te: Vec<(u32, bool)> = labelled
            .iter()
            .copied()
            .filter(|p| fold_of(p.0) == f)
            .collect();
        let w = fit(&tr);
        let z: Vec<f32> = te.iter().map(|p| w.decision(x, p.0 as usize)).collect();
        let y: Vec<bool> = te.iter().map(|p| p.1).collect();
        cv_aucs.push(roc_auc(&z, &y).unwrap_or(f64::NAN));
        oof.extend(z.into_iter().zip(y));
    }
    let cv = cv_aucs.iter().sum::<f64>() / cv_aucs.len().max(1) as f64;
    let w = fit(&labelled);
    let (z, y): (Vec<f32>, Vec<bool>) = dev_rows
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            c.labels
                .get(label)
                .copied()
                .flatten()
                .map(|y| (w.decision(dev, i), y))
        })
        .unzip();
    // Optional mix with a multinomial naive Bayes on the same features.
    if let Some(mix) = std::env::var("MIXNB")
        .ok()
        .and_then(|v| v.parse::<f32>().ok())
    {
        let d = x.ncols();
        let (mut p, mut q) = (vec![0.1f64; d], vec![0.1f64; d]);
        let (mut np, mut nq) = (0.0f64, 0.0f64);
        for &(r, t) in &labelled {
            let (idx, val) = x.row(r as usize);
            for (&c, &v) in idx.iter().zip(val) {
                if t {
                    p[c as usize] += f64::from(v)
                } else {
                    q[c as usize] += f64::from(v)
                }
            }
            if t { np += 1.0 } else { nq += 1.0 }
        }
        let (sp, sq): (f64, f64) = (p.iter().sum(), q.iter().sum());
        let nbw: Vec<f32> = p
            .iter()
            .zip(&q)
            .map(|(a, b)| ((a / sp).ln() - (b / sq).ln()) as f32)
            .collect();
        let nbb = (np / nq).ln() as f32;
        let zn: Vec<f32> = dev_rows
            .iter()
            .enumerate()
            .filter(|(_, c)| c.labels.get(label).copied().flatten().is_some())
            .map(|(i, _)| dev.row_dot(i, &nbw) + nbb)
            .collect();
        let sd = |v: &[f32]| {
            let m = v.iter().sum::<f32>() / v.len() as f32;
            (v.iter().map(|a| (a - m) * (a - m)).sum::<f32>() / v.len() as f32).sqrt()
        };
        let (s1, s2) = (sd(&z), sd(&zn));
        let mixed: Vec<f32> = z
            .iter()
            .zip(&zn)
            .map(|(a, b)| a / s1 + mix * b / s2)
            .collect();
        eprintln!(
            "{label}: nb alone {:.4}, mix {mix} {:.4}",
            roc_auc(&zn, &y).unwrap_or(f64::NAN),
            roc_auc(&mixed, &y).unwrap_or(f64::NAN)
        );
    }
    (cv, roc_auc(&z, &y).unwrap_or(f64::NAN))
}

fn scale(m: &SparseMatrix, by: &[f32]) -> SparseMatrix {
    let mut out = SparseMatrix::new(m.ncols());
    let mut row = SparseRow::default();
    for r in 0..m.nrows() {
        let (idx, val) = m.row(r);
        row.clear();
        for (&c, &v) in idx.iter().zip(val) {
            row.indices.push(c);
            row.values.push(v * by[c as usize]);
        }
        out.push_row(&row);
    }
    out
}
