//! `GET /insight`: the KPIs of a period as tiles, per group as a table and as charts, and the
//! bottlenecks; every figure links to the conversations behind it.

use askama::Template;
use axum::extract::{Query, State};
use tandem_domain::{Channel, ConversationFacts, GroupBy, Kpis, Metric, ReportRow};
use tandem_locales::fill;

use super::bottlenecks::{self, BotFailure, GrowingReason, HourFigures};
use super::charts::{BarInput, Chart, Segment, bar_chart};
use super::{
    InsightQuery, Names, Narrow, Selection, duration, group_by_label, percent, rating,
    report_context, shift,
};
use crate::AppState;
use crate::console::{Chrome, PageAgent, PageError, PageResult, render, store_failed, text_for};
use crate::i18n::Text;

/// A headline figure.
#[derive(Debug)]
pub(super) struct Tile {
    id: &'static str,
    label: &'static str,
    value: String,
    /// A second line (the count behind a share, the p90 beside the p50).
    detail: String,
    href: String,
    /// A second link, to the conversations that pull the figure down.
    extra: Option<(String, String)>,
}

/// A table cell: a figure and the conversations behind it.
#[derive(Debug)]
pub(super) struct Cell {
    value: String,
    href: String,
}

#[derive(Debug)]
pub(super) struct GroupRow {
    key: String,
    label: String,
    cells: Vec<Cell>,
}

/// The first human response of one queue.
#[derive(Debug)]
pub(super) struct WaitRow {
    label: String,
    handed_off: Cell,
    frt_p50: Cell,
    frt_p90: Cell,
    sla_met: Cell,
}

#[derive(Debug)]
pub(super) struct HourRow {
    hour: String,
    handed_off: Cell,
    frt_p50: String,
    frt_p90: String,
}

#[derive(Debug)]
pub(super) struct FailureRow {
    label: String,
    handed_off: Cell,
}

#[derive(Debug)]
pub(super) struct GrowingRow {
    label: String,
    first: Cell,
    second: Cell,
}

#[derive(Template)]
#[template(path = "pages/insight.html")]
pub(super) struct InsightPage {
    chrome: Chrome,
    from: String,
    to: String,
    by_options: Vec<(&'static str, &'static str, bool)>,
    /// The channel filter: every channel, then each (value, label, selected).
    channel_options: Vec<(&'static str, &'static str, bool)>,
    /// An agent's page: their own conversations only.
    own_only: bool,
    period_line: String,
    error: Option<String>,
    tiles: Vec<Tile>,
    group_heading: &'static str,
    columns: Vec<&'static str>,
    rows: Vec<GroupRow>,
    total: GroupRow,
    charts: Vec<Chart>,
    waits: Vec<WaitRow>,
    hour_chart: Chart,
    hours: Vec<HourRow>,
    failures: Vec<FailureRow>,
    growing: Vec<GrowingRow>,
    export_link: String,
}

