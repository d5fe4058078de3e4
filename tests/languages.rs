//! Models for several languages: training with `--language`, routing each
//! comment to its language's model, unavailable labels, `--language`,
//! `eval --by language`, `detect` and the model card. The per-language
//! data are small fixtures written for these tests (templates filled with
//! words), never rows of the shared corpus.

use assert_cmd::Command;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn moderate() -> Command {
    Command::cargo_bin("moderate").expect("binary builds")
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(name)
}

/// Writes a labelled CSV of `rows` (text, abusive, violent) to `path`.
fn write_csv(path: &Path, source: &str, rows: &[(String, i8, i8)]) {
    let mut w = csv::Writer::from_path(path).unwrap();
    w.write_record(["id", "source", "text", "abusive", "violent"])
        .unwrap();
    for (i, (text, a, v)) in rows.iter().enumerate() {
        w.write_record([
            format!("{source}:{i}"),
            source.to_string(),
            text.clone(),
            a.to_string(),
            v.to_string(),
        ])
        .unwrap();
    }
    w.flush().unwrap();
}

/// Every `frame` with every `word` in place of `{}`.
fn fill(frames: &[&str], words: &[&str]) -> Vec<String> {
    frames
        .iter()
        .flat_map(|f| words.iter().map(move |w| f.replace("{}", w)))
        .collect()
}

/// German comments: insults, calls for violence and news talk.
fn german() -> Vec<(String, i8, i8)> {
    let mut rows = Vec::new();
    for t in fill(
        &[
            "Du bist ein {} und solltest dich schämen",
            "Was für ein erbärmlicher {} bist du eigentlich",
            "Halt endlich den Mund, du dummer {}",
        ],
        &[
            "Idiot",
            "Vollidiot",
            "Schwachkopf",
            "Dummkopf",
            "Trottel",
            "Versager",
            "Depp",
        ],
    ) {
        rows.push((t, 1, -1));
    }
    for t in fill(
        &[
            "Der Bericht über {} in der Stadt ist gut recherchiert",
            "Ich habe den Artikel über {} heute morgen gelesen und finde ihn interessant",
            "Danke für die ausführliche Zusammenfassung zu {} in der Region",
        ],
        &[
            "den Verkehr",
            "die Schulen",
            "das Wetter",
            "die Wahlen",
            "den Haushalt",
            "die Bahn",
            "den Hafen",
        ],
    ) {
        rows.push((t, 0, 0));
    }
    for t in fill(
        &[
            "Man sollte diese {} alle aufhängen",
            "Die {} gehören erschossen, und zwar sofort",
            "Schlagt den {} die Köpfe ein, bis keiner mehr steht",
        ],
        &[
            "Verräter",
            "Politiker",
            "Banker",
            "Journalisten",
            "Richter",
            "Beamten",
            "Lügner",
        ],
    ) {
        rows.push((t, -1, 1));
    }
    rows
}

/// Spanish comments: insults and news talk, with no violent labels.
fn spanish() -> Vec<(String, i8, i8)> {
    let mut rows = Vec::new();
    for t in fill(
        &[
            "Eres un {} y deberías darte vergüenza",
            "Qué {} más patético eres, cállate ya",
            "Nadie quiere leer tus tonterías, {}",
        ],
        &[
            "imbécil",
            "idiota",
            "estúpido",
            "cretino",
            "payaso",
            "inútil",
            "cobarde",
        ],
    ) {
        rows.push((t, 1, -1));
    }
    for t in fill(
        &[
            "El artículo sobre {} en la ciudad está muy bien escrito",
            "Leí esta mañana la noticia sobre {} y me parece interesante",
            "Gracias por el resumen tan completo sobre {} en la región",
        ],
        &[
            "el tráfico",
            "las escuelas",
            "el tiempo",
            "las elecciones",
            "el presupuesto",
            "el tren",
            "el puerto",
        ],
    ) {
        rows.push((t, 0, -1));
    }
    rows
}

/// A model trained once on data/examples.csv with German and Spanish
/// fixtures, shared by the tests; with the fixture folder.
fn model() -> &'static (tempfile::TempDir, PathBuf) {
    static MODEL: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    MODEL.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let de = dir.path().join("de.csv");
        let es = dir.path().join("es.csv");
        write_csv(&de, "fixture_de", &german());
        write_csv(&es, "fixture_es", &spanish());
        let path = dir.path().join("multi.model");
        let out = moderate()
            .args(["train", "--no-encoder", "--data"])
            .arg(data("examples.csv"))
            .arg("--language")
            .arg(format!("de={}", de.display()))
            .arg("--language")
            .arg(format!("es={}", es.display()))
            .arg("--language-eval")
            .arg(format!("de={}", de.display()))
            .arg("--out")
            .arg(&path)
            .args(["--cv", "2", "--min-df", "1", "--threads", "1"])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains("de   abusive"), "{out}");
        assert!(
            out.contains("es   violent    no model"),
            "Spanish has no violent labels: {out}"
        );
        (dir, path)
    })
}

