//! `moderate report`: the HTML page, driven through the real binary, and
//! rendered by headless Chromium when it is installed.

use assert_cmd::Command;
use predicates::prelude::*;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

fn moderate() -> Command {
    Command::cargo_bin("moderate").expect("binary builds")
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(name)
}

/// Ids of the comments in `file` that the default model flags, per `score`.
fn flagged_ids(file: &Path) -> Vec<String> {
    let out = moderate()
        .arg("score")
        .arg(file)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    String::from_utf8_lossy(&out)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON line"))
        .filter(|r| !r["flags"].as_array().expect("flags").is_empty())
        .map(|r| r["id"].as_str().expect("id").to_string())
        .collect()
}

/// Writes the report of `file` with `extra` arguments and returns its text.
fn report(dir: &Path, file: &Path, extra: &[&str]) -> (PathBuf, String) {
    let out = dir.join("report.html");
    moderate()
        .arg("report")
        .arg(file)
        .arg("--out")
        .arg(&out)
        .args(extra)
        .assert()
        .success()
        .stdout("")
        .stderr(predicate::str::contains("records read"));
    let html = std::fs::read_to_string(&out).expect("report written");
    (out, html)
}

fn comment_elements(html: &str) -> usize {
    html.matches("<li class=\"comment").count()
}

/// Asserts that the page loads nothing from anywhere. (Comment text is
/// escaped, so `<` and quotes from input cannot form tags or attributes.)
fn assert_self_contained(html: &str) {
    for needle in [
        "src=\"", "href=\"", "srcset", "<link", "<script", "<iframe", "<img", "<object", "<embed",
    ] {
        assert!(!html.contains(needle), "page contains `{needle}`");
    }
    let style_start = html.find("<style>").expect("inline style");
    let style_end = html.find("</style>").expect("style ends");
    let style = &html[style_start..style_end];
    for needle in ["url(", "@import", "http"] {
        assert!(!style.contains(needle), "style contains `{needle}`");
    }
    assert_eq!(html.matches("<style>").count(), 1);
    assert!(html.contains("Content-Security-Policy"));
}

