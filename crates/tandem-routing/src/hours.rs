//! Business hours: a weekly schedule in a fixed UTC offset. A closed queue assigns nobody; its
//! conversations wait for it to open.

use serde::{Deserialize, Serialize};
use tandem_domain::{Millis, OpenRange};

use crate::RoutingError;

const MINUTE: Millis = 60_000;
const DAY: Millis = 24 * 60 * MINUTE;
const WEEK: Millis = 7 * DAY;
/// The Unix epoch (1970-01-01) was a Thursday; weekdays count from Monday = 0.
const EPOCH_WEEKDAY: i64 = 3;
/// The widest real UTC offsets are -12:00 and +14:00; a little slack, nothing absurd.
const MAX_OFFSET_MINUTES: i32 = 18 * 60;

/// When a queue is staffed: open ranges (weekday 0 = Monday, minutes since local midnight,
/// `start_minute < end_minute <= 1440`) in local time at `utc_offset_minutes` (+480 for
/// Beijing). No ranges means always open. A range that crosses midnight is written as two.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BusinessHours {
    /// The open ranges; empty = always open.
    pub ranges: Vec<OpenRange>,
    /// Local time minus UTC, in minutes (fixed: no daylight saving).
    pub utc_offset_minutes: i32,
}

impl BusinessHours {
    /// Open around the clock.
    pub fn always() -> BusinessHours {
        BusinessHours::default()
    }

    pub fn new(ranges: Vec<OpenRange>, utc_offset_minutes: i32) -> BusinessHours {
        BusinessHours { ranges, utc_offset_minutes }
    }

    pub fn validate(&self) -> Result<(), RoutingError> {
        if self.utc_offset_minutes.abs() > MAX_OFFSET_MINUTES {
            return Err(RoutingError::Invalid(format!(
                "UTC offset {} minutes is out of range",
                self.utc_offset_minutes
            )));
        }
        for range in &self.ranges {
            if range.weekday > 6
                || range.start_minute >= range.end_minute
                || range.end_minute > 1440
            {
                return Err(RoutingError::Invalid(format!(
                    "opening range {range:?} needs weekday 0..=6 and start < end <= 1440"
                )));
            }
        }
        Ok(())
    }

    fn offset(&self) -> Millis {
        Millis::from(self.utc_offset_minutes) * MINUTE
    }

    /// Local midnight of the Monday of the week containing local time `local`, as local millis.
    fn week_start(local: Millis) -> Millis {
        let days = local.div_euclid(DAY);
        let weekday = (days + EPOCH_WEEKDAY).rem_euclid(7);
        (days - weekday) * DAY
    }

    /// Each range's local start and end in the week starting at `week_start`.
    fn spans(&self, week_start: Millis) -> impl Iterator<Item = (Millis, Millis)> + '_ {
        self.ranges.iter().map(move |range| {
            let day = week_start + Millis::from(range.weekday) * DAY;
            (
                day + Millis::from(range.start_minute) * MINUTE,
                day + Millis::from(range.end_minute) * MINUTE,
            )
        })
    }

    /// Whether the queue is open at `now`.
    pub fn is_open(&self, now: Millis) -> bool {
        if self.ranges.is_empty() {
            return true;
        }
        let local = now.saturating_add(self.offset());
        self.spans(Self::week_start(local)).any(|(start, end)| start <= local && local < end)
    }

    /// The first instant at or after `now` when the queue is open: `now` itself when it is open,
    /// `None` only when no range is valid (it never opens).
    pub fn next_open(&self, now: Millis) -> Option<Millis> {
        if self.is_open(now) {
            return Some(now);
        }
        let local = now.saturating_add(self.offset());
        let week_start = Self::week_start(local);
        self.spans(week_start)
            .filter(|(start, end)| start < end)
            .map(|(start, _)| if start > local { start } else { start + WEEK })
            .min()
            .map(|local_open| local_open - self.offset())
    }
}