pub(super) async fn show_insight_page(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Query(query): Query<InsightQuery>,
) -> PageResult {
    let t = text_for(&agent);
    let context = report_context(&state, &agent).await?;
    // A period or grouping that does not read is said above the default page.
    let (selection, error) = match Selection::parse(context.clone(), &agent, &query) {
        Ok(selection) => (selection, None),
        Err(error) => {
            let fallback = Selection::parse(context, &agent, &InsightQuery::default())
                .map_err(|error| PageError::for_agent(&agent)(error.into()))?;
            (fallback, Some(t.invalid(&error)))
        }
    };
    let names = Names::load(&state, &agent).await?;
    let workspace = agent.user.workspace_id;
    let failed = store_failed(&agent);
    let visible = |facts: &ConversationFacts| selection.visible(facts);
    let report = state
        .insight
        .report(workspace, selection.period, Some(selection.by), &selection.context, visible)
        .await
        .map_err(&failed)?;

    let (start, end) = selection.period;
    let middle = start + (end - start) / 2;
    // The waits by queue, by hour, where the bot fails and the growing reasons all concern
    // only the handed-off conversations (a first human response and the SLA need a hand-off):
    // they are read from those, side by side.
    let context = &selection.context;
    let (by_queue, hours, failures, growing) = state
        .insight
        .select(workspace, selection.period, Metric::HandedOff, context, visible, |handed_off| {
            std::thread::scope(|scope| {
                let hours =
                    scope.spawn(|| bottlenecks::by_hour(handed_off, |at| selection.hour_of(at)));
                let failures = scope.spawn(|| bottlenecks::bot_failures(handed_off));
                let growing = scope.spawn(|| bottlenecks::growing_reasons(handed_off, middle));
                let by_queue = tandem_domain::insight::report_of(
                    handed_off,
                    &|_| true,
                    (start, end),
                    Some(GroupBy::Queue),
                    context,
                );
                let joined = "a bottleneck figure panicked";
                (
                    by_queue,
                    hours.join().expect(joined),
                    failures.join().expect(joined),
                    growing.join().expect(joined),
                )
            })
        })
        .await
        .map_err(&failed)?;
    let by = selection.by;
    let rows: Vec<GroupRow> = report
        .rows
        .iter()
        .map(|row| {
            group_row(t, &selection, Some(row.key.as_str()), names.key(by, &row.key), &row.kpis)
        })
        .collect();
    let total = group_row(t, &selection, None, t.insight_total.clone(), &report.total);
    let charts = vec![
        volume_chart(t, &selection, &names, &report.rows),
        handoff_chart(t, &selection, &names, &report.rows),
        frt_chart(t, &selection, &names, &report.rows),
    ];
    let page = InsightPage {
        chrome: Chrome::new(&agent, "insight"),
        by_options: GroupBy::ALL
            .iter()
            .map(|option| (option.as_str(), group_by_label(t, *option), *option == by))
            .collect(),
        channel_options: std::iter::once((
            "",
            t.inbox_all_channels.as_str(),
            selection.channel.is_none(),
        ))
        .chain(Channel::ALL.iter().map(|&channel| {
            (channel.as_str(), t.channel(channel), selection.channel == Some(channel))
        }))
        .collect(),
        own_only: selection.own.is_some(),
        period_line: fill(&t.insight_period, &[("from", &selection.from), ("to", &selection.to)]),
        error,
        tiles: tiles(t, &selection, &report.total),
        group_heading: group_by_label(t, by),
        columns: columns(t),
        rows,
        total,
        charts,
        waits: waits(t, &selection, &names, &by_queue.rows),
        hour_chart: hour_chart(t, &selection, &hours),
        hours: hour_rows(t, &selection, &hours),
        failures: failure_rows(&selection, &names, &failures),
        growing: growing_rows(t, &selection, growing),
        export_link: format!(
            "/insight/export.csv?{}",
            selection.query_string(
                (&selection.from, &selection.to),
                None,
                Metric::Conversations,
                Narrow::default()
            )
        ),
        from: selection.from.clone(),
        to: selection.to.clone(),
    };
    Ok(render(&page))
}

/// A value on a chart's axis: whole when it is, else to one decimal (the half of an axis up to 1).
fn axis(value: f64) -> String {
    if (value - value.round()).abs() < 1e-9 { format!("{value:.0}") } else { format!("{value:.1}") }
}

fn count(value: u64) -> String {
    value.to_string()
}

