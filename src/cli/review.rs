//! `moderate review`: a review queue in the terminal.
//!
//! Comments are scored, the flagged ones are shown grouped by label (the
//! rarest label first, or as `--label` says; see [`crate::review::QueueSpec`])
//! with the words that raised their scores highlighted, and single keys record a
//! decision per comment in a decisions CSV (see [`crate::review`] for the
//! file format and how it is kept safe). The screen is plain ANSI: raw mode
//! for single keys (crossterm), "clear screen" between comments, and SGR
//! bold/reverse for highlights unless `NO_COLOR` is set or stdout is not a
//! terminal, in which case highlighted words are marked `[[like this]]`.

use super::train::parse_label_value;
use super::{InputArgs, UsageError};
use crate::Comment;
use crate::io::{CommentReader, InputFormat};
use crate::model::{Model, Scorer, Scores};
use crate::output::safe_text::{one_line, safe_char};
use crate::pipeline;
use crate::review::{
    Action, Decision, DecisionLog, KeyMap, LoggedDecision, Queue, QueueItem, QueueSpec, rfc3339_utc,
};
use crate::store::Location;
use crate::store::review_log::StoreDecisionLog;
use crate::text::normalize::{decode_entities, decode_entity};
use anyhow::{Context, Result};
use clap::Args;
use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use std::collections::HashSet;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use unicode_width::UnicodeWidthChar;

/// Arguments of `moderate review`.
#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// Comments to review: the raw comments file (CSV, JSONL or text), which
    /// is scored with --model. Not stdin: the terminal is for keys.
    #[arg(value_name = "INPUT")]
    pub input: PathBuf,
    /// Model file (default: the built-in default model).
    #[arg(long, value_name = "MODEL")]
    pub model: Option<PathBuf>,
    /// Override a label's threshold for this run, e.g. `violent=0.3`.
    #[arg(long = "threshold", value_name = "LABEL=P", value_parser = parse_label_value::<f32>)]
    pub thresholds: Vec<(String, f32)>,
    /// Decisions file (CSV): appended to, and read on start to resume. A
    /// store instead (`.db` SQLite file, `sqlite:PATH` or a postgres://
    /// URL) keeps the decisions with the server's.
    #[arg(long, value_name = "DECISIONS", default_value = "decisions.csv")]
    pub decisions: PathBuf,
    /// Reviewer name written with each decision (default: $USER).
    #[arg(long, value_name = "NAME")]
    pub reviewer: Option<String>,
    /// Also queue the other comments, after the flagged ones, by their
    /// score for the first queued label (`--label violent --all`: violent's
    /// near misses first), ties by the next label's.
    #[arg(long)]
    pub all: bool,
    /// Queue the comments flagged for this label, highest score for it
    /// first; repeat to queue another label's after them (`--label violent
    /// --label abusive`). Comments flagged only for other labels are left
    /// out (with --all, they follow). Default: every label, the one that
    /// flags fewest comments first.
    #[arg(long = "label", value_name = "LABEL")]
    pub labels: Vec<String>,
    /// Words highlighted per label.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub top: usize,
    #[command(flatten)]
    pub bad: super::rejects::SkipBadArgs,
    #[command(flatten)]
    pub encoder: super::EncoderArgs,
    #[command(flatten)]
    pub input_args: InputArgs,
}

/// The label indices named by `--label`, in the order given.
fn chosen_labels(names: &[String], labels: &[&str]) -> Result<Vec<usize>> {
    let mut out = Vec::new();
    for name in names {
        let i = labels.iter().position(|l| l == name).ok_or_else(|| {
            UsageError(format!(
                "--label {name}: the model has no such label (labels: {})",
                labels.join(", ")
            ))
        })?;
        if !out.contains(&i) {
            out.push(i);
        }
    }
    Ok(out)
}

/// Where the session's decisions go: a decisions CSV or a store.
enum Log {
    Csv(DecisionLog),
    Store(Box<StoreDecisionLog>),
}

impl Log {
    /// Opens `path` for a model with `labels`: a store when it names one
    /// (see [`Location::looks_like_store`]), else a decisions CSV.
    fn open(path: &std::path::Path, labels: &[&str]) -> Result<Log> {
        let name = path.to_string_lossy();
        if Location::looks_like_store(&name) {
            let location =
                Location::parse(&name).map_err(|e| UsageError(format!("--decisions: {e}")))?;
            return Ok(Log::Store(Box::new(
                StoreDecisionLog::open(&location, labels).context("cannot use the store")?,
            )));
        }
        Ok(Log::Csv(
            DecisionLog::open(path, labels).context("cannot use the decisions file")?,
        ))
    }

    fn repaired(&self) -> Option<&str> {
        match self {
            Log::Csv(l) => l.repaired(),
            Log::Store(_) => None,
        }
    }

