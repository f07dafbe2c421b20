//! Business hours: a weekly schedule in a time zone (an IANA zone with its daylight-saving
//! rules, or a fixed offset). A closed queue assigns nobody; its conversations wait for it to
//! open.

use serde::{Deserialize, Serialize};
use tandem_domain::{Millis, OpenRange, TimeZoneName};

use crate::RoutingError;

/// When a queue is staffed: open ranges (weekday 0 = Monday, minutes since local midnight,
/// `start_minute < end_minute <= 1440`) in the local time of `time_zone` (`Asia/Shanghai`).
/// No ranges means always open. A range that crosses midnight is written as two. On the days
/// a zone changes its clocks, the ranges keep to the wall clock: `09:00` is nine o'clock local
/// time, summer or winter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct BusinessHours {
    /// The open ranges; empty = always open.
    pub ranges: Vec<OpenRange>,
    pub time_zone: TimeZoneName,
}

impl BusinessHours {
    /// Open around the clock.
    pub fn always() -> BusinessHours {
        BusinessHours::default()
    }

    pub fn new(ranges: Vec<OpenRange>, time_zone: TimeZoneName) -> BusinessHours {
        BusinessHours { ranges, time_zone }
    }

    pub fn validate(&self) -> Result<(), RoutingError> {
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

    /// `now` in the zone's local time.
    fn local(&self, now: Millis) -> Option<jiff::Zoned> {
        Some(jiff::Timestamp::from_millisecond(now).ok()?.to_zoned(self.time_zone.zone().clone()))
    }

    /// Whether the queue is open at `now`.
    pub fn is_open(&self, now: Millis) -> bool {
        if self.ranges.is_empty() {
            return true;
        }
        let Some(local) = self.local(now) else { return false };
        let weekday = local.weekday().to_monday_zero_offset() as u8;
        let minute = local.hour() as u16 * 60 + local.minute() as u16;
        self.ranges.iter().any(|range| {
            range.weekday == weekday && range.start_minute <= minute && minute < range.end_minute
        })
    }

    /// The first instant at or after `now` when the queue is open: `now` itself when it is open,
    /// `None` only when no range is valid (it never opens).
    pub fn next_open(&self, now: Millis) -> Option<Millis> {
        if self.is_open(now) {
            return Some(now);
        }
        let local = self.local(now)?;
        let zone = self.time_zone.zone();
        let today = local.date();
        // Every range starts within the next eight local days (a week, and today's late start).
        (0..=7i32)
            .filter_map(|days| today.checked_add(jiff::Span::new().days(days)).ok())
            .flat_map(|date| {
                let weekday = date.weekday().to_monday_zero_offset() as u8;
                self.ranges
                    .iter()
                    .filter(move |range| {
                        range.weekday == weekday && range.start_minute < range.end_minute
                    })
                    .map(move |range| (date, range.start_minute))
            })
            .filter_map(|(date, start)| {
                let (hour, minute) = ((start / 60) as i8, (start % 60) as i8);
                // A start the clocks skip (spring forward) opens at the first instant after it.
                let opens = date.at(hour, minute, 0, 0).to_zoned(zone.clone()).ok()?;
                Some(opens.timestamp().as_millisecond())
            })
            .filter(|opens| *opens > now)
            .min()
    }
}
