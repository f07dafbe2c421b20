//! Business hours: open or not, and the next opening, across days, week wrap and offsets.

use tandem_domain::{Millis, TimeZoneName};
use tandem_routing::{BusinessHours, OpenRange};

use crate::utc;

fn range(weekday: u8, start: (u16, u16), end: (u16, u16)) -> OpenRange {
    OpenRange { weekday, start_minute: start.0 * 60 + start.1, end_minute: end.0 * 60 + end.1 }
}

fn zone(name: &str) -> TimeZoneName {
    name.parse().unwrap()
}

fn offset(minutes: i32) -> TimeZoneName {
    TimeZoneName::fixed(minutes).unwrap()
}

/// Monday to Friday 09:00–18:00 local, at a fixed offset.
fn office(minutes: i32) -> BusinessHours {
    office_in(offset(minutes))
}

fn office_in(zone: TimeZoneName) -> BusinessHours {
    BusinessHours::new((0..5).map(|day| range(day, (9, 0), (18, 0))).collect(), zone)
}

#[test]
fn is_open_and_next_open() {
    // 2024-01-01 is a Monday; 2024-01-05 a Friday; 2024-01-07 a Sunday.
    let cases: &[(&str, BusinessHours, Millis, bool, Option<Millis>)] = &[
        (
            "always open",
            BusinessHours::always(),
            utc(2024, 1, 6, 3, 0),
            true,
            Some(utc(2024, 1, 6, 3, 0)),
        ),
        // UTC: Tuesday 10:00 is open.
        ("utc inside", office(0), utc(2024, 1, 2, 10, 0), true, Some(utc(2024, 1, 2, 10, 0))),
        ("utc at start", office(0), utc(2024, 1, 2, 9, 0), true, Some(utc(2024, 1, 2, 9, 0))),
        (
            "utc at end is closed",
            office(0),
            utc(2024, 1, 2, 18, 0),
            false,
            Some(utc(2024, 1, 3, 9, 0)),
        ),
        (
            "utc early morning",
            office(0),
            utc(2024, 1, 2, 7, 30),
            false,
            Some(utc(2024, 1, 2, 9, 0)),
        ),
        // Friday evening → Monday morning: across the weekend.
        ("utc weekend", office(0), utc(2024, 1, 5, 19, 0), false, Some(utc(2024, 1, 8, 9, 0))),
        // Beijing (+08:00): 09:00 local is 01:00 UTC.
        ("+480 inside", office(480), utc(2024, 1, 2, 2, 0), true, Some(utc(2024, 1, 2, 2, 0))),
        ("+480 before", office(480), utc(2024, 1, 2, 0, 30), false, Some(utc(2024, 1, 2, 1, 0))),
        // Friday 18:30 local = Friday 10:30 UTC → Monday 09:00 local = Monday 01:00 UTC.
        (
            "+480 friday evening",
            office(480),
            utc(2024, 1, 5, 10, 30),
            false,
            Some(utc(2024, 1, 8, 1, 0)),
        ),
        // Still Friday 17:00 in UTC but Saturday 01:00 local: closed.
        (
            "+480 saturday local",
            office(480),
            utc(2024, 1, 5, 17, 0),
            false,
            Some(utc(2024, 1, 8, 1, 0)),
        ),
        // Sunday 20:00 UTC = Monday 04:00 local: the local week has already wrapped.
        ("+480 week wrap", office(480), utc(2024, 1, 7, 20, 0), false, Some(utc(2024, 1, 8, 1, 0))),
        // New York-ish (-05:00): Sunday 22:00 local = Monday 03:00 UTC → Monday 14:00 UTC.
        (
            "-300 sunday night",
            office(-300),
            utc(2024, 1, 8, 3, 0),
            false,
            Some(utc(2024, 1, 8, 14, 0)),
        ),
        (
            "-300 monday inside",
            office(-300),
            utc(2024, 1, 8, 14, 0),
            true,
            Some(utc(2024, 1, 8, 14, 0)),
        ),
        // Only Sunday evenings: from Monday the next opening is six days later.
        (
            "sunday only, from monday",
            BusinessHours::new(vec![range(6, (20, 0), (24, 0))], offset(0)),
            utc(2024, 1, 8, 3, 0),
            false,
            Some(utc(2024, 1, 14, 20, 0)),
        ),
        (
            "sunday only, last minute",
            BusinessHours::new(vec![range(6, (20, 0), (24, 0))], offset(0)),
            utc(2024, 1, 7, 23, 59),
            true,
            Some(utc(2024, 1, 7, 23, 59)),
        ),
        (
            "sunday only, midnight closes",
            BusinessHours::new(vec![range(6, (20, 0), (24, 0))], offset(0)),
            utc(2024, 1, 8, 0, 0),
            false,
            Some(utc(2024, 1, 14, 20, 0)),
        ),
        // A night shift crossing midnight as two ranges, +480.
        (
            "night shift across midnight",
            BusinessHours::new(
                vec![range(0, (22, 0), (24, 0)), range(1, (0, 0), (6, 0))],
                offset(480),
            ),
            utc(2024, 1, 1, 17, 0), // Tuesday 01:00 local.
            true,
            Some(utc(2024, 1, 1, 17, 0)),
        ),
        (
            "night shift next week",
            BusinessHours::new(
                vec![range(0, (22, 0), (24, 0)), range(1, (0, 0), (6, 0))],
                offset(480),
            ),
            utc(2024, 1, 1, 23, 0), // Tuesday 07:00 local → next Monday 22:00 local.
            false,
            Some(utc(2024, 1, 8, 14, 0)),
        ),
        // Before 1970: negative instants work too (Monday 1969-12-29).
        (
            "before the epoch",
            office(0),
            utc(1969, 12, 28, 12, 0),
            false,
            Some(utc(1969, 12, 29, 9, 0)),
        ),
    ];
    for (name, hours, now, open, next) in cases {
        hours.validate().unwrap();
        assert_eq!(hours.is_open(*now), *open, "{name}: is_open");
        assert_eq!(hours.next_open(*now), *next, "{name}: next_open");
    }
}