    /// Decisions held (for a store: decisions made with review).
    fn len(&self) -> usize {
        match self {
            Log::Csv(l) => l.decisions().len(),
            Log::Store(l) => l.decisions().len(),
        }
    }

    fn decided_ids(&self) -> HashSet<String> {
        match self {
            Log::Csv(l) => l.decided_ids(),
            Log::Store(l) => l.decided_ids(),
        }
    }

    fn last(&self) -> Option<&LoggedDecision> {
        match self {
            Log::Csv(l) => l.last(),
            Log::Store(l) => l.last(),
        }
    }

    fn append(&mut self, d: &Decision) -> crate::Result<()> {
        match self {
            Log::Csv(l) => l.append(d),
            Log::Store(l) => l.append(d),
        }
    }

    fn undo(&mut self) -> crate::Result<Option<LoggedDecision>> {
        match self {
            Log::Csv(l) => l.undo(),
            Log::Store(l) => l.undo(),
        }
    }
}

/// What this session has done to the decisions file, for the screen and
/// the last line. Undo may reach decisions of earlier sessions (the file is
/// one log); they are counted apart, so no count goes below zero.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Tally {
    /// Decisions saved in this session and still in the file.
    saved: usize,
    /// Decisions of earlier sessions removed by undo in this one.
    undone_earlier: usize,
}

impl Tally {
    /// Counts the undo of the file's last decision: this session's, if it
    /// saved any that are still there (they are the file's last rows).
    /// Returns true when the decision was an earlier session's.
    fn undo(&mut self) -> bool {
        if self.saved > 0 {
            self.saved -= 1;
            false
        } else {
            self.undone_earlier += 1;
            true
        }
    }

    /// "saved 2 this session" (", undid 1 earlier" when it applies).
    fn describe(self) -> String {
        let mut s = format!("saved {} this session", self.saved);
        if self.undone_earlier > 0 {
            s.push_str(&format!(", undid {} earlier", self.undone_earlier));
        }
        s
    }
}

