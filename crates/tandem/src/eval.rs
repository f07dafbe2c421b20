//! `tandem eval`: test the answer engine against labelled questions before going live.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use serde::Deserialize;
use tandem_knowledge::calibrate;
use tandem_knowledge::eval::{self, Case};
use tandem_knowledge::{Article, DecisionPolicy, Engine};

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Knowledge articles, one JSON object a line: {"id", "title", "questions", "answer", "lang"}.
    #[arg(long)]
    kb: PathBuf,
    /// Labelled questions, one a line: {"text", "expect"} (an article id, a list of ids, or null).
    #[arg(long)]
    cases: PathBuf,
    /// Print one JSON object instead of a report.
    #[arg(long)]
    json: bool,
    /// Confidence below which the engine abstains (default: the threshold learnt from the
    /// knowledge base, as a workspace gets it).
    #[arg(long)]
    threshold: Option<f32>,
    /// Also show the trade-off across thresholds from 0 to 0.95.
    #[arg(long)]
    sweep: bool,
}

/// A knowledge line as written in KB.jsonl; fields beyond these (lang, tags...) are allowed.
#[derive(Debug, Deserialize)]
struct ArticleLine {
    id: String,
    title: String,
    #[serde(default)]
    questions: Vec<String>,
    #[serde(default)]
    answer: String,
    /// `draft` articles are never answered.
    #[serde(default)]
    status: Option<String>,
}

/// The answerable articles of a KB.jsonl file: drafts (`"status": "draft"`) are left out.
pub(crate) fn read_articles(path: &Path) -> anyhow::Result<Vec<Article>> {
    Ok(read_jsonl::<ArticleLine>(path)?
        .into_iter()
        .filter(|line| line.status.as_deref() != Some("draft"))
        .map(|line| Article {
            id: line.id,
            title: line.title,
            questions: line.questions,
            answer: line.answer,
        })
        .collect())
}

/// Reads a JSONL file; any bad line fails the whole read with its line number.
pub(crate) fn read_jsonl<T: for<'de> Deserialize<'de>>(path: &Path) -> anyhow::Result<Vec<T>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut items = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let item = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: invalid line", path.display(), index + 1))?;
        items.push(item);
    }
    if items.is_empty() {
        bail!("{} has no entries", path.display());
    }
    Ok(items)
}

pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    let articles = read_articles(&args.kb)?;
    let cases: Vec<Case> = read_jsonl(&args.cases)?;
    let started = Instant::now();
    let engine = Engine::build(articles);
    let build_ms = started.elapsed().as_secs_f64() * 1000.0;
    let started = Instant::now();
    let calibration = calibrate::calibrate(&engine);
    let calibrate_ms = started.elapsed().as_secs_f64() * 1000.0;
    let runs = eval::run(&engine, &cases);
    let threshold = args
        .threshold
        .or(calibration.map(|calibration| calibration.threshold))
        .unwrap_or(tandem_knowledge::DEFAULT_THRESHOLD);
    let policy = DecisionPolicy { threshold, ..DecisionPolicy::default() };
    let metrics = eval::metrics(&engine, &cases, &runs, policy);
    let sweep: Vec<eval::Metrics> = if args.sweep {
        (0..20)
            .map(|step| {
                eval::metrics(
                    &engine,
                    &cases,
                    &runs,
                    DecisionPolicy { threshold: step as f32 * 0.05, ..policy },
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    if args.json {
        let mut value = serde_json::to_value(&metrics)?;
        value["articles"] = engine.articles().len().into();
        value["intent_model"] = engine.has_model().into();
        value["build_ms"] = ((build_ms * 10.0).round() / 10.0).into();
        value["calibrate_ms"] = ((calibrate_ms * 10.0).round() / 10.0).into();
        value["calibration"] = serde_json::to_value(calibration)?;
        if args.sweep {
            value["sweep"] = serde_json::to_value(&sweep)?;
        }
        println!("{value}");
        return Ok(());
    }
    println!(
        "{} articles ({}), {} cases; built in {build_ms:.0} ms",
        engine.articles().len(),
        if engine.has_model() { "retrieval + intent model" } else { "retrieval" },
        metrics.cases
    );
    match (args.threshold, calibration) {
        (Some(_), _) => println!("threshold {:.2} (as given)", metrics.threshold),
        (None, Some(calibration)) => println!(
            "threshold {:.2}, learnt from the articles in {calibrate_ms:.0} ms: expected precision \
             {:.0}%, {:.0}% of held-out variants answered, {:.0}% of uncovered and {:.0}% of \
             unrelated questions answered",
            metrics.threshold,
            calibration.precision * 100.0,
            calibration.covered_answered * 100.0,
            calibration.uncovered_answered * 100.0,
            calibration.unrelated_answered * 100.0,
        ),
        (None, None) => {
            println!(
                "threshold {:.2} (the default: too few variants to learn one)",
                metrics.threshold
            )
        }
    }
    println!("  top-1 accuracy        {:>6.1}%  (macro {:.1}%)", metrics.top1, metrics.macro_top1);
    println!("  in-scope answered     {:>6.1}%", metrics.inscope_acc);
    match metrics.oos_recall {
        Some(recall) => println!("  out-of-scope held     {recall:>6.1}%"),
        None => println!("  out-of-scope held        n/a  (no out-of-scope cases)"),
    }
    println!("  answer precision      {:>6.1}%", metrics.answer_precision);
    println!("  clarified             {:>6.1}%", metrics.clarify_rate);
    println!("  engine time           p50 {} µs, p99 {} µs", metrics.p50_us, metrics.p99_us);
    if args.sweep {
        println!("\nthreshold  in-scope  oos-held  precision  clarified");
        for row in &sweep {
            let oos =
                row.oos_recall.map_or_else(|| "n/a".to_owned(), |recall| format!("{recall:.1}"));
            println!(
                "   {:.2}     {:>6.1}   {:>7}    {:>6.1}     {:>6.1}",
                row.threshold, row.inscope_acc, oos, row.answer_precision, row.clarify_rate
            );
        }
    }
    let confusions = eval::confusions(&engine, &cases, &runs);
    if !confusions.is_empty() {
        println!("\nmost confused (expected → answered instead):");
        for (expected, got, count) in confusions.iter().take(10) {
            println!("  {count:>4} × {expected} → {got}");
        }
        println!("\nsample of wrong best candidates:");
        let mut shown = 0;
        for (case, run) in cases.iter().zip(&runs) {
            let Some(best) = run.candidates.first() else { continue };
            let got = &engine.articles()[best.article];
            if case.expect.is_some()
                && confusions.iter().any(|(_, wrong, _)| *wrong == got.id)
                && !matches!(&case.expect, Some(eval::Expected::One(id)) if *id == got.id)
            {
                println!("  {:?} → {} ({:.2})", case.text, got.id, best.score);
                shown += 1;
                if shown == 10 {
                    break;
                }
            }
        }
    }
    Ok(())
}
