//! Insight: the KPIs of the conversations of a period (`page.rs`: tiles, a table per group,
//! charts drawn as SVG on the server, and where conversations wait and the bot fails), the
//! conversations behind any figure (`conversations.rs`) and the same list as a CSV file
//! (`export.rs`). Every figure is `tandem_domain::insight`'s, computed by `state.insight`, and
//! every figure links to the conversations it counts.
//!
//! Supervisors and admins see the whole workspace; an agent sees the same pages over the
//! conversations they answered only ([`Selection::keeps`]).

mod bottlenecks;
mod charts;
mod conversations;
pub(super) mod export;
mod page;

use std::collections::HashMap;

use axum::Router;
use axum::routing::get;
use serde::Deserialize;
use tandem_domain::{
    Channel, ConversationFacts, GroupBy, Handler, Metric, Millis, Problem, QueueId, Reason,
    ReportContext, UserId, ValidationError,
};
use tandem_locales::fill;

use crate::AppState;
use crate::auth::Agent;
use crate::console::{PageError, store_failed, text_for};
use crate::i18n::Text;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/insight", get(page::show_insight_page))
        .route("/insight/conversations", get(conversations::show_insight_conversations))
        .route("/insight/export.csv", get(export::export_insight_csv))
}

/// What the address asks for: the period, the grouping and, for the conversations behind a
/// figure, the group, the metric and the bottleneck that narrows them. Everything is text so
/// that a bad value is worded for the agent rather than refused by the extractor.
#[derive(Debug, Default, Clone, Deserialize)]
pub(super) struct InsightQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    by: String,
    /// The group's key (present, even empty, when a group is meant).
    key: Option<String>,
    #[serde(default)]
    metric: String,
    /// Only conversations handed off in this hour of the day (0–23).
    #[serde(default)]
    hour: String,
    /// `1`: only conversations the bot had replied in before the hand-off.
    #[serde(default)]
    bot: String,
    /// Only conversations handed off for this reason.
    #[serde(default)]
    reason: String,
    /// Only conversations on this channel (`web`, `email`...).
    #[serde(default)]
    channel: String,
}

/// Narrows a drill-down to a bottleneck.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(super) struct Narrow {
    pub(super) hour: Option<i8>,
    pub(super) after_bot: bool,
    pub(super) reason: Option<Reason>,
}

/// A request read: the report's context and period, and what is selected in it.
#[derive(Debug, Clone)]
pub(super) struct Selection {
    pub(super) context: ReportContext,
    pub(super) period: (Millis, Millis),
    /// The period's ends as the form shows them (days, or moments when asked so).
    pub(super) from: String,
    pub(super) to: String,
    pub(super) by: GroupBy,
    /// The group a drill-down lists.
    pub(super) key: Option<String>,
    pub(super) metric: Metric,
    pub(super) narrow: Narrow,
    /// An agent sees only the conversations they answered.
    pub(super) own: Option<UserId>,
    /// Only one channel's conversations, figures included.
    pub(super) channel: Option<Channel>,
}

impl Selection {
    /// Reads the query for `agent` in `context`; a value that does not read is refused with
    /// the field it was given for.
    pub(super) fn parse(
        context: ReportContext,
        agent: &Agent,
        query: &InsightQuery,
    ) -> Result<Selection, ValidationError> {
        let (period, (from, to)) =
            tandem_domain::insight::period(given(&query.from), given(&query.to), &context)?;
        let by = given(&query.by)
            .map(|by| one_of("by", by, GroupBy::ALL, GroupBy::as_str))
            .transpose()?
            .unwrap_or(GroupBy::Day);
        let metric = given(&query.metric)
            .map(|metric| one_of("metric", metric, Metric::ALL, Metric::as_str))
            .transpose()?
            .unwrap_or(Metric::Conversations);
        let hour = match given(&query.hour) {
            None => None,
            Some(hour) => Some(
                hour.parse::<i8>()
                    .ok()
                    .filter(|hour| (0..24).contains(hour))
                    .ok_or_else(|| ValidationError::new("hour", Problem::out_of_range(0, 23)))?,
            ),
        };
        let reason = given(&query.reason)
            .map(|reason| one_of("reason", reason, Reason::ALL, Reason::as_str))
            .transpose()?;
        let channel = given(&query.channel)
            .map(|channel| one_of("channel", channel, Channel::ALL, Channel::as_str))
            .transpose()?;
        Ok(Selection {
            context,
            period,
            from,
            to,
            by,
            key: query.key.clone(),
            metric,
            narrow: Narrow { hour, after_bot: query.bot.trim() == "1", reason },
            own: tandem_domain::permissions::reports_limited_to(&agent.user),
            channel,
        })
    }

