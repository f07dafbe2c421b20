//! `tandem report`: the KPIs of the console's Insight pages, from the store, with the same
//! definitions and the same code (`tandem_flow::Insight`) as the pages and the API.

use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use tandem_domain::{GroupBy, Kpis};
use tandem_flow::Insight;
use tandem_store::Store;

use crate::ConfigArgs;

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// First day (`2026-09-01`, in --tz) or RFC 3339 moment; default 30 days before --to.
    #[arg(long)]
    from: Option<String>,
    /// Last day (included) or RFC 3339 moment; default today.
    #[arg(long)]
    to: Option<String>,
    /// Group by day, week, channel, queue, agent, topic or handler (bot or people).
    #[arg(long)]
    by: Option<String>,
    /// The time zone days are counted in (an IANA name such as Asia/Shanghai, or UTC).
    #[arg(long, default_value = "UTC")]
    tz: String,
    /// Only conversations on this channel: web, email, api, wecom, wechat, feishu or dingtalk.
    #[arg(long)]
    channel: Option<String>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: ReportArgs) -> anyhow::Result<()> {
    let by = match args.by.as_deref() {
        Some(text) => Some(GroupBy::parse(text).with_context(|| {
            format!("--by {text}: use day, week, channel, queue, agent, topic or handler")
        })?),
        None => None,
    };
    let channel = match args.channel.as_deref() {
        Some(text) => Some(tandem_domain::Channel::parse(text).with_context(|| {
            format!("--channel {text}: use web, email, api, wecom, wechat, feishu or dingtalk")
        })?),
        None => None,
    };
    let time_zone = jiff::tz::TimeZone::get(&args.tz)
        .with_context(|| format!("--tz {}: not a time zone", args.tz))?;
    let config = args.config.load()?;
    let store: Arc<dyn Store> = crate::open_store(&config).await?.shared();
    let workspace = crate::kb::workspace(&store).await?;
    let insight = Insight::new(Arc::clone(&store));
    let context = insight.context(workspace, time_zone, tandem_store::now_millis()).await?;
    let period = (args.from.as_deref(), args.to.as_deref());
    let on_channel = |facts: &tandem_domain::ConversationFacts| {
        channel.is_none_or(|channel| facts.channel == channel)
    };
    let document = insight.document(workspace, period, by, &context, on_channel).await?;
    if args.json {
        println!("{}", serde_json::to_string(&document)?);
        return Ok(());
    }
    println!("{} – {}", document.from, document.to);
    println!("{}", header());
    println!("{}", line("total", &document.total));
    for row in &document.rows {
        let name = match &row.label {
            Some(label) => format!("{label} ({})", row.key),
            None if row.key.is_empty() => "(none)".to_owned(),
            None => row.key.clone(),
        };
        println!("{}", line(&name, &row.kpis));
    }
    Ok(())
}

fn header() -> String {
    format!(
        "{:<28} {:>7} {:>6} {:>6} {:>8} {:>8} {:>9} {:>6} {:>6} {:>5} {:>6}",
        "", "conv", "bot%", "hoff%", "frt_p50", "frt_p90", "res_p50", "fcr%", "csat", "n", "sla%"
    )
}

fn line(name: &str, kpis: &Kpis) -> String {
    let percent =
        |value: Option<f64>| value.map_or("-".to_owned(), |v| format!("{:.1}", v * 100.0));
    let seconds = |value: Option<f64>| value.map_or("-".to_owned(), duration);
    format!(
        "{:<28} {:>7} {:>6} {:>6} {:>8} {:>8} {:>9} {:>6} {:>6} {:>5} {:>6}",
        name.chars().take(28).collect::<String>(),
        kpis.conversations,
        percent(kpis.bot_resolution_rate),
        percent(kpis.handoff_rate),
        seconds(kpis.frt_p50),
        seconds(kpis.frt_p90),
        seconds(kpis.resolution_p50),
        percent(kpis.fcr),
        kpis.csat_avg.map_or("-".to_owned(), |v| format!("{v:.2}")),
        kpis.csat_responses,
        percent(kpis.sla_met),
    )
}

/// Seconds as the largest unit that keeps them short: `45s`, `12m`, `3.5h`, `2.1d`.
fn duration(seconds: f64) -> String {
    match seconds {
        s if s < 60.0 => format!("{s:.0}s"),
        s if s < 3_600.0 => format!("{:.0}m", s / 60.0),
        s if s < 86_400.0 => format!("{:.1}h", s / 3_600.0),
        s => format!("{:.1}d", s / 86_400.0),
    }
}