fn model_path() -> &'static Path {
    &model().1
}

/// `moderate score` of `lines` (JSONL records) with extra `args`, parsed.
fn score(lines: &[serde_json::Value], args: &[&str]) -> Vec<serde_json::Value> {
    let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let out = moderate()
        .args(["score", "-", "--input-format", "jsonl", "--model"])
        .arg(model_path())
        .args(args)
        .write_stdin(input)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

const GERMAN_INSULT: &str = "Du bist ein erbärmlicher Trottel und solltest dich schämen";
const SPANISH_NEWS: &str = "Leí la noticia sobre el puerto de la ciudad y me parece interesante";
const ITALIAN: &str =
    "Questo articolo è scritto molto bene e spiega con chiarezza la situazione della città";

#[test]
fn each_comment_is_scored_by_the_model_of_its_language() {
    let records = score(
        &[
            serde_json::json!({"id": "en", "text": "You are a pathetic idiot and everyone here knows it."}),
            serde_json::json!({"id": "de", "text": GERMAN_INSULT}),
            serde_json::json!({"id": "es", "text": SPANISH_NEWS}),
            serde_json::json!({"id": "it", "text": ITALIAN}),
        ],
        &[],
    );
    let language: Vec<&str> = records
        .iter()
        .map(|r| r["language"].as_str().unwrap())
        .collect();
    assert_eq!(language, ["en", "de", "es", "it"]);
    // The German insult is flagged by the German model.
    assert!(
        records[1]["flags"]
            .as_array()
            .unwrap()
            .contains(&"abusive".into()),
        "{}",
        records[1]
    );
    // Spanish has no violent model: no score, never flagged, and said so.
    assert!(records[2]["scores"]["abusive"].is_number());
    assert!(records[2]["scores"]["violent"].is_null());
    assert_eq!(records[2]["unavailable"], serde_json::json!(["violent"]));
    // Italian has no model at all.
    assert!(records[3]["scores"]["abusive"].is_null());
    assert_eq!(
        records[3]["unavailable"],
        serde_json::json!(["abusive", "violent"])
    );
    assert_eq!(records[3]["flags"], serde_json::json!([]));
    // English comments carry no `unavailable` key.
    assert!(records[0].get("unavailable").is_none());
}

#[test]
fn csv_and_table_output_name_the_language_and_leave_missing_scores_empty() {
    let input = format!("id,text\nes,{SPANISH_NEWS}\nde,\"{GERMAN_INSULT}\"\n");
    let out = moderate()
        .args([
            "score",
            "-",
            "--input-format",
            "csv",
            "--format",
            "csv",
            "--model",
        ])
        .arg(model_path())
        .write_stdin(input.clone())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "id,abusive,violent,flags,truncated,language");
    assert!(
        lines[1].starts_with("es,0.") && lines[1].ends_with(",,,false,es"),
        "{out}"
    );
    assert!(lines[2].ends_with(",abusive,false,de"), "{out}");
    let table = moderate()
        .args([
            "score",
            "-",
            "--input-format",
            "csv",
            "--format",
            "table",
            "--model",
        ])
        .arg(model_path())
        .write_stdin(input)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let table = String::from_utf8(table).unwrap();
    assert!(table.lines().next().unwrap().contains("lang"), "{table}");
    assert!(table.lines().nth(1).unwrap().contains("  es "), "{table}");
}

#[test]
fn a_fixed_language_decides_for_short_comments() {
    // Two words are too short to tell: English, unless the site says.
    let line = serde_json::json!({"id": "x", "text": "Dummer Trottel"});
    let detected = score(std::slice::from_ref(&line), &[]);
    assert_eq!(detected[0]["language"], "en");
    let fixed = score(&[line], &["--language", "de"]);
    assert_eq!(fixed[0]["language"], "de");
    // A language the model has no model for is refused up front.
    moderate()
        .args(["score", "-", "--language", "fr", "--model"])
        .arg(model_path())
        .write_stdin("x\n")
        .assert()
        .code(2)
        .stderr(predicates::str::contains("no French model"));
    moderate()
        .args(["score", "-", "--language", "it"])
        .write_stdin("x\n")
        .assert()
        .code(2)
        .stderr(predicates::str::contains("en, de, es, fr and pt"));
}

