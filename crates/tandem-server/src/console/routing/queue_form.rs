//! A queue's row as typed: name, description, skills, topics, times in minutes, opening hours
//! and time zone, read back into the queue's routing.

use serde::Deserialize;
use tandem_domain::validate;
use tandem_domain::{OpeningHours, Problem, Queue, QueueRouting, TimeZoneName, ValidationError};

use super::text_formats::{format_minutes, format_skills, parse_minutes, parse_skills};
use crate::console::fields::split_list;

/// Longest queue name and description, in characters.
const MAX_NAME: usize = 80;
const MAX_DESCRIPTION: usize = 500;

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
        let name = validate::one_line("name", &self.name, MAX_NAME)?;
        let description = self.description.trim();
        let chars = description.chars().count();
        if chars > MAX_DESCRIPTION {
            let problem = Problem::TooLong { max: MAX_DESCRIPTION, got: chars };
            return Err(ValidationError::new("description", problem));
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
                .map_err(|problem| ValidationError::new("hours", problem))?
                .0,
            time_zone: self
                .time_zone
                .parse::<TimeZoneName>()
                .map_err(|problem| ValidationError::new("time_zone", problem))?,
        })?;
        Ok((name, description.to_owned(), routing))
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
