//! The routing test suite: one binary, a module per area.

mod hours;
mod lifecycle;
mod properties;
mod reference;
mod routing;

use std::collections::BTreeMap;

use tandem_domain::{Channel, ConversationId, Millis, QueueId, UserId};
use tandem_routing::{AgentConfig, ConversationRequest, Presence, QueueConfig};

pub const MINUTE: Millis = 60_000;
/// Tuesday 2024-01-02 10:00 UTC.
pub const T0: Millis = 1_704_189_600_000;

pub fn skills(list: &[(&str, u8)]) -> BTreeMap<String, u8> {
    list.iter().map(|&(name, level)| (name.to_owned(), level)).collect()
}

pub fn capacity(web: u32, email: u32, api: u32) -> BTreeMap<Channel, u32> {
    [(Channel::Web, web), (Channel::Email, email), (Channel::Api, api)].into_iter().collect()
}

/// An online agent taking `web` web conversations, never assigned before.
pub fn agent(id: i64, skill_list: &[(&str, u8)], web: u32) -> AgentConfig {
    AgentConfig {
        id: UserId(id),
        skills: skills(skill_list),
        capacity: capacity(web, 0, 0),
        presence: Presence::Online,
        last_assigned_at: None,
    }
}

pub fn queue(id: i64, skill_list: &[(&str, u8)]) -> QueueConfig {
    QueueConfig { skills: skills(skill_list), ..QueueConfig::new(QueueId(id)) }
}

/// A web conversation in `queue` enqueued at `enqueued_at`.
pub fn request(id: i64, queue: i64, enqueued_at: Millis) -> ConversationRequest {
    ConversationRequest::new(ConversationId(id), QueueId(queue), Channel::Web, enqueued_at)
}

/// Milliseconds since the epoch of a UTC date and time (proleptic Gregorian).
pub fn utc(year: i64, month: i64, day: i64, hour: i64, minute: i64) -> Millis {
    // Howard Hinnant's days_from_civil.
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    (days * 24 * 60 + hour * 60 + minute) * MINUTE
}

#[test]
fn utc_helper_matches_known_instants() {
    assert_eq!(utc(1970, 1, 1, 0, 0), 0);
    assert_eq!(utc(2024, 1, 2, 10, 0), T0);
}
