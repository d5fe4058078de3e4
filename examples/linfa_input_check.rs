//! Times what linfa-logistic 0.8 does with the dense matrix of a final fit.
//!
//! Builds the same column-major matrix `moderate train` hands to linfa for
//! one label (default `abusive`) and times, one by one:
//! - linfa's input check, `x.iter().any(|v| !v.is_finite())`, which visits
//!   the elements in logical (row-major) order;
//! - the same check in memory order;
//! - the two matrix products of one cost-and-gradient evaluation, written as
//!   linfa writes them (`x.dot(w as an n x 1 matrix)` and `x.t().dot(r)`).
//!
//! ```text
//! cargo run --release --example linfa_input_check -- ../shared/data/train.csv [LABEL]
//! ```
//! It needs about as much memory as `moderate train` (5-6 GB on train.csv).

use moderate::io::{ReadOptions, read_all};
use moderate::model::logistic::densify;
use moderate::train::{self, TrainConfig};
use ndarray::{Array1, Array2};
use std::path::Path;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        eprintln!("usage: linfa_input_check TRAIN.csv [LABEL]");
        std::process::exit(2);
    };
    let label = args.get(1).map_or("abusive", String::as_str);
    let comments = match read_all(Path::new(path), &ReadOptions::default()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("linfa_input_check: {e}");
            std::process::exit(2);
        }
    };
    let (space, matrix) = train::vectorize(&comments, &TrainConfig::default());
    let rows: Vec<u32> = comments
        .iter()
        .enumerate()
        .filter(|(_, c)| c.labels.get(label).copied().flatten().is_some())
        .map(|(r, _)| r as u32)
        .collect();
    println!(
        "{} rows labelled `{label}` x {} features, column-major f32",
        rows.len(),
        space.len()
    );

    let t = Instant::now();
    let x = densify(&matrix, &rows);
    println!("densify:                             {:6.2} s", secs(t));

    let t = Instant::now();
    let bad = x.iter().any(|v| !v.is_finite());
    println!("check in logical order (linfa 0.8):  {:6.2} s", secs(t));
    assert!(!bad);

    let t = Instant::now();
    let slice = x
        .as_slice_memory_order()
        .expect("densify returns a contiguous array");
    let bad = slice.iter().any(|v| !v.is_finite());
    println!("check in memory order:               {:6.2} s", secs(t));
    assert!(!bad);

    let w = Array2::<f32>::from_elem((x.ncols(), 1), 0.01);
    let t = Instant::now();
    let z = x.dot(&w);
    println!("x . w (n x 1 matrix, as linfa):      {:6.2} s", secs(t));
    let r = Array1::<f32>::from_elem(x.nrows(), 0.5);
    let t = Instant::now();
    let g = x.t().dot(&r);
    println!("x^T . r (as linfa's gradient):       {:6.2} s", secs(t));
    // Use the results so the products cannot be optimised away.
    println!("checksums: {:.3} {:.3}", z.sum(), g.sum());
}

fn secs(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}