    /// [`Self::parse`] now, a refused value as the error page.
    pub(super) async fn read(
        state: &AppState,
        agent: &Agent,
        query: &InsightQuery,
    ) -> Result<Selection, PageError> {
        let context = report_context(state, agent).await?;
        Selection::parse(context, agent, query)
            .map_err(|error| PageError::for_agent(agent)(error.into()))
    }

    /// Whether a conversation may be shown to this reader and fits the bottleneck asked for.
    pub(super) fn keeps(&self, facts: &ConversationFacts) -> bool {
        if !self.visible(facts) {
            return false;
        }
        if let Some(hour) = self.narrow.hour
            && facts.handed_off_at.is_none_or(|at| self.hour_of(at) != hour)
        {
            return false;
        }
        if self.narrow.after_bot && facts.bot_messages == 0 {
            return false;
        }
        if let Some(reason) = self.narrow.reason
            && !facts.reasons.contains(&reason)
        {
            return false;
        }
        true
    }

    /// Whether a conversation may be shown to this reader at all (the figures of the page).
    pub(super) fn visible(&self, facts: &ConversationFacts) -> bool {
        self.own.is_none_or(|me| facts.agent_id == Some(me))
            && self.channel.is_none_or(|channel| facts.channel == channel)
    }

    /// The hour of the day a moment falls in, in the report's time zone.
    pub(super) fn hour_of(&self, at: Millis) -> i8 {
        // The zone's offset at that moment (no calendar: this runs per hand-off of the period);
        // a fixed zone (UTC, +08:00) needs no lookup.
        let zone = &self.context.time_zone;
        let offset = match zone.to_fixed_offset() {
            Ok(fixed) => fixed.seconds(),
            Err(_) => match jiff::Timestamp::from_millisecond(at) {
                Ok(moment) => zone.to_offset(moment).seconds(),
                Err(_) => return 0,
            },
        };
        let offset = i64::from(offset);
        ((at.div_euclid(1000) + offset).rem_euclid(86_400) / 3_600) as i8
    }

    /// The address of the conversations behind a figure of this period: in `group` (the
    /// selection's grouping and a key) when given, in `metric`'s population, narrowed.
    pub(super) fn link(&self, group: Option<&str>, metric: Metric, narrow: Narrow) -> String {
        self.link_within((&self.from, &self.to), group, metric, narrow)
    }

    /// [`Self::link`] over another period (written as `from` and `to` read it).
    pub(super) fn link_within(
        &self,
        (from, to): (&str, &str),
        group: Option<&str>,
        metric: Metric,
        narrow: Narrow,
    ) -> String {
        format!("/insight/conversations?{}", self.query_string((from, to), group, metric, narrow))
    }

    /// The query string naming a selection, as [`InsightQuery`] reads it.
    pub(super) fn query_string(
        &self,
        (from, to): (&str, &str),
        group: Option<&str>,
        metric: Metric,
        narrow: Narrow,
    ) -> String {
        let hour = narrow.hour.map(|hour| hour.to_string());
        let mut pairs: Vec<(&str, &str)> =
            vec![("from", from), ("to", to), ("by", self.by.as_str())];
        if let Some(key) = group {
            pairs.push(("key", key));
        }
        pairs.push(("metric", metric.as_str()));
        if let Some(hour) = &hour {
            pairs.push(("hour", hour));
        }
        if narrow.after_bot {
            pairs.push(("bot", "1"));
        }
        if let Some(reason) = narrow.reason {
            pairs.push(("reason", reason.as_str()));
        }
        if let Some(channel) = self.channel {
            pairs.push(("channel", channel.as_str()));
        }
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }

    /// The group the selection lists, when it names one.
    pub(super) fn group(&self) -> Option<(GroupBy, &str)> {
        self.key.as_deref().map(|key| (self.by, key))
    }