/// The headline figures, each a link to its population.
fn tiles(t: &'static Text, selection: &Selection, kpis: &Kpis) -> Vec<Tile> {
    let all = Narrow::default();
    let link = |metric| selection.link(None, metric, all);
    let of = |count: u64| fill(&t.insight_count_conversations, &[("count", &count)]);
    let p90 = |seconds| fill(&t.insight_p90_detail, &[("value", &duration(t, seconds))]);
    vec![
        Tile {
            id: "conversations",
            label: &t.insight_kpi_conversations,
            value: count(kpis.conversations),
            detail: String::new(),
            href: link(Metric::Conversations),
            extra: None,
        },
        Tile {
            id: "customers",
            label: &t.insight_kpi_customers,
            value: count(kpis.customers),
            detail: String::new(),
            href: link(Metric::Conversations),
            extra: None,
        },
        Tile {
            id: "bot_resolution_rate",
            label: &t.insight_kpi_bot_resolution,
            value: percent(kpis.bot_resolution_rate),
            detail: of(kpis.bot_resolved),
            href: link(Metric::BotResolved),
            extra: None,
        },
        Tile {
            id: "handoff_rate",
            label: &t.insight_kpi_handoff,
            value: percent(kpis.handoff_rate),
            detail: of(kpis.handed_off),
            href: link(Metric::HandedOff),
            extra: None,
        },
        Tile {
            id: "frt",
            label: &t.insight_kpi_frt,
            value: duration(t, kpis.frt_p50),
            detail: p90(kpis.frt_p90),
            href: link(Metric::Answered),
            extra: None,
        },
        Tile {
            id: "resolution",
            label: &t.insight_kpi_resolution,
            value: duration(t, kpis.resolution_p50),
            detail: p90(kpis.resolution_p90),
            href: link(Metric::Resolved),
            extra: None,
        },
        Tile {
            id: "handle",
            label: &t.insight_kpi_handle,
            value: duration(t, kpis.handle_p50),
            detail: p90(kpis.handle_p90),
            href: link(Metric::Resolved),
            extra: None,
        },
        Tile {
            id: "reopen_rate",
            label: &t.insight_kpi_reopen,
            value: percent(kpis.reopen_rate),
            detail: of(kpis.reopened),
            href: link(Metric::Reopened),
            extra: None,
        },
        Tile {
            id: "fcr",
            label: &t.insight_kpi_fcr,
            value: percent(kpis.fcr),
            detail: of(kpis.resolved),
            href: link(Metric::Resolved),
            extra: Some((
                t.insight_metric_not_first_contact.clone(),
                link(Metric::NotFirstContact),
            )),
        },
        Tile {
            id: "csat",
            label: &t.insight_kpi_csat,
            value: rating(kpis.csat_avg),
            detail: fill(
                &t.insight_csat_detail,
                &[("share", &percent(kpis.csat_score)), ("count", &kpis.csat_responses)],
            ),
            href: link(Metric::Rated),
            extra: Some((t.insight_metric_unhappy.clone(), link(Metric::Unhappy))),
        },
        Tile {
            id: "sla_met",
            label: &t.insight_kpi_sla,
            value: percent(kpis.sla_met),
            detail: String::new(),
            href: link(Metric::SlaMet),
            extra: Some((t.insight_metric_sla_missed.clone(), link(Metric::SlaMissed))),
        },
        Tile {
            id: "sentiment_shift",
            label: &t.insight_kpi_sentiment,
            value: shift(kpis.sentiment_shift),
            detail: String::new(),
            href: link(Metric::Conversations),
            extra: None,
        },
    ]
}

