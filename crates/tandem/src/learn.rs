//! `tandem learn`: what a knowledge base should learn from the conversations people handled.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use serde_json::{Value, json};
use tandem_knowledge::learn::{self, Suggestions};
use tandem_knowledge::{DecisionPolicy, Engine, calibrate, history};

use crate::eval::read_articles;

#[derive(Debug, Args)]
pub struct LearnArgs {
    /// Knowledge articles, one JSON object a line (the `tandem eval` shape; drafts are skipped).
    #[arg(long)]
    kb: PathBuf,
    /// Conversations, one JSON object a line, in the conversation history format.
    #[arg(long)]
    history: PathBuf,
    /// Print one JSON object instead of a report.
    #[arg(long)]
    json: bool,
    /// Write the knowledge base here with every proposed variant added to its article and each
    /// gap as a new article with `"status": "draft"`.
    #[arg(long, value_name = "OUT.jsonl")]
    apply: Option<PathBuf>,
}

pub fn run(args: LearnArgs) -> anyhow::Result<()> {
    let articles = read_articles(&args.kb)?;
    let name = args.history.display().to_string();
    let text =
        std::fs::read_to_string(&args.history).with_context(|| format!("cannot read {name}"))?;
    let conversations = match history::parse(&text) {
        Ok(conversations) => conversations,
        Err(errors) => {
            for error in &errors {
                eprintln!("{name}:{}: {}", error.line, error.message);
            }
            bail!("{} problem(s) found in {name}; nothing was learnt", errors.len());
        }
    };
    let engine = Engine::build(articles);
    let threshold = calibrate::calibrate(&engine)
        .map_or(tandem_knowledge::DEFAULT_THRESHOLD, |calibration| calibration.threshold);
    let policy = DecisionPolicy { threshold, ..DecisionPolicy::default() };
    let handled: Vec<learn::Handled> = conversations.iter().filter_map(learn::handled).collect();
    let suggestions = learn::learn(&engine, policy, &handled);
    let effect = learn::effect(&engine, policy, &handled, &suggestions.variants);
    if let Some(out) = &args.apply {
        apply(&args.kb, out, &suggestions)?;
    }
    if args.json {
        let mut value = serde_json::to_value(&suggestions)?;
        value["effect"] = serde_json::to_value(effect)?;
        println!("{value}");
        return Ok(());
    }
    println!(
        "{} conversations, {} answered by people; threshold {threshold:.2}",
        conversations.len(),
        handled.len()
    );
    println!("\n{} new question variant(s):", suggestions.variants.len());
    for variant in &suggestions.variants {
        println!(
            "  {:<24} {:?}  ({} conversation(s))",
            variant.article,
            variant.question,
            variant.conversation_ids.len()
        );
    }
    println!("\n{} knowledge gap(s):", suggestions.gaps.len());
    for gap in &suggestions.gaps {
        println!("  {} ({} conversations)", gap.label, gap.count);
        if !gap.daily.is_empty() {
            let days: Vec<String> =
                gap.daily.iter().map(|day| format!("{}: {}", day.date, day.count)).collect();
            println!("    by day: {}", days.join(", "));
        }
        for question in gap.questions.iter().take(3) {
            println!("      {question:?}");
        }
        println!("    agents said: {:?}", gap.suggested_answer);
    }
    if effect.questions > 0 {
        println!(
            "\non the {} answered questions whose reply says an article, the bot answers {:.0}% \
             with it now and {:.0}% with the variants (each measured without its own wording)",
            effect.questions,
            effect.before * 100.0,
            effect.after * 100.0
        );
    }
    if let Some(out) = &args.apply {
        println!("\nwrote {}", out.display());
    }
    Ok(())
}

/// Writes `kb` to `out` with the variants added (each line otherwise as it was) and the gaps
/// as draft articles after it. The file is written whole to a temporary name first, so a
/// failure leaves no half-written knowledge base.
fn apply(
    kb: &std::path::Path,
    out: &std::path::Path,
    suggestions: &Suggestions,
) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(kb).with_context(|| format!("cannot read {}", kb.display()))?;
    let mut written = String::new();
    let mut ids: Vec<String> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut article: Value = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: invalid line", kb.display(), index + 1))?;
        let id = article["id"].as_str().unwrap_or_default().to_owned();
        let added: Vec<Value> = suggestions
            .variants
            .iter()
            .filter(|variant| variant.article == id)
            .map(|variant| Value::from(variant.question.as_str()))
            .collect();
        if !added.is_empty() {
            match article.get_mut("questions").and_then(Value::as_array_mut) {
                Some(questions) => questions.extend(added),
                None => article["questions"] = Value::Array(added),
            }
        }
        ids.push(id);
        written.push_str(&serde_json::to_string(&article)?);
        written.push('\n');
    }
    for (number, gap) in suggestions.gaps.iter().enumerate() {
        let id = unique_id(&gap_id(&gap.terms, number + 1), &ids);
        let lang = tandem_text::detect_language(&gap.questions.join(" "))
            .map(|lang| lang.as_str())
            .unwrap_or("en");
        let draft = json!({
            "id": id,
            "title": gap.label,
            "questions": gap.questions,
            "answer": gap.suggested_answer,
            "lang": lang,
            "status": "draft",
        });
        ids.push(id);
        written.push_str(&serde_json::to_string(&draft)?);
        written.push('\n');
    }
    let partial = out.with_extension("jsonl.partial");
    std::fs::write(&partial, written)
        .with_context(|| format!("cannot write {}", partial.display()))?;
    std::fs::rename(&partial, out).with_context(|| format!("cannot write {}", out.display()))?;
    Ok(())
}

/// An article id for the `number`th gap: its terms where they are ASCII words
/// (`gap-canada-ship`), else its number (`gap-3`): article ids are `a-z 0-9 - _ .`.
fn gap_id(terms: &[String], number: usize) -> String {
    let ascii = !terms.is_empty()
        && terms
            .iter()
            .all(|term| term.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
    if ascii { format!("gap-{}", terms.join("-")) } else { format!("gap-{number}") }
}

fn unique_id(base: &str, taken: &[String]) -> String {
    let mut id = base.to_owned();
    let mut number = 2;
    while taken.contains(&id) {
        id = format!("{base}-{number}");
        number += 1;
    }
    id
}