    /// How many conversations the selection lists, and the newest `limit` of them (`usize::MAX`:
    /// all), newest first.
    pub(super) async fn conversations(
        &self,
        state: &AppState,
        agent: &Agent,
        limit: usize,
    ) -> Result<(usize, Vec<ConversationFacts>), PageError> {
        state
            .insight
            .conversations_page(
                agent.user.workspace_id,
                self.period,
                self.group(),
                self.metric,
                &self.context,
                |facts| self.keeps(facts),
                limit,
            )
            .await
            .map_err(store_failed(agent))
    }
}

/// A query value, unless it is empty.
fn given(text: &str) -> Option<&str> {
    Some(text.trim()).filter(|text| !text.is_empty())
}

/// `text` as the one of `all` that `code` names so, or the error saying what `field` may be.
fn one_of<T: Copy>(
    field: &'static str,
    text: &str,
    all: &[T],
    code: fn(T) -> &'static str,
) -> Result<T, ValidationError> {
    all.iter().copied().find(|value| code(*value) == text).ok_or_else(|| {
        let allowed: Vec<&str> = all.iter().map(|value| code(*value)).collect();
        ValidationError::new(field, Problem::not_one_of(text, &allowed))
    })
}

/// The workspace's report context now. Workspaces keep no time zone of their own, so reports
/// are in UTC.
pub(super) async fn report_context(
    state: &AppState,
    agent: &Agent,
) -> Result<ReportContext, PageError> {
    state
        .insight
        .context(agent.user.workspace_id, jiff::tz::TimeZone::UTC, tandem_store::now_millis())
        .await
        .map_err(store_failed(agent))
}

/// What ids and codes are called, in the reader's language.
pub(super) struct Names {
    t: &'static Text,
    queues: HashMap<QueueId, String>,
    agents: HashMap<UserId, String>,
    /// Article keys and `action:<key>` to titles and names.
    topics: HashMap<String, String>,
}

impl Names {
    pub(super) async fn load(state: &AppState, agent: &Agent) -> Result<Names, PageError> {
        let workspace = agent.user.workspace_id;
        let failed = store_failed(agent);
        let queues = state.store.queues(workspace).await.map_err(&failed)?;
        let users = state.store.users(workspace).await.map_err(&failed)?;
        let articles = state.store.articles(workspace).await.map_err(&failed)?;
        let actions = state.store.actions(workspace).await.map_err(&failed)?;
        let mut topics: HashMap<String, String> =
            articles.into_iter().map(|article| (article.key, article.title)).collect();
        topics.extend(
            actions.into_iter().map(|action| (format!("action:{}", action.key), action.name)),
        );
        Ok(Names {
            t: text_for(agent),
            queues: queues.into_iter().map(|queue| (queue.id, queue.name)).collect(),
            agents: users.into_iter().map(|user| (user.id, user.display_name)).collect(),
            topics,
        })
    }

    fn none(&self) -> String {
        self.t.insight_none.clone()
    }

    /// A group's key as people read it.
    pub(super) fn key(&self, by: GroupBy, key: &str) -> String {
        match by {
            GroupBy::Day => key.to_owned(),
            GroupBy::Week => fill(&self.t.insight_week_of, &[("day", &key)]),
            GroupBy::Channel => Channel::parse(key)
                .map_or_else(|| key.to_owned(), |channel| self.channel(channel).to_owned()),
            GroupBy::Queue => self.queue(key.parse().ok().map(QueueId)),
            GroupBy::Agent => self.agent(key.parse().ok().map(UserId)),
            GroupBy::Topic => self.topic((!key.is_empty()).then_some(key)),
            GroupBy::Handler => match Handler::parse(key) {
                Some(Handler::Bot) => self.t.insight_handler_bot.clone(),
                Some(Handler::People) => self.t.insight_handler_people.clone(),
                None => key.to_owned(),
            },
        }
    }

    pub(super) fn queue(&self, queue: Option<QueueId>) -> String {
        match queue {
            None => self.none(),
            Some(queue) => self.queues.get(&queue).cloned().unwrap_or_else(|| queue.0.to_string()),
        }
    }