#[test]
fn eval_reports_per_language_and_leaves_unavailable_labels_out() {
    let (dir, path) = model();
    let mixed = dir.path().join("mixed.csv");
    let mut rows = german();
    rows.extend(spanish());
    write_csv(&mixed, "mixed", &rows);
    let out = moderate()
        .args(["eval", "--by", "language", "--data"])
        .arg(&mixed)
        .arg("--model")
        .arg(path)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("\n[de] "), "{out}");
    assert!(out.contains("\n[es] "), "{out}");
    // Spanish rows have no violent label here, so nothing is unavailable;
    // every labelled row was scored by a model of its language.
    let json = moderate()
        .args(["eval", "--json", "--by", "language", "--data"])
        .arg(&mixed)
        .arg("--model")
        .arg(path)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let de = &v["by_language"]["de"]["labels"];
    assert!(de["abusive"]["roc_auc"].as_f64().unwrap() > 0.9, "{v}");
    assert!(de["violent"]["positives"].as_u64().unwrap() >= 15, "{v}");
    // Labelled violent rows detected as Spanish would have no score.
    let es_violent = dir.path().join("es_violent.csv");
    write_csv(
        &es_violent,
        "x",
        &[
            (SPANISH_NEWS.to_string(), 0, 0),
            (SPANISH_NEWS.to_string(), 1, 1),
        ],
    );
    let out = moderate()
        .args(["eval", "--data"])
        .arg(&es_violent)
        .arg("--model")
        .arg(path)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains("2 labelled rows have no `violent` score"),
        "{out}"
    );
}

#[test]
fn detect_measures_the_detector_and_info_shows_each_language() {
    let (dir, path) = model();
    let de = dir.path().join("de.csv");
    let out = moderate()
        .arg("detect")
        .arg(format!("de={}", de.display()))
        .arg("--model")
        .arg(path)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("confusion"), "{out}");
    let de_row = out
        .lines()
        .find(|l| l.starts_with("de    "))
        .unwrap_or_else(|| panic!("{out}"));
    // Every fixture row has five words or more and is German.
    assert!(de_row.contains("1.0000 (63/63)"), "{out}");
    let info = moderate()
        .args(["info", "--model"])
        .arg(path)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let info = String::from_utf8(info).unwrap();
    assert!(info.contains("languages: en, de, es."), "{info}");
    assert!(
        info.contains("data: fixture_es: licence not recorded"),
        "{info}"
    );
    assert!(
        info.contains("violent: no model (the training data has no violent labels)"),
        "{info}"
    );
    assert!(!info.contains("English only:"), "{info}");
    let json = moderate()
        .args(["info", "--json", "--model"])
        .arg(path)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(
        v["languages"]["models"]["es"]["unavailable_labels"],
        serde_json::json!(["violent"])
    );
    assert!(v["languages"]["models"]["de"]["evaluation"]["labels"]["abusive"].is_object());
}

#[test]
fn the_model_file_keeps_its_languages_to_the_byte() {
    let bytes = std::fs::read(model_path()).unwrap();
    let model = moderate::model::load_bytes(&bytes, model_path()).unwrap();
    assert!(model.languages.routes());
    let languages: Vec<&str> = model.languages.models.keys().map(|l| l.code()).collect();
    assert_eq!(languages, ["de", "es"]);
    assert_eq!(
        model.languages.models[&moderate::language::Language::De]
            .analyzer
            .language,
        moderate::language::Language::De
    );
    assert_eq!(moderate::model::to_bytes(&model).unwrap(), bytes);
    // A damaged language section is an error naming it, not a panic.
    let mut damaged = bytes.clone();
    let n = damaged.len();
    damaged.truncate(n - 10);
    assert!(moderate::model::load_bytes(&damaged, Path::new("x")).is_err());
}

#[test]
fn bad_language_arguments_exit_2_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.model");
    for (args, message) in [
        (
            vec!["--language", "it=x.csv"],
            "`it` is not a language moderate trains",
        ),
        (vec!["--language", "en=x.csv"], "English is the main model"),
        (vec!["--language", "de"], "expected LANG=FILE"),
    ] {
        moderate()
            .args(["train", "--no-encoder", "--data"])
            .arg(data("examples.csv"))
            .args(&args)
            .arg("--out")
            .arg(&out)
            .assert()
            .code(2)
            .stderr(predicates::str::contains(message));
    }
    let de = dir.path().join("de.csv");
    write_csv(&de, "fixture_de", &german());
    moderate()
        .args(["train", "--no-encoder", "--data"])
        .arg(data("examples.csv"))
        .arg("--language-eval")
        .arg(format!("de={}", de.display()))
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("has no --language de"));
}