#[test]
fn next_open_is_open_and_nothing_earlier_is() {
    let schedules = [office(480), office(-300), office(0), office(345)];
    for hours in &schedules {
        let mut now = utc(2024, 1, 1, 0, 0);
        while now < utc(2024, 1, 15, 0, 0) {
            let next = hours.next_open(now).unwrap();
            assert!(next >= now && hours.is_open(next));
            // Nothing between now and next is open (checked at 7-minute steps).
            let mut probe = now;
            while probe < next {
                assert!(!hours.is_open(probe), "{hours:?} open at {probe} before {next}");
                probe += 7 * 60_000;
            }
            now += 37 * 60_000;
        }
    }
}

#[test]
fn invalid_hours_are_refused() {
    for hours in [
        BusinessHours::new(vec![range(7, (9, 0), (10, 0))], offset(0)),
        BusinessHours::new(vec![range(1, (10, 0), (9, 0))], offset(0)),
        BusinessHours::new(vec![range(1, (10, 0), (10, 0))], offset(0)),
        BusinessHours::new(
            vec![OpenRange { weekday: 1, start_minute: 0, end_minute: 1441 }],
            offset(0),
        ),
    ] {
        assert!(hours.validate().is_err(), "{hours:?}");
    }
}

#[test]
fn a_zone_with_daylight_saving_opens_at_the_same_local_time_all_year() {
    let berlin = office_in(zone("Europe/Berlin"));
    // Winter (CET, +01:00): 09:00 local is 08:00 UTC. Monday 2024-01-08.
    assert!(!berlin.is_open(utc(2024, 1, 8, 7, 59)));
    assert!(berlin.is_open(utc(2024, 1, 8, 8, 0)));
    // Summer (CEST, +02:00): 09:00 local is 07:00 UTC. Monday 2024-07-08.
    assert!(berlin.is_open(utc(2024, 7, 8, 7, 0)));
    assert!(!berlin.is_open(utc(2024, 7, 8, 16, 0)), "18:00 local: closed");
    // Across the spring change (Sunday 2024-03-31): Friday evening in winter time, Monday
    // morning in summer time.
    assert_eq!(berlin.next_open(utc(2024, 3, 29, 18, 0)), Some(utc(2024, 4, 1, 7, 0)));
    // Across the autumn change (Sunday 2024-10-27): back to 08:00 UTC.
    assert_eq!(berlin.next_open(utc(2024, 10, 25, 17, 0)), Some(utc(2024, 10, 28, 8, 0)));
    // A start the clocks skip opens at the first instant that exists after it.
    let skipped = BusinessHours::new(vec![range(6, (2, 30), (4, 0))], zone("Europe/Berlin"));
    assert_eq!(skipped.next_open(utc(2024, 3, 30, 12, 0)), Some(utc(2024, 3, 31, 1, 30)));
}