    pub(super) fn agent(&self, agent: Option<UserId>) -> String {
        match agent {
            None => self.none(),
            Some(agent) => self.agents.get(&agent).cloned().unwrap_or_else(|| agent.0.to_string()),
        }
    }

    pub(super) fn topic(&self, topic: Option<&str>) -> String {
        match topic {
            None | Some("") => self.none(),
            Some(topic) => self.topics.get(topic).cloned().unwrap_or_else(|| topic.to_owned()),
        }
    }

    pub(super) fn channel(&self, channel: Channel) -> &'static str {
        self.t.channel(channel)
    }

    pub(super) fn reasons(&self, reasons: &[Reason]) -> String {
        let labels: Vec<&str> = reasons.iter().map(|reason| self.t.reason(*reason)).collect();
        labels.join(&self.t.insight_list_separator)
    }
}

/// What a metric's conversations are called, for the drill-down's heading.
pub(super) fn metric_label(t: &'static Text, metric: Metric) -> &'static str {
    match metric {
        Metric::Conversations => &t.insight_metric_conversations,
        Metric::BotResolved => &t.insight_metric_bot_resolved,
        Metric::HandedOff => &t.insight_metric_handed_off,
        Metric::Answered => &t.insight_metric_answered,
        Metric::Resolved => &t.insight_metric_resolved,
        Metric::Reopened => &t.insight_metric_reopened,
        Metric::NotFirstContact => &t.insight_metric_not_first_contact,
        Metric::Rated => &t.insight_metric_rated,
        Metric::Unhappy => &t.insight_metric_unhappy,
        Metric::SlaMet => &t.insight_metric_sla_met,
        Metric::SlaMissed => &t.insight_metric_sla_missed,
    }
}

/// What a grouping is called, for the selector and the table's first column.
pub(super) fn group_by_label(t: &'static Text, by: GroupBy) -> &'static str {
    match by {
        GroupBy::Day => &t.insight_by_day,
        GroupBy::Week => &t.insight_by_week,
        GroupBy::Channel => &t.insight_by_channel,
        GroupBy::Queue => &t.insight_by_queue,
        GroupBy::Agent => &t.insight_by_agent,
        GroupBy::Topic => &t.insight_by_topic,
        GroupBy::Handler => &t.insight_by_handler,
    }
}

/// A figure that may have nothing to measure.
pub(super) const NOTHING: &str = "—";

/// A share as a whole percentage.
pub(super) fn percent(share: Option<f64>) -> String {
    share.map_or_else(|| NOTHING.to_owned(), |share| format!("{:.0}%", share * 100.0))
}

/// A duration in seconds in the unit that reads best.
pub(super) fn duration(t: &'static Text, seconds: Option<f64>) -> String {
    let Some(seconds) = seconds else { return NOTHING.to_owned() };
    let (sentence, value) = if seconds < 90.0 {
        (&t.insight_seconds, format!("{seconds:.0}"))
    } else if seconds < 90.0 * 60.0 {
        (&t.insight_minutes, format!("{:.1}", seconds / 60.0))
    } else if seconds < 48.0 * 3600.0 {
        (&t.insight_hours, format!("{:.1}", seconds / 3600.0))
    } else {
        (&t.insight_days, format!("{:.1}", seconds / 86_400.0))
    };
    fill(sentence, &[("value", &value)])
}

/// A mean rating.
pub(super) fn rating(average: Option<f64>) -> String {
    average.map_or_else(|| NOTHING.to_owned(), |average| format!("{average:.2}"))
}

/// A sentiment shift, signed.
pub(super) fn shift(value: Option<f64>) -> String {
    value.map_or_else(|| NOTHING.to_owned(), |value| format!("{value:+.2}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_their_unit() {
        let en = &crate::i18n::EN;
        assert_eq!(duration(en, None), NOTHING);
        assert_eq!(duration(en, Some(42.0)), "42 s");
        assert_eq!(duration(en, Some(150.0)), "2.5 min");
        assert_eq!(duration(en, Some(3.0 * 3600.0)), "3.0 h");
        assert_eq!(duration(en, Some(3.0 * 86_400.0)), "3.0 d");
        assert_eq!(percent(Some(0.256)), "26%");
        assert_eq!(shift(Some(0.5)), "+0.50");
    }
}