/// The table's figures after the group's name.
fn columns(t: &'static Text) -> Vec<&'static str> {
    vec![
        &t.insight_kpi_conversations,
        &t.insight_kpi_bot_resolution,
        &t.insight_kpi_handoff,
        &t.insight_col_frt_p50,
        &t.insight_col_frt_p90,
        &t.insight_col_resolution_p50,
        &t.insight_kpi_reopen,
        &t.insight_kpi_fcr,
        &t.insight_kpi_csat,
        &t.insight_kpi_sla,
    ]
}

fn group_row(
    t: &'static Text,
    selection: &Selection,
    key: Option<&str>,
    label: String,
    kpis: &Kpis,
) -> GroupRow {
    let cell = |value: String, metric| Cell {
        value,
        href: selection.link(key, metric, Narrow::default()),
    };
    GroupRow {
        key: key.unwrap_or_default().to_owned(),
        label,
        cells: vec![
            cell(count(kpis.conversations), Metric::Conversations),
            cell(percent(kpis.bot_resolution_rate), Metric::BotResolved),
            cell(percent(kpis.handoff_rate), Metric::HandedOff),
            cell(duration(t, kpis.frt_p50), Metric::Answered),
            cell(duration(t, kpis.frt_p90), Metric::Answered),
            cell(duration(t, kpis.resolution_p50), Metric::Resolved),
            cell(percent(kpis.reopen_rate), Metric::Reopened),
            cell(percent(kpis.fcr), Metric::Resolved),
            cell(rating(kpis.csat_avg), Metric::Rated),
            cell(percent(kpis.sla_met), Metric::SlaMet),
        ],
    }
}

/// A group's name under its bar: days and weeks by their day (the chart shortens it).
fn chart_label(by: GroupBy, key: &str, name: String) -> String {
    match by {
        GroupBy::Day | GroupBy::Week => key.to_owned(),
        _ => name,
    }
}

/// One part of a group's bar, before it is linked and titled.
struct Part {
    value: f64,
    /// The series: its CSS class and its name.
    series: (&'static str, &'static str),
    /// The figure as the bar's title reads it.
    figure: String,
    /// The conversations it links to (of its group).
    metric: Metric,
}

/// A bar per group, named under it as [`chart_label`] says, made of the `parts` (from the
/// bottom up) of the group's KPIs, each titled "group · series: figure" and linked to the
/// group's conversations of its metric.
fn group_bars(
    selection: &Selection,
    names: &Names,
    rows: &[ReportRow],
    parts: impl Fn(&Kpis) -> Vec<Part>,
) -> Vec<BarInput> {
    rows.iter()
        .map(|row| {
            let label = names.key(selection.by, &row.key);
            let segments = parts(&row.kpis)
                .into_iter()
                .map(|part| Segment {
                    value: part.value,
                    class: part.series.0,
                    href: selection.link(Some(&row.key), part.metric, Narrow::default()),
                    title: format!("{label} · {}: {}", part.series.1, part.figure),
                })
                .collect();
            BarInput { segments, label: chart_label(selection.by, &row.key, label) }
        })
        .collect()
}

/// Conversations per group: resolved by the bot, handed off, and the rest (with the bot, not
/// resolved yet), stacked.
fn volume_chart(
    t: &'static Text,
    selection: &Selection,
    names: &Names,
    rows: &[ReportRow],
) -> Chart {
    let bars = group_bars(selection, names, rows, |kpis| {
        let rest = kpis.conversations.saturating_sub(kpis.bot_resolved + kpis.handed_off);
        let part = |value: u64, series: (&'static str, &'static str), metric| Part {
            value: value as f64,
            series,
            figure: value.to_string(),
            metric,
        };
        vec![
            part(
                kpis.bot_resolved,
                ("series-bot", &t.insight_metric_bot_resolved),
                Metric::BotResolved,
            ),
            part(
                kpis.handed_off,
                ("series-people", &t.insight_metric_handed_off),
                Metric::HandedOff,
            ),
            part(rest, ("series-open", &t.insight_series_other), Metric::Conversations),
        ]
    });
    bar_chart(
        "chart-volume",
        t.insight_chart_volume.clone(),
        bars,
        vec![
            ("series-bot", t.insight_metric_bot_resolved.clone()),
            ("series-people", t.insight_metric_handed_off.clone()),
            ("series-open", t.insight_series_other.clone()),
        ],
        None,
        axis,
    )
}

/// The hand-off rate per group (0–100%).
fn handoff_chart(
    t: &'static Text,
    selection: &Selection,
    names: &Names,
    rows: &[ReportRow],
) -> Chart {
    let bars = group_bars(selection, names, rows, |kpis| {
        vec![Part {
            value: kpis.handoff_rate.unwrap_or(0.0) * 100.0,
            series: ("series-people", &t.insight_kpi_handoff),
            figure: percent(kpis.handoff_rate),
            metric: Metric::HandedOff,
        }]
    });
    bar_chart(
        "chart-handoff",
        t.insight_chart_handoff.clone(),
        bars,
        Vec::new(),
        Some(100.0),
        |value| format!("{value:.0}%"),
    )
}

/// The median first human response per group, in minutes.
fn frt_chart(t: &'static Text, selection: &Selection, names: &Names, rows: &[ReportRow]) -> Chart {
    let bars = group_bars(selection, names, rows, |kpis| {
        vec![Part {
            value: kpis.frt_p50.unwrap_or(0.0) / 60.0,
            series: ("series-wait", &t.insight_col_frt_p50),
            figure: duration(t, kpis.frt_p50),
            metric: Metric::Answered,
        }]
    });
    bar_chart("chart-frt", t.insight_chart_frt.clone(), bars, Vec::new(), None, |value| {
        fill(&t.insight_minutes, &[("value", &axis(value))])
    })
}

/// Where conversations wait: the first human response per queue.
fn waits(
    t: &'static Text,
    selection: &Selection,
    names: &Names,
    rows: &[ReportRow],
) -> Vec<WaitRow> {
    rows.iter()
        .filter(|row| row.kpis.handed_off > 0)
        .map(|row| {
            let link = |metric| {
                let mut queue = selection.clone();
                queue.by = GroupBy::Queue;
                queue.link(Some(&row.key), metric, Narrow::default())
            };
            WaitRow {
                label: names.key(GroupBy::Queue, &row.key),
                handed_off: Cell {
                    value: count(row.kpis.handed_off),
                    href: link(Metric::HandedOff),
                },
                frt_p50: Cell {
                    value: duration(t, row.kpis.frt_p50),
                    href: link(Metric::Answered),
                },
                frt_p90: Cell {
                    value: duration(t, row.kpis.frt_p90),
                    href: link(Metric::Answered),
                },
                sla_met: Cell { value: percent(row.kpis.sla_met), href: link(Metric::SlaMissed) },
            }
        })
        .collect()
}

fn hour_label(hour: i8) -> String {
    format!("{hour:02}:00")
}

fn hour_link(selection: &Selection, hour: i8) -> String {
    let narrow = Narrow { hour: Some(hour), ..Narrow::default() };
    selection.link(None, Metric::HandedOff, narrow)
}

/// Hand-offs by the hour of the day they happened, every hour drawn.
fn hour_chart(t: &'static Text, selection: &Selection, hours: &[HourFigures]) -> Chart {
    let bars = (0..24)
        .map(|hour| {
            let handed_off = hours
                .iter()
                .find(|figures| figures.hour == hour)
                .map_or(0, |figures| figures.handed_off);
            BarInput {
                label: hour_label(hour),
                segments: vec![Segment {
                    value: handed_off as f64,
                    class: "series-people",
                    href: hour_link(selection, hour),
                    title: format!(
                        "{} · {}: {handed_off}",
                        hour_label(hour),
                        t.insight_metric_handed_off
                    ),
                }],
            }
        })
        .collect();
    bar_chart("chart-hours", t.insight_chart_hours.clone(), bars, Vec::new(), None, axis)
}

fn hour_rows(t: &'static Text, selection: &Selection, hours: &[HourFigures]) -> Vec<HourRow> {
    hours
        .iter()
        .map(|figures| HourRow {
            hour: hour_label(figures.hour),
            handed_off: Cell {
                value: figures.handed_off.to_string(),
                href: hour_link(selection, figures.hour),
            },
            frt_p50: duration(t, figures.frt_p50),
            frt_p90: duration(t, figures.frt_p90),
        })
        .collect()
}

fn failure_rows(selection: &Selection, names: &Names, failures: &[BotFailure]) -> Vec<FailureRow> {
    failures
        .iter()
        .map(|failure| {
            let mut topic = selection.clone();
            topic.by = GroupBy::Topic;
            let narrow = Narrow { after_bot: true, ..Narrow::default() };
            FailureRow {
                label: names.key(GroupBy::Topic, &failure.topic),
                handed_off: Cell {
                    value: failure.handed_off.to_string(),
                    href: topic.link(Some(&failure.topic), Metric::HandedOff, narrow),
                },
            }
        })
        .collect()
}

/// Reasons that grew from the first half of the period to the second, each half a link.
fn growing_rows(
    t: &'static Text,
    selection: &Selection,
    growing: Vec<GrowingReason>,
) -> Vec<GrowingRow> {
    let (start, end) = selection.period;
    let middle = start + (end - start) / 2;
    let moment = |at| {
        jiff::Timestamp::from_millisecond(at).map(|moment| moment.to_string()).unwrap_or_default()
    };
    let (start, middle_text, end) = (moment(start), moment(middle), moment(end));
    growing
        .into_iter()
        .map(|GrowingReason { reason, first, second }| {
            let narrow = Narrow { reason: Some(reason), ..Narrow::default() };
            let link = |(from, to): (&str, &str)| {
                selection.link_within((from, to), None, Metric::HandedOff, narrow)
            };
            GrowingRow {
                label: t.reason(reason).to_owned(),
                first: Cell { value: first.to_string(), href: link((&start, &middle_text)) },
                second: Cell { value: second.to_string(), href: link((&middle_text, &end)) },
            }
        })
        .collect()
}