/// Runs `moderate review`.
pub fn run(args: ReviewArgs) -> Result<ExitCode> {
    if args.input.as_os_str() == "-" {
        return Err(UsageError(
            "review reads key presses from the terminal, so comments cannot come from stdin; \
             give a file"
                .into(),
        )
        .into());
    }
    let mut outputs = vec![("--decisions", args.decisions.as_path())];
    if let Some(r) = &args.bad.rejects {
        outputs.push(("--rejects", r.as_path()));
    }
    super::files::refuse_overwriting(&[&args.input], &outputs)?;
    let model = super::load_model_for_scoring(args.model.as_deref(), &args.encoder)?;
    let thresholds = super::effective_thresholds(&model, &args.thresholds)?;
    let labels = model.label_names();
    let chosen = chosen_labels(&args.labels, &labels)?;
    if !std::io::stdin().is_terminal() {
        return Err(UsageError(
            "review needs an interactive terminal on stdin (it reads single key presses); \
             run it in a terminal (over SSH: `ssh -t`)"
                .into(),
        )
        .into());
    }
    let reviewer = args
        .reviewer
        .clone()
        .or_else(|| {
            ["USER", "LOGNAME", "USERNAME"]
                .iter()
                .find_map(|v| std::env::var(v).ok())
        })
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "unknown".to_string());

    // The decisions file first: a wrong one fails before a long scoring run.
    let mut log = Log::open(&args.decisions, &labels)?;
    let (items, rejected) = read_and_score(&args, &model, &thresholds)?;
    let mut notice = log.repaired().map(str::to_string);
    if let Some(n) = &notice {
        eprintln!("moderate: {}: {n}", args.decisions.display());
    }
    let already = log.len();
    let n_items = items.len();
    let spec = if chosen.is_empty() {
        QueueSpec::rarest_first(&items, labels.len(), args.all)
    } else {
        QueueSpec {
            labels: chosen.clone(),
            include_unflagged: args.all,
        }
    };
    let mut queue = Queue::new(items, &log.decided_ids(), &spec);
    let skipped_records = (rejected > 0).then(|| {
        format!(
            "skipped {rejected} malformed record{} (--skip-bad{})",
            if rejected == 1 { "" } else { "s" },
            args.bad
                .rejects
                .as_ref()
                .map_or(String::new(), |r| format!("; see {}", r.display()))
        )
    });
    if queue.is_done() {
        super::files::print(&format!(
            "nothing to review: {n_items} comments read{}, none {}left undecided ({already} decisions in {})\n",
            skipped_records
                .as_ref()
                .map_or(String::new(), |s| format!(" ({s})")),
            if args.all { "" } else { "flagged and " },
            args.decisions.display()
        ))?;
        return Ok(ExitCode::SUCCESS);
    }
    // The first screen says what was repaired or skipped, else the order.
    if notice.is_none() {
        notice = skipped_records.clone();
    }
    if notice.is_none() {
        let names: Vec<&str> = spec.labels.iter().map(|&l| labels[l]).collect();
        notice = Some(format!(
            "queue: {}{}{}",
            names.join(", then "),
            match names.first() {
                Some(first) if args.all => format!(", then the rest by {first} score"),
                _ => String::new(),
            },
            if chosen.is_empty() && names.len() > 1 {
                " (rarest first; --label to choose)"
            } else {
                ""
            },
        ));
    }

    let style = Style::detect();
    let keys = KeyMap::new(&labels);
    let input_name = args.input.display().to_string();
    let decisions_name = args.decisions.display().to_string();
    let mut scorer = model.scorer();
    let mut tally = Tally::default();
    let mut proposal: Vec<bool> = Vec::new();
    let mut highlights = Highlights::default();
    let mut fresh = true;
    let mut out = std::io::stdout();

    let raw = RawMode::enable().context("cannot switch the terminal to raw mode")?;
    loop {
        let (width, height) = terminal_size();
        if fresh {
            if let Some(item) = queue.current() {
                proposal = item.flags.clone();
                highlights = Highlights::of(&mut scorer, item, &thresholds, args.top);
            }
            fresh = false;
        }
        let frame = match queue.current() {
            Some(item) => render(
                &View {
                    item,
                    labels: &labels,
                    thresholds: &thresholds,
                    keys: &keys,
                    proposal: &proposal,
                    highlights: &highlights,
                    progress: queue.progress(),
                    tally,
                    in_file: log.len(),
                    input_name: &input_name,
                    decisions_name: &decisions_name,
                    status: notice.as_deref(),
                },
                style,
                width,
                height,
            ),
            None => render_done(
                tally,
                log.len(),
                &decisions_name,
                notice.as_deref(),
                style,
                width,
            ),
        };
        out.write_all(frame.as_bytes())?;
        out.flush()?;
        let action = match read_input(&keys)? {
            Input::Action(a) => a,
            Input::Redraw => continue,
            Input::Ignore => continue,
        };
        notice = None;
        let current = queue.current().cloned();
        match (action, current) {
            (Action::Quit, _) => break,
            (Action::Toggle(i), Some(_)) => {
                if let Some(p) = proposal.get_mut(i) {
                    *p = !*p;
                }
            }
            (Action::Accept | Action::Clear, Some(item)) => {
                let labels_now = if action == Action::Clear {
                    vec![false; labels.len()]
                } else {
                    proposal.clone()
                };
                let decision = Decision {
                    id: item.id.clone(),
                    text: item.text.clone(),
                    labels: labels_now,
                    reviewer: reviewer.clone(),
                    decided_at: rfc3339_utc(std::time::SystemTime::now()),
                };
                log.append(&decision)
                    .context("cannot write the decisions file")?;
                tally.saved += 1;
                notice = Some(format!(
                    "saved {}: {}",
                    item.id,
                    describe_labels(&labels, &decision.labels)
                ));
                queue.advance();
                fresh = true;
            }
            (Action::Skip, Some(item)) => {
                notice = Some(format!("skipped {} (no decision)", item.id));
                queue.advance();
                fresh = true;
            }
            (Action::Undo, _) => {
                notice = Some(match log.last().cloned() {
                    None => "nothing to undo".to_string(),
                    Some(last) if !queue.contains(&last.id) => format!(
                        "cannot undo: the last decision ({}) is for a comment not in {input_name}",
                        last.id
                    ),
                    Some(_) => {
                        let undone = log.undo().context("cannot write the decisions file")?;
                        match undone {
                            Some(d) => {
                                let earlier = tally.undo();
                                queue.reopen(&d.id);
                                fresh = true;
                                format!(
                                    "undid {} (was {}{})",
                                    d.id,
                                    describe_labels(&labels, &d.labels),
                                    if earlier {
                                        ", decided in an earlier session"
                                    } else {
                                        ""
                                    }
                                )
                            }
                            None => "nothing to undo".to_string(),
                        }
                    }
                });
            }
            (Action::Accept, None) => break,
            (_, None) => {}
        }
    }
    drop(raw);
    // Leave the last frame on screen and end its line.
    let decided = log.decided_ids();
    let skipped = queue.skipped(&decided);
    super::files::print(&format!(
        "\nmoderate: {} decision(s) saved this session{}; {} in {}; {} comment(s) left to review{}\n",
        tally.saved,
        if tally.undone_earlier > 0 {
            format!(", {} earlier one(s) undone", tally.undone_earlier)
        } else {
            String::new()
        },
        log.len(),
        args.decisions.display(),
        queue.undecided(&decided),
        if skipped > 0 {
            format!(" ({skipped} skipped this session; they come back next time)")
        } else {
            String::new()
        }
    ))?;
    if let Some(s) = &skipped_records {
        eprintln!("moderate: {s}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads every comment of the input and scores it; with `--skip-bad`,
/// malformed records are left out and counted (the second value).
fn read_and_score(
    args: &ReviewArgs,
    model: &Model,
    thresholds: &[f32],
) -> Result<(Vec<QueueItem>, u64)> {
    let opts = args.input_args.read_options(&[], &[]);
    let reader = CommentReader::open(&args.input, &opts).context("cannot read the input")?;
    let jsonl = reader.format() == InputFormat::Jsonl;
    let text_key = format!("no `{}` key", opts.text_column);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut bad = super::rejects::BadRecords::new(&args.bad)?;
    let mut items = Vec::new();
    pipeline::ordered_map(
        reader,
        threads,
        pipeline::DEFAULT_BATCH,
        || (model.scorer(), Scores::default()),
        |(scorer, scores), record: &crate::Result<Comment>| {
            let comment = record.as_ref().ok()?;
            scorer.score_into(&comment.text, scores);
            Some(scores.probabilities.clone())
        },
        |record, scores| -> Result<()> {
            let comment = match record {
                Ok(c) => c,
                Err(e) => {
                    let hint = if jsonl && e.to_string().contains(&text_key) {
                        "; review needs the comment text: give it the comments file itself, \
                         not the output of `moderate score`"
                    } else {
                        ""
                    };
                    return bad.handle(e).with_context(|| {
                        if hint.is_empty() {
                            String::from("cannot review this file")
                        } else {
                            format!("cannot review this file{hint}")
                        }
                    });
                }
            };
            let scores = scores.unwrap_or_default();
            let flags = scores.iter().zip(thresholds).map(|(p, t)| p >= t).collect();
            items.push(QueueItem {
                id: comment.id,
                text: comment.text,
                line: comment.line,
                scores,
                flags,
            });
            Ok(())
        },
    )?;
    bad.finish()?;
    Ok((items, bad.rejected))
}

/// "abusive=1 violent=0".
fn describe_labels(labels: &[&str], values: &[bool]) -> String {
    labels
        .iter()
        .zip(values)
        .map(|(l, &v)| format!("{l}={}", u8::from(v)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Raw mode for single key presses, restored when dropped (also on panic).
struct RawMode;

impl RawMode {
    fn enable() -> std::io::Result<Self> {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // Restore the terminal first so the message is readable.
            let _ = crossterm::terminal::disable_raw_mode();
            previous(info);
        }));
        crossterm::terminal::enable_raw_mode()?;
        Ok(RawMode)
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

/// The terminal's (columns, rows), 80x24 when unknown.
fn terminal_size() -> (usize, usize) {
    match crossterm::terminal::size() {
        Ok((w, h)) if w > 0 && h > 0 => (usize::from(w).max(20), usize::from(h).max(10)),
        _ => (80, 24),
    }
}

/// What a terminal event means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Input {
    Action(Action),
    Redraw,
    Ignore,
}

/// Waits for the next key press (or resize).
fn read_input(keys: &KeyMap) -> std::io::Result<Input> {
    Ok(match event::read()? {
        Event::Key(k) if k.kind != KeyEventKind::Release => map_key(k, keys),
        Event::Resize(..) => Input::Redraw,
        _ => Input::Ignore,
    })
}

/// Maps a key press to an action. Raw mode delivers Ctrl-C as a key: it quits.
fn map_key(k: KeyEvent, keys: &KeyMap) -> Input {
    if k.modifiers.contains(KeyModifiers::CONTROL) {
        return match k.code {
            KeyCode::Char('c' | 'd') => Input::Action(Action::Quit),
            KeyCode::Char('j' | 'm') => Input::Action(Action::Accept),
            KeyCode::Char('l') => Input::Redraw,
            _ => Input::Ignore,
        };
    }
    match k.code {
        KeyCode::Enter => Input::Action(Action::Accept),
        KeyCode::Char(c) => keys.action(c).map_or(Input::Ignore, Input::Action),
        _ => Input::Ignore,
    }
}

/// How the screen is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Style {
    /// SGR attributes (bold, reverse, colour); otherwise `[[marks]]`.
    color: bool,
    /// Clear the screen before each comment.
    clear: bool,
}

impl Style {
    /// Colour unless `NO_COLOR` is set (any value), stdout is not a terminal
    /// or `TERM=dumb`.
    fn detect() -> Self {
        let tty = std::io::stdout().is_terminal();
        let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
        Style {
            color: tty && !dumb && std::env::var_os("NO_COLOR").is_none(),
            clear: tty && !dumb,
        }
    }

    fn paint(self, sgr: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{sgr}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

/// The words to highlight in one comment.
#[derive(Debug, Clone, Default, PartialEq)]
struct Highlights {
    /// Byte spans in the text, merged over labels.
    spans: Vec<(usize, usize)>,
    /// Per shown label: its name index and the highlighted words.
    words: Vec<(usize, Vec<String>)>,
}

impl Highlights {
    /// The words that raised each flagged label most (the highest-scoring
    /// label when none is flagged), every occurrence of each highlighted:
    /// the explanation `score --explain` gives ([`Scorer::explain_scores`]).
    fn of(scorer: &mut Scorer<'_>, item: &QueueItem, thresholds: &[f32], top: usize) -> Self {
        let mut shown: Vec<usize> = (0..item.flags.len()).filter(|&i| item.flags[i]).collect();
        if shown.is_empty()
            && let Some(best) =
                (0..item.scores.len()).max_by(|&a, &b| item.scores[a].total_cmp(&item.scores[b]))
        {
            shown.push(best);
        }
        let mut out = Highlights::default();
        let scores = scorer.score(&item.text);
        let mut explained = scorer.explain_scores(&item.text, &scores, thresholds, top);
        for label in shown {
            let mut words: Vec<String> = Vec::new();
            for c in std::mem::take(&mut explained[label]) {
                let w = one_line(&decode_entities(&c.term));
                if !words.contains(&w) {
                    words.push(w);
                }
                out.spans.extend(c.spans);
            }
            out.words.push((label, words));
        }
        out
    }

    /// One flag per byte of `text`: inside a highlighted span.
    fn marks(&self, text: &str) -> Vec<bool> {
        let mut marks = vec![false; text.len()];
        for &(s, e) in &self.spans {
            if let Some(m) = marks.get_mut(s..e.min(text.len())) {
                m.fill(true);
            }
        }
        marks
    }
}

/// Everything one screen shows.
struct View<'a> {
    item: &'a QueueItem,
    labels: &'a [&'a str],
    thresholds: &'a [f32],
    keys: &'a KeyMap,
    proposal: &'a [bool],
    highlights: &'a Highlights,
    progress: (usize, usize),
    tally: Tally,
    in_file: usize,
    input_name: &'a str,
    decisions_name: &'a str,
    status: Option<&'a str>,
}

/// Draws the screen for one comment, lines ended with `\r\n` (raw mode).
fn render(v: &View<'_>, style: Style, width: usize, height: usize) -> String {
    let mut lines: Vec<String> = Vec::new();
    let (n, total) = v.progress;
    lines.push(style.paint(
        "1",
        &fit(
            &format!(
                "moderate review  {n}/{total}  | {}, {} in {}",
                v.tally.describe(),
                v.in_file,
                v.decisions_name
            ),
            width,
        ),
    ));
    lines.push(fit(
        &format!(
            "id {}  (line {} of {})",
            one_line(&v.item.id),
            v.item.line,
            v.input_name
        ),
        width,
    ));
    lines.push(String::new());
    let name_w = v.labels.iter().map(|l| l.len()).max().unwrap_or(5).max(5);
    lines.push(format!(
        "  key  {:<name_w$}  score  threshold  model  decision",
        "label"
    ));
    for (i, label) in v.labels.iter().enumerate() {
        let key = v.keys.label_keys.get(i).copied().flatten().unwrap_or(' ');
        let flagged = v.item.flags.get(i).copied().unwrap_or(false);
        let decided = v.proposal.get(i).copied().unwrap_or(false);
        let model = if flagged { "flag" } else { "-" };
        let decision = if decided {
            style.paint("1;31", "YES")
        } else {
            "no".to_string()
        };
        lines.push(format!(
            "  [{key}]  {label:<name_w$}  {:.3}  {:>9.3}  {model:<5}  {decision}",
            v.item.scores.get(i).copied().unwrap_or(0.0),
            v.thresholds.get(i).copied().unwrap_or(0.0),
        ));
    }
    let words: Vec<String> = v
        .highlights
        .words
        .iter()
        .filter(|(_, w)| !w.is_empty())
        .map(|(l, w)| format!("{}: {}", v.labels.get(*l).unwrap_or(&"?"), w.join(", ")))
        .collect();
    lines.push(fit(
        &format!(
            "words: {}",
            if words.is_empty() {
                "-".to_string()
            } else {
                words.join("; ")
            }
        ),
        width,
    ));
    let rule = "-".repeat(width.min(100));
    lines.push(rule.clone());
    let mut help = vec![];
    for (i, label) in v.labels.iter().enumerate() {
        if let Some(Some(k)) = v.keys.label_keys.get(i) {
            help.push(format!("{k} {label}"));
        }
    }
    let help = format!(
        "keys: {} (toggle) | Enter save | c clear all | s skip | u undo | q quit",
        help.join(", ")
    );
    let help_lines = wrap(&help, &[], width, style);
    // One spare line: the frame separator, or the cursor's last line.
    let chrome = lines.len() + 2 + help_lines.len() + 1;
    let room = height.saturating_sub(chrome).max(3);
    let (shown, marks) = decoded_with_marks(&v.item.text, &v.highlights.marks(&v.item.text));
    let text = wrap(&shown, &marks, width, style);
    if text.len() > room {
        lines.extend(text[..room - 1].iter().cloned());
        lines.push(format!(
            "... ({} more lines not shown)",
            text.len() - (room - 1)
        ));
    } else {
        lines.extend(text);
    }
    lines.push(rule);
    lines.push(fit(v.status.unwrap_or(""), width));
    lines.extend(help_lines);
    finish(lines, style)
}

/// The screen after the last comment.
fn render_done(
    tally: Tally,
    in_file: usize,
    decisions_name: &str,
    status: Option<&str>,
    style: Style,
    width: usize,
) -> String {
    let lines = vec![
        style.paint("1", &fit("moderate review: queue done", width)),
        fit(
            &format!("{}, {in_file} in {decisions_name}", tally.describe()),
            width,
        ),
        fit(status.unwrap_or(""), width),
        "keys: u undo the last decision | q quit".to_string(),
    ];
    finish(lines, style)
}

/// Joins lines for raw mode, after a clear-screen when wanted.
fn finish(lines: Vec<String>, style: Style) -> String {
    let mut out = String::new();
    if style.clear {
        out.push_str("\x1b[H\x1b[2J");
    } else {
        out.push_str("\r\n");
    }
    out.push_str(&lines.join("\r\n"));
    out
}

/// `text` with its HTML entities decoded (as the analyzer reads them), and
/// `marks` (one per byte of `text`) carried over to the decoded bytes.
fn decoded_with_marks(text: &str, marks: &[bool]) -> (String, Vec<bool>) {
    let mut out = String::with_capacity(text.len());
    let mut out_marks = Vec::with_capacity(text.len());
    let mut pos = 0;
    while let Some(c) = text[pos..].chars().next() {
        let (ch, len) = if c == '&' {
            decode_entity(&text[pos..]).unwrap_or(('&', 1))
        } else {
            (c, c.len_utf8())
        };
        out.push(ch);
        let m = marks.get(pos).copied().unwrap_or(false);
        out_marks.extend(std::iter::repeat_n(m, ch.len_utf8()));
        pos += len;
    }
    (out, out_marks)
}

/// Display width of `c`.
fn char_width(c: char) -> usize {
    c.width().unwrap_or(0)
}

/// `s` on one line cut to `width` columns (with `...` when cut).
fn fit(s: &str, width: usize) -> String {
    let s: String = s
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { safe_char(c) })
        .collect();
    if s.chars().map(char_width).sum::<usize>() <= width {
        return s;
    }
    let mut out = String::new();
    let mut w = 0;
    for c in s.chars() {
        let cw = char_width(c);
        if w + cw + 3 > width {
            break;
        }
        out.push(c);
        w += cw;
    }
    out.push_str("...");
    out
}

/// Wraps `text` to `width` columns, keeping line breaks (runs of blank lines
/// become one) and marking the bytes flagged in `marks`: SGR bold+reverse
/// with colour, `[[...]]` without.
fn wrap(text: &str, marks: &[bool], width: usize, style: Style) -> Vec<String> {
    let width = width.max(8);
    let marked = |b: usize| marks.get(b).copied().unwrap_or(false);
    let mut lines: Vec<Vec<(char, bool)>> = Vec::new();
    let mut offset = 0;
    for para in text.split('\n') {
        let base = offset;
        offset += para.len() + 1;
        // Words with the mark of the whitespace before them.
        let mut words: Vec<(Vec<(char, bool)>, bool)> = Vec::new();
        let mut word: Vec<(char, bool)> = Vec::new();
        let mut sep_mark = false;
        let mut in_space = true;
        for (i, c) in para.char_indices() {
            if c.is_whitespace() {
                if !in_space {
                    words.push((std::mem::take(&mut word), sep_mark));
                    sep_mark = marked(base + i);
                    in_space = true;
                }
            } else {
                in_space = false;
                word.push((safe_char(c), marked(base + i)));
            }
        }
        if !word.is_empty() {
            words.push((word, sep_mark));
        }
        if words.is_empty() {
            if lines.last().is_some_and(|l| !l.is_empty()) {
                lines.push(Vec::new());
            }
            continue;
        }
        let mut line: Vec<(char, bool)> = Vec::new();
        let mut line_w = 0;
        for (word, sep) in words {
            let runs = word
                .iter()
                .enumerate()
                .filter(|&(i, &(_, m))| m && (i == 0 || !word[i - 1].1))
                .count();
            let cells: usize = word.iter().map(|&(c, _)| char_width(c)).sum();
            let w = cells + if style.color { 0 } else { 4 * runs };
            if !line.is_empty() && line_w + 1 + w <= width {
                line.push((' ', sep));
                line.extend(word);
                line_w += 1 + w;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            if w <= width {
                line = word;
                line_w = w;
            } else {
                // A word longer than the line: cut it into pieces.
                let limit = if style.color { width } else { width - 4 };
                let mut piece_w = 0;
                for cell in word {
                    let cw = char_width(cell.0);
                    if piece_w + cw > limit && !line.is_empty() {
                        lines.push(std::mem::take(&mut line));
                        piece_w = 0;
                    }
                    line.push(cell);
                    piece_w += cw;
                }
                line_w = piece_w + if style.color { 0 } else { 4 };
            }
        }
        lines.push(line);
    }
    while lines.last().is_some_and(Vec::is_empty) {
        lines.pop();
    }
    lines.iter().map(|l| paint_line(l, style)).collect()
}

/// Writes one wrapped line, grouping marked cells into highlighted runs. A
/// space is highlighted only between two highlighted characters.
fn paint_line(line: &[(char, bool)], style: Style) -> String {
    let mut out = String::new();
    let mut run = String::new();
    let mut run_marked = false;
    for (i, &(c, m)) in line.iter().enumerate() {
        let m = m && (c != ' ' || (i > 0 && line[i - 1].1 && line.get(i + 1).is_some_and(|n| n.1)));
        if m != run_marked && !run.is_empty() {
            out.push_str(&paint_run(&run, run_marked, style));
            run.clear();
        }
        run_marked = m;
        run.push(c);
    }
    if !run.is_empty() {
        out.push_str(&paint_run(&run, run_marked, style));
    }
    out
}

fn paint_run(s: &str, marked: bool, style: Style) -> String {
    match (marked, style.color) {
        (false, _) => s.to_string(),
        (true, true) => format!("\x1b[1;7m{s}\x1b[0m"),
        (true, false) => format!("[[{s}]]"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: Style = Style {
        color: false,
        clear: false,
    };
    const COLOR: Style = Style {
        color: true,
        clear: true,
    };

    fn marks_for(text: &str, words: &[&str]) -> Vec<bool> {
        let mut m = vec![false; text.len()];
        for w in words {
            let s = text.find(w).unwrap();
            m[s..s + w.len()].fill(true);
        }
        m
    }

    #[test]
    fn wrap_marks_words_and_respects_width() {
        let text = "Anyone who defends this regime is a spineless idiot, plain and simple.";
        let marks = marks_for(text, &["spineless idiot"]);
        let lines = wrap(text, &marks, 30, PLAIN);
        assert!(lines.iter().all(|l| l.chars().count() <= 30), "{lines:?}");
        let joined = lines.join(" ");
        assert!(joined.contains("[[spineless idiot]]"), "{joined}");
        let marks = marks_for(text, &["spineless", "idiot"]);
        let joined = wrap(text, &marks, 80, PLAIN).join(" ");
        assert!(
            joined.contains("a [[spineless]] [[idiot]], plain"),
            "{joined}"
        );
        assert!(!joined.contains('\x1b'));
        let lines = wrap(text, &marks, 30, COLOR);
        assert!(
            lines
                .join(" ")
                .contains("\x1b[1;7mspineless\x1b[0m \x1b[1;7midiot\x1b[0m"),
            "{lines:?}"
        );
    }

    #[test]
    fn wrap_keeps_paragraphs_cuts_long_words_and_neutralises_controls() {
        let text = "first\n\n\n\nsecond \x1b[31mred\u{202E}x\n";
        let lines = wrap(text, &[], 40, PLAIN);
        assert_eq!(lines, vec!["first", "", "second ?[31mred?x"]);
        let long = "x".repeat(25);
        let lines = wrap(&long, &[true; 25], 10, PLAIN);
        assert!(lines.iter().all(|l| l.chars().count() <= 10), "{lines:?}");
        assert_eq!(lines.concat().matches('x').count(), 25);
        let wide = "👍".repeat(30);
        let lines = wrap(&wide, &[], 20, COLOR);
        assert!(lines.iter().all(|l| l.chars().count() <= 10), "{lines:?}");
    }

    #[test]
    fn fit_and_one_line() {
        assert_eq!(fit("short", 10), "short");
        assert_eq!(fit("a much longer line", 10), "a much ...");
        assert_eq!(fit("two  spaces\tand\x1b", 40), "two  spaces and?");
        assert_eq!(one_line(" a\n\tb \x07c "), "a b ?c");
    }

    #[test]
    fn keys_map_to_actions() {
        let keys = KeyMap::new(&["abusive", "violent"]);
        let key = |code, modifiers| map_key(KeyEvent::new(code, modifiers), &keys);
        assert_eq!(
            key(KeyCode::Char('c'), KeyModifiers::CONTROL),
            Input::Action(Action::Quit)
        );
        assert_eq!(
            key(KeyCode::Char('c'), KeyModifiers::NONE),
            Input::Action(Action::Clear)
        );
        assert_eq!(
            key(KeyCode::Enter, KeyModifiers::NONE),
            Input::Action(Action::Accept)
        );
        assert_eq!(
            key(KeyCode::Char('V'), KeyModifiers::SHIFT),
            Input::Action(Action::Toggle(1))
        );
        assert_eq!(key(KeyCode::Esc, KeyModifiers::NONE), Input::Ignore);
    }

    #[test]
    fn tally_counts_undo_of_earlier_decisions_apart_and_never_below_zero() {
        let mut t = Tally {
            saved: 2,
            ..Tally::default()
        };
        assert!(!t.undo());
        assert!(!t.undo());
        assert!(t.undo(), "the third undo reaches an earlier session");
        assert_eq!(
            t,
            Tally {
                saved: 0,
                undone_earlier: 1
            }
        );
        assert_eq!(t.describe(), "saved 0 this session, undid 1 earlier");
        assert_eq!(Tally::default().describe(), "saved 0 this session");
    }

    #[test]
    fn screen_shows_html_entities_decoded_with_their_highlights() {
        let text = "Top &amp; bottom &#128175; idiot";
        let item = QueueItem {
            id: "e".into(),
            text: text.into(),
            line: 2,
            scores: vec![0.9, 0.0],
            flags: vec![true, false],
        };
        let emoji = text.find("&#128175;").unwrap();
        let idiot = text.find("idiot").unwrap();
        let highlights = Highlights {
            spans: vec![(emoji, emoji + 9), (idiot, idiot + 5)],
            words: vec![(0, vec!["💯".into(), "idiot".into()])],
        };
        let keys = KeyMap::new(&["abusive", "violent"]);
        let view = View {
            item: &item,
            labels: &["abusive", "violent"],
            thresholds: &[0.359, 0.17],
            keys: &keys,
            proposal: &[true, false],
            highlights: &highlights,
            progress: (1, 1),
            tally: Tally::default(),
            in_file: 0,
            input_name: "c.csv",
            decisions_name: "d.csv",
            status: None,
        };
        let screen = render(&view, PLAIN, 80, 24);
        assert!(screen.contains("Top & bottom [[💯]] [[idiot]]"), "{screen}");
        assert!(!screen.contains("&amp;"), "{screen}");
    }

    #[test]
    fn screen_shows_progress_scores_words_and_help() {
        let item = QueueItem {
            id: "9".into(),
            text: "Shut your mouth, m0ron.".into(),
            line: 10,
            scores: vec![0.501, 0.026],
            flags: vec![true, false],
        };
        let highlights = Highlights {
            spans: vec![(17, 22)],
            words: vec![(0, vec!["m0ron".into()])],
        };
        let keys = KeyMap::new(&["abusive", "violent"]);
        let view = View {
            item: &item,
            labels: &["abusive", "violent"],
            thresholds: &[0.359, 0.17],
            keys: &keys,
            proposal: &[true, false],
            highlights: &highlights,
            progress: (3, 12),
            tally: Tally {
                saved: 2,
                undone_earlier: 0,
            },
            in_file: 5,
            input_name: "c.csv",
            decisions_name: "d.csv",
            status: Some("saved 4: abusive=1 violent=0"),
        };
        let screen = render(&view, PLAIN, 80, 24);
        for want in [
            "3/12",
            "id 9  (line 10 of c.csv)",
            "[a]  abusive  0.501      0.359  flag   YES",
            "[v]  violent  0.026      0.170  -      no",
            "words: abusive: m0ron",
            "Shut your mouth, [[m0ron]].",
            "saved 4: abusive=1 violent=0",
            "a abusive, v violent (toggle) | Enter save | c clear all",
        ] {
            assert!(screen.contains(want), "{want:?} not in\n{screen}");
        }
        assert!(!screen.contains('\x1b'));
        let screen = render(&view, COLOR, 80, 24);
        assert!(screen.starts_with("\x1b[H\x1b[2J"));
        assert!(screen.contains("\x1b[1;7mm0ron\x1b[0m"));
        // A short terminal cuts the text, not the help.
        let long = QueueItem {
            text: "word ".repeat(400),
            ..item.clone()
        };
        let view = View {
            item: &long,
            ..view
        };
        let screen = render(&view, PLAIN, 40, 20);
        assert!(screen.contains("more lines not shown"));
        assert!(screen.lines().count() <= 20, "{}", screen.lines().count());
        assert!(screen.contains("q quit"));
    }
}
