//! A queue's row as typed: name, description, skills, topics, times in minutes, opening hours
//! and time zone, read back into the queue's routing.

use serde::Deserialize;
use tandem_domain::validate;
use tandem_domain::{OpeningHours, Queue, QueueRouting, TimeZoneName, ValidationError};

use super::text_formats::{format_minutes, format_skills, parse_minutes, parse_skills};
use crate::console::fields::{invalid, split_list};

/// A queue's form: stored values, or what was typed when saving it failed.
#[derive(Debug, Default, Deserialize)]
pub(super) struct QueueForm {
    #[serde(default)]
    pub(super) name: String,
    #[serde(default)]
    pub(super) description: String,
    #[serde(default)]
    pub(super) skills: String,
    #[serde(default)]
    pub(super) topics: String,
    #[serde(default)]
    pub(super) sla_minutes: String,
    #[serde(default)]
    pub(super) offer_timeout_minutes: String,
    #[serde(default)]
    pub(super) widen_after_minutes: String,
    #[serde(default)]
    pub(super) hours: String,
    #[serde(default)]
    pub(super) time_zone: String,
}

impl QueueForm {
    pub(super) fn from_queue(queue: &Queue) -> QueueForm {
        let routing = &queue.routing;
        QueueForm {
            name: queue.name.clone(),
            description: queue.description.clone(),
            skills: format_skills(&routing.skills),
            topics: routing.topics.join(", "),
            sla_minutes: format_minutes(routing.sla_ms),
            offer_timeout_minutes: format_minutes(routing.offer_timeout_ms),
            widen_after_minutes: format_minutes(routing.widen_after_ms),
            hours: OpeningHours(routing.hours.clone()).to_string(),
            time_zone: routing.time_zone.to_string(),
        }
    }

    /// The queue's name, description and routing as typed, checked.
    pub(super) fn parse(&self) -> Result<(String, String, QueueRouting), ValidationError> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 80 || name.chars().any(char::is_control) {
            return Err(invalid("name", "must be 1 to 80 characters on one line"));
        }
        let description = self.description.trim();
        if description.chars().count() > 500 {
            return Err(invalid("description", "must be at most 500 characters"));
        }
        let routing = validate::queue_routing(QueueRouting {
            skills: parse_skills(&self.skills)?,
            topics: split_list(&self.topics),
            sla_ms: parse_minutes("sla_minutes", &self.sla_minutes)?,
            offer_timeout_ms: parse_minutes("offer_timeout_minutes", &self.offer_timeout_minutes)?,
            widen_after_ms: parse_minutes("widen_after_minutes", &self.widen_after_minutes)?,
            hours: self
                .hours
                .parse::<OpeningHours>()
                .map_err(|error| invalid("hours", error.to_string()))?
                .0,
            time_zone: self
                .time_zone
                .parse::<TimeZoneName>()
                .map_err(|error| invalid("time_zone", error.to_string()))?,
        })?;
        Ok((name.to_owned(), description.to_owned(), routing))
    }
}

/// The form input a validation error is about.
pub(super) fn queue_input(field: &'static str) -> &'static str {
    match field {
        "sla_ms" => "sla_minutes",
        "offer_timeout_ms" => "offer_timeout_minutes",
        "widen_after_ms" => "widen_after_minutes",
        other => other,
    }
}