#[test]
fn report_lists_every_flagged_comment_in_a_self_contained_page() {
    let dir = tempfile::tempdir().unwrap();
    let input = data("examples.csv");
    let ids = flagged_ids(&input);
    assert!(ids.len() > 5, "the default model flags some examples");
    let (_, html) = report(dir.path(), &input, &[]);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.trim_end().ends_with("</html>"));
    assert_self_contained(&html);
    for id in &ids {
        assert!(html.contains(&format!("data-id=\"{id}\"")), "{id} missing");
    }
    assert_eq!(comment_elements(&html), ids.len());
    // Counts, thresholds in force and one histogram per label.
    assert!(html.contains("<dd id=\"n-read\">85</dd>"));
    assert!(html.contains("<dd id=\"n-rejected\">0</dd>"));
    assert!(html.contains(&format!("<dd id=\"n-flagged\">{} <small>", ids.len())));
    assert_eq!(html.matches("<svg class=\"hist").count(), 2);
    assert_eq!(html.matches("class=\"thr\"").count(), 2);
    let model = moderate::default_model().expect("built-in model");
    for threshold in model.thresholds() {
        let shown = format!("threshold {threshold:.3}");
        assert!(html.contains(&shown), "missing `{shown}`");
    }
    // Per-label filters and highlights.
    assert!(html.contains("<label for=\"f-0\" class=\"lab-0\">abusive ("));
    assert!(html.contains("<label for=\"f-1\" class=\"lab-1\">violent ("));
    assert!(html.contains("<mark class=\"lab-"));
    // Highest score (over the labels) first.
    let mut scorer = model.scorer();
    let reader = moderate::io::CommentReader::open(&input, &Default::default()).unwrap();
    let top = reader
        .map(|c| c.unwrap())
        .map(|c| {
            let p = scorer.score(&c.text).probabilities;
            (c.id, p.into_iter().fold(0.0f32, f32::max))
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap()
        .0;
    let first = html.find("data-id=").unwrap();
    assert!(
        html[first..].starts_with(&format!("data-id=\"{top}\"")),
        "{top} scores highest"
    );
}

#[test]
fn report_options_threshold_all_and_limit() {
    let dir = tempfile::tempdir().unwrap();
    let input = data("examples.csv");
    // Threshold 0 flags every comment.
    let (_, html) = report(dir.path(), &input, &["--threshold", "violent=0"]);
    assert_eq!(comment_elements(&html), 85);
    let model = moderate::default_model().expect("built-in model");
    let violent = &model.labels[model.label_index("violent").expect("violent label")];
    let shown = format!(
        "set by --threshold; the model's is {:.3}",
        violent.threshold
    );
    assert!(html.contains(&shown), "missing `{shown}`");
    // --all lists the unflagged ones too.
    let (_, html) = report(dir.path(), &input, &["--all"]);
    assert_eq!(comment_elements(&html), 85);
    assert!(html.contains("not flagged"));
    // --limit caps the list and says how many were left out; counts and
    // histograms still cover everything.
    // (3 per label, and 3 unflagged ones with --all.)
    let (_, html) = report(dir.path(), &input, &["--limit", "3", "--all"]);
    let listed = comment_elements(&html);
    assert!((3..=9).contains(&listed), "{listed}");
    assert!(html.contains(&format!("Showing <b>{listed}</b> of 85 comments")));
    assert!(html.contains(&format!(
        "<b id=\"omitted\">{} lower-scoring comments are not listed</b>",
        85 - listed
    )));
    assert!(html.contains("<dd id=\"n-scored\">85</dd>"));
    assert!(html.contains("scores of 85 comments"));
    // Unknown labels are usage errors.
    moderate()
        .args(["report", "--out", "-", "--threshold", "nope=0.5"])
        .arg(&input)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no label `nope`"));
}

#[test]
fn report_escapes_comment_markup_and_writes_to_stdout() {
    let out = moderate()
        .args([
            "report",
            "-",
            "--input-format",
            "text",
            "--all",
            "--out",
            "-",
        ])
        .write_stdin(
            "<script>alert('x')</script> you pathetic idiot\n<img src=x onerror=alert(1)>\n",
        )
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let html = String::from_utf8(out).unwrap();
    assert_self_contained(&html);
    // Escaped (the encoder's explanation may highlight a word inside).
    assert!(html.contains("&lt;script&gt;alert(&#39;"), "{html}");
    assert!(!html.contains("<script>alert"));
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(
        html.contains("<mark class=\"lab-0\""),
        "idiot is highlighted"
    );
    assert_eq!(comment_elements(&html), 2);
}

#[test]
fn report_counts_rejected_records() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bad.csv");
    std::fs::write(&input, "id,text\n1,you pathetic idiot\n2,\"unterminated\n").unwrap();
    let out = dir.path().join("report.html");
    // By default a bad record stops the run and leaves no page behind.
    moderate()
        .arg("report")
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--skip-bad"));
    assert!(!out.exists(), "no partial report is left behind");
    let (_, html) = report(dir.path(), &input, &["--skip-bad"]);
    assert!(html.contains("<dd id=\"n-read\">2</dd>"));
    assert!(html.contains("<dd id=\"n-scored\">1</dd>"));
    assert!(html.contains("<dd id=\"n-rejected\">1</dd>"));
    assert!(html.contains("1 malformed records were skipped"));
    assert!(html.contains("bad.csv:3"));
}

/// The Chromium binary: `/usr/bin/chromium`, or `chromium` on PATH.
fn chromium() -> Option<PathBuf> {
    let fixed = PathBuf::from("/usr/bin/chromium");
    if fixed.is_file() {
        return Some(fixed);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("chromium"))
        .find(|p| p.is_file())
}

