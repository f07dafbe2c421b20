//! `tandem trends`: topics, their daily counts and spike alerts over a conversation history read
//! from standard input.

use std::io::Read;

use anyhow::{Context, bail};
use clap::Args;
use tandem_knowledge::{history, trends};

#[derive(Debug, Args)]
pub struct TrendsArgs {
    /// Print one JSON object instead of a report.
    #[arg(long)]
    json: bool,
    /// Only conversations from this day on (`YYYY-MM-DD`, as their `created_at` writes it).
    #[arg(long, value_name = "DATE")]
    from: Option<String>,
    /// Only conversations up to this day.
    #[arg(long, value_name = "DATE")]
    to: Option<String>,
}

pub fn run(args: TrendsArgs) -> anyhow::Result<()> {
    for date in [&args.from, &args.to].into_iter().flatten() {
        let valid = date.len() == 10
            && date
                .chars()
                .enumerate()
                .all(|(i, c)| if i == 4 || i == 7 { c == '-' } else { c.is_ascii_digit() });
        if !valid {
            bail!("{date}: a day is written YYYY-MM-DD");
        }
    }
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).context("cannot read standard input")?;
    let conversations = match history::parse(&text) {
        Ok(conversations) => conversations,
        Err(errors) => {
            for error in &errors {
                eprintln!("stdin:{}: {}", error.line, error.message);
            }
            bail!("{} problem(s) found; nothing was analysed", errors.len());
        }
    };
    let started = std::time::Instant::now();
    let found = trends::trends(&conversations, args.from.as_deref(), args.to.as_deref());
    if args.json {
        println!("{}", serde_json::to_string(&found)?);
        return Ok(());
    }
    println!(
        "{} conversations, {} topics, {} alert(s) in {:.1} s",
        found.conversations,
        found.topics.len(),
        found.alerts.len(),
        started.elapsed().as_secs_f64()
    );
    for alert in &found.alerts {
        println!(
            "\nALERT {} from {} ({} day(s)): {} conversations, {:.1} expected, score {:.1}",
            alert.label,
            alert.first_day,
            alert.days.len(),
            alert.count,
            alert.expected,
            alert.score
        );
    }
    println!("\ntopics (largest first):");
    for topic in found.topics.iter().take(20) {
        println!("  {:>6}  {}  [{}]", topic.count, topic.label, topic.id);
    }
    Ok(())
}