/// Runs headless Chromium with `args` on `url`; returns its stdout. Fails the
/// test if it does not finish within the timeout.
fn run_chromium(browser: &Path, profile: &Path, args: &[String], url: &str) -> String {
    let mut child = std::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        match child.try_wait().expect("wait for chromium") {
            Some(status) => {
                assert!(status.success(), "chromium failed: {status}");
                break;
            }
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromium did not finish within 120 s");
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    reader.join().expect("stdout reader")
}

#[test]
fn report_renders_in_headless_chromium() {
    let Some(browser) = chromium() else {
        eprintln!("skipping: chromium not installed (apt-get install chromium)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let input = data("examples.csv");
    let ids = flagged_ids(&input);
    let (page, _) = report(dir.path(), &input, &[]);
    let url = format!("file://{}", page.display());

    let shot = dir.path().join("shot.png");
    run_chromium(
        &browser,
        &dir.path().join("profile-shot"),
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1280,2000".to_string(),
        ],
        &url,
    );
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG file");
    assert!(
        png.len() > 20_000,
        "a blank page would be tiny: {} bytes",
        png.len()
    );

    let dom = run_chromium(
        &browser,
        &dir.path().join("profile-dom"),
        &["--dump-dom".to_string()],
        &url,
    );
    assert!(
        dom.contains("<h1>Moderation report</h1>"),
        "DOM: {dom:.300}"
    );
    assert_eq!(comment_elements(&dom), ids.len());
    for id in &ids {
        assert!(
            dom.contains(&format!("data-id=\"{id}\"")),
            "{id} not in DOM"
        );
    }
    assert_eq!(dom.matches("<svg class=\"hist").count(), 2);
    assert!(dom.contains("<mark class=\"lab-"));
    assert!(dom.contains("id=\"f-all\""));
}

#[test]
fn report_and_table_show_html_entities_decoded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("entities.csv");
    std::fs::write(&path, "id,text\ne1,You idiot &amp; liar &#128175; &lt;3\n").unwrap();
    let (_, html) = report(dir.path(), &path, &["--all"]);
    // `&` is escaped once for HTML, so the page shows "&"; the emoji shows
    // as itself; `&lt;3` shows as "<3".
    let text = &html[html.find("<p class=\"text\"").expect("comment text")..];
    let text = &text[..text.find("</p>").unwrap()];
    assert!(
        text.contains(" &amp; ") && text.contains("💯") && text.contains(" &lt;3"),
        "{text}"
    );
    assert!(!html.contains("&amp;amp;") && !html.contains("&amp;#128175;"));
    let out = moderate()
        .arg("score")
        .arg(&path)
        .args(["--format", "table", "--explain"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let table = String::from_utf8(out).unwrap();
    assert!(table.contains("You idiot & liar 💯 <3"), "{table}");
    assert!(
        !table.contains("&amp;") && !table.contains("&#128175;"),
        "{table}"
    );
}

/// The number in `<b>N</b>` after `prefix` in `html`.
fn bold_number_after(html: &str, prefix: &str) -> u64 {
    let at = html.find(prefix).unwrap_or_else(|| panic!("no `{prefix}`")) + prefix.len();
    let rest = html[at..].trim_start_matches("<b>");
    rest[..rest.find('<').unwrap()]
        .replace(',', "")
        .parse()
        .unwrap()
}

#[test]
fn report_limit_applies_per_label_so_a_rare_label_is_never_crowded_out() {
    let dir = tempfile::tempdir().unwrap();
    let input = data("examples.csv");
    // Per label: how many comments `score` flags.
    let out = moderate()
        .arg("score")
        .arg(&input)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let mut flagged = [0u64; 2];
    for line in String::from_utf8_lossy(&out).lines() {
        let r: serde_json::Value = serde_json::from_str(line).unwrap();
        for f in r["flags"].as_array().unwrap() {
            flagged[usize::from(f == "violent")] += 1;
        }
    }
    assert!(flagged[0] > 2 && flagged[1] > 0, "{flagged:?}");
    let (_, html) = report(dir.path(), &input, &["--limit", "2"]);
    for (i, name) in ["abusive", "violent"].iter().enumerate() {
        let note = format!("<p class=\"note note-{i}\" id=\"listed-{i}\">Showing ");
        let shown = bold_number_after(&html, &note);
        assert!(
            shown >= flagged[i].min(2),
            "{name}: {shown} of {}",
            flagged[i]
        );
        assert!(html.contains(&format!(
            "Showing <b>{shown}</b> of {} comments flagged {name}",
            flagged[i]
        )));
        // The filter's view holds exactly that many comments.
        assert_eq!(
            html.matches(&format!(" flag-{i}")).count() as u64,
            shown,
            "{name}"
        );
        let left_out = flagged[i] - shown;
        assert_eq!(
            html.contains(&format!(
                "<b id=\"omitted-{i}\">{left_out} lower-scoring ones are not listed</b>"
            )),
            left_out > 0,
            "{name}"
        );
    }
    let all = bold_number_after(&html, "<p class=\"note note-all\" id=\"listed\">Showing ");
    assert_eq!(all, comment_elements(&html) as u64);
    assert!(html.contains(&format!("All ({all})")));
}

/// `&amp;` and friends, as the page escapes them, back to text.
fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// An explanation as shown: per label name, `(term, weight)` in order.
type Shown = Vec<(String, Vec<(String, String)>)>;

/// Per listed comment id, the explanation its `why` line shows: per label
/// name, `(term, weight to 2 decimals)` in the page's order.
fn page_explanations(html: &str) -> std::collections::BTreeMap<String, Shown> {
    let mut out = std::collections::BTreeMap::new();
    for item in html.split("<li class=\"comment").skip(1) {
        let item = item.split("</li>").next().unwrap_or_default();
        let id = item
            .split("data-id=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .map(unescape)
            .expect("a listed comment has its id");
        let mut labels = Vec::new();
        if let Some(why) = item.split("<p class=\"why\">").nth(1) {
            let why = why.split("</p>").next().unwrap_or_default();
            for part in why.split("<b>").skip(1) {
                let (name, rest) = part.split_once("</b>: ").expect("<b>label</b>: terms");
                let mut terms = Vec::new();
                for q in rest.split("<q").skip(1) {
                    let after_tag = q.split_once('>').expect("<q ...>").1;
                    let (term, tail) = after_tag.split_once("</q> +").expect("term +weight");
                    let weight: String = tail
                        .chars()
                        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == '-')
                        .collect();
                    terms.push((unescape(term), weight));
                }
                labels.push((name.to_string(), terms));
            }
        }
        out.insert(id, labels);
    }
    out
}

#[test]
fn the_page_explains_a_comment_as_score_explain_does() {
    // One explanation, computed once and shown the same everywhere: the
    // words and weights next to a listed comment are those of `score
    // --explain` for its flagged labels, in the same order.
    let dir = tempfile::tempdir().unwrap();
    let file = data("examples.csv");
    let (_, html) = report(dir.path(), &file, &["--top", "4"]);
    let shown = page_explanations(&html);
    assert!(shown.len() >= 10, "{} comments listed", shown.len());
    let out = moderate()
        .arg("score")
        .arg(&file)
        .args(["--explain", "--top", "4"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let mut compared = 0;
    for line in String::from_utf8_lossy(&out).lines() {
        let r: serde_json::Value = serde_json::from_str(line).expect("JSON line");
        let id = r["id"].as_str().expect("id");
        let Some(page) = shown.get(id) else {
            continue;
        };
        let mut want = Vec::new();
        for flag in r["flags"].as_array().expect("flags") {
            let label = flag.as_str().expect("label name");
            let terms: Vec<(String, String)> = r["explain"][label]
                .as_array()
                .expect("explanation of a flagged label")
                .iter()
                .map(|t| {
                    (
                        moderate::text::normalize::decode_entities(t["term"].as_str().unwrap())
                            .into_owned(),
                        t["weight"].as_f64().unwrap().to_string(),
                    )
                })
                .collect();
            if !terms.is_empty() {
                want.push((label.to_string(), terms));
            }
        }
        // Labels by name on both sides; weights as the page rounds them (to
        // 2 decimals, from score's 4, so within half a unit of the second).
        let mut page = page.clone();
        page.sort();
        want.sort();
        let same = page.len() == want.len()
            && page.iter().zip(&want).all(|((pl, pt), (wl, wt))| {
                pl == wl
                    && pt.len() == wt.len()
                    && pt.iter().zip(wt).all(|((pn, pw), (wn, ww))| {
                        let (pw, ww): (f64, f64) = (pw.parse().unwrap(), ww.parse().unwrap());
                        pn == wn && (pw - ww).abs() <= 0.0051
                    })
            });
        assert!(
            same,
            "comment {id}: the report explains it differently from score --explain\n  \
             report: {page:?}\n   score: {want:?}"
        );
        compared += 1;
    }
    assert_eq!(compared, shown.len(), "every listed comment was compared");
}
