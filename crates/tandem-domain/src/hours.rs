//! What people type for routing, read into values: weekly opening hours
//! (`mon-fri 09:00-18:00, sat 10:00-16:00`), skills with levels (`refunds:4, lang:zh:5`) and
//! time zones (`Asia/Shanghai`, `+08:00`). Each parses with [`FromStr`] into a typed value, or
//! the [`Problem`] that says why it does not read, and [`Display`](std::fmt::Display)s back to
//! what it reads, so a form shows what was saved in the form it is typed.
//!
//! Time zones come from the IANA database bundled into the binary (through `jiff`), so a
//! queue in `Europe/Berlin` opens at 09:00 local time in summer and in winter alike, and
//! looking a zone up reads no file.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{OpenRange, Problem};

/// A week of opening hours: ranges of a weekday (0 = Monday) and minutes since local midnight.
/// Empty means always open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpeningHours(pub Vec<OpenRange>);

const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const WEEKDAY_NAMES: [&str; 7] =
    ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
const RANGE_SEPARATORS: [char; 4] = ['-', '–', '~', '至'];

/// A weekday (0 = Monday) by its English name or abbreviation, or in Chinese (`周一`, `星期日`).
fn weekday(name: &str) -> Option<u8> {
    let name = name.trim().to_lowercase();
    if let Some(index) = WEEKDAYS.iter().position(|day| *day == name) {
        return Some(index as u8);
    }
    if let Some(index) = WEEKDAY_NAMES.iter().position(|day| *day == name) {
        return Some(index as u8);
    }
    let chinese = ["周", "星期", "礼拜"].iter().find_map(|prefix| name.strip_prefix(prefix))?;
    match chinese {
        "一" => Some(0),
        "二" => Some(1),
        "三" => Some(2),
        "四" => Some(3),
        "五" => Some(4),
        "六" => Some(5),
        "日" | "天" => Some(6),
        _ => None,
    }
}

/// `mon`, `mon-fri`, `fri-mon` (wrapping), `daily`: the weekdays, in order.
fn days(text: &str) -> Option<Vec<u8>> {
    if matches!(text.to_lowercase().as_str(), "daily" | "everyday" | "每天" | "每日") {
        return Some((0..7).collect());
    }
    let mut parts = text.split(RANGE_SEPARATORS);
    let first = weekday(parts.next()?)?;
    let last = match parts.next() {
        Some(part) => weekday(part)?,
        None => first,
    };
    if parts.next().is_some() {
        return None;
    }
    let span = (last + 7 - first) % 7;
    Some((0..=span).map(|step| (first + step) % 7).collect())
}

/// `09:00` or `9` to minutes since midnight; `24:00` is the end of the day.
fn clock(text: &str) -> Option<u16> {
    let (hours, minutes) = text.trim().split_once(':').unwrap_or((text.trim(), "0"));
    let all_digits = |part: &str| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit());
    if !all_digits(hours) || !all_digits(minutes) || hours.len() > 2 || minutes.len() > 2 {
        return None;
    }
    let (hours, minutes) = (hours.parse::<u16>().ok()?, minutes.parse::<u16>().ok()?);
    match (hours, minutes) {
        (24, 0) => Some(1440),
        (0..=23, 0..=59) => Some(hours * 60 + minutes),
        _ => None,
    }
}

fn clock_range(text: &str) -> Option<(u16, u16)> {
    let (start, end) = text.split_once(RANGE_SEPARATORS)?;
    Some((clock(start)?, clock(end)?))
}

fn format_clock(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Opening hours as typed: items separated by commas, each days then one or more time ranges,
/// as in `mon-fri 09:00-18:00, sat 10:00-16:00` or `周一-周五 09:00-12:00 13:00-18:00`. A range
/// that ends before it starts runs past midnight into the next day. Empty means always open.
impl FromStr for OpeningHours {
    type Err = Problem;

    fn from_str(text: &str) -> Result<OpeningHours, Problem> {
        let mut ranges: Vec<OpenRange> = Vec::new();
        for item in text.split([',', '，', ';', '；', '\n']).map(str::trim) {
            if item.is_empty() {
                continue;
            }
            // `mon - fri 09:00 - 18:00` reads as `mon-fri 09:00-18:00`.
            let mut item = item.to_owned();
            for separator in RANGE_SEPARATORS {
                item = item
                    .split(separator)
                    .map(str::trim)
                    .collect::<Vec<_>>()
                    .join(&separator.to_string());
            }
            let mut words = item.split_whitespace();
            let days_text = words.next().unwrap_or_default();
            let times: Vec<&str> = words.collect();
            let Some(days) = days(days_text) else {
                return Err(if clock_range(days_text).is_some() {
                    Problem::HoursItem { item: item.clone() }
                } else {
                    Problem::NotWeekdays { days: days_text.to_owned() }
                });
            };
            if times.is_empty() {
                return Err(Problem::HoursItem { item: item.clone() });
            }
            for time in times {
                let Some((start, end)) = clock_range(time) else {
                    return Err(Problem::NotTimeRange { time: time.to_owned() });
                };
                if start == end {
                    return Err(Problem::SameTime { time: time.to_owned() });
                }
                for &day in &days {
                    if start < end {
                        ranges.push(OpenRange {
                            weekday: day,
                            start_minute: start,
                            end_minute: end,
                        });
                        continue;
                    }
                    // Past midnight: the rest of this day and the start of the next.
                    if start < 1440 {
                        ranges.push(OpenRange {
                            weekday: day,
                            start_minute: start,
                            end_minute: 1440,
                        });
                    }
                    if end > 0 {
                        let next = (day + 1) % 7;
                        ranges.push(OpenRange { weekday: next, start_minute: 0, end_minute: end });
                    }
                }
            }
        }
        ranges.sort_by_key(|range| (range.weekday, range.start_minute, range.end_minute));
        ranges.dedup();
        Ok(OpeningHours(ranges))
    }
}

/// Days with the same hours grouped into ranges of weekdays (`mon-fri 09:00-18:00, sat
/// 10:00-16:00`): what [`OpeningHours::from_str`] reads back to the same ranges.
impl fmt::Display for OpeningHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut by_time: BTreeMap<(u16, u16), Vec<u8>> = BTreeMap::new();
        for range in &self.0 {
            by_time.entry((range.start_minute, range.end_minute)).or_default().push(range.weekday);
        }
        // (first weekday, start, text)
        let mut items: Vec<(u8, u16, String)> = Vec::new();
        for ((start, end), mut days) in by_time {
            days.sort_unstable();
            days.dedup();
            let mut index = 0;
            while index < days.len() {
                let first = days[index];
                let mut last = first;
                while index + 1 < days.len() && days[index + 1] == last + 1 {
                    index += 1;
                    last = days[index];
                }
                index += 1;
                let name = |day: u8| WEEKDAYS.get(usize::from(day)).copied().unwrap_or("?");
                let days_text = if first == last {
                    name(first).to_owned()
                } else {
                    format!("{}-{}", name(first), name(last))
                };
                let text = format!("{days_text} {}-{}", format_clock(start), format_clock(end));
                items.push((first, start, text));
            }
        }
        items.sort();
        let texts: Vec<String> = items.into_iter().map(|(_, _, text)| text).collect();
        f.write_str(&texts.join(", "))
    }
}

/// Skills with their levels (1 to 5): an agent's proficiency or a queue's minimum.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SkillLevels(pub BTreeMap<String, u8>);

/// Whether `name` is a skill name: lowercase letters, digits, `_`, `-` and `:`, 1 to 40.
pub(crate) fn is_skill_name(name: &str) -> bool {
    let allowed = |character: char| {
        character.is_ascii_lowercase()
            || character.is_ascii_digit()
            || matches!(character, '_' | '-' | ':')
    };
    !name.is_empty() && name.len() <= crate::validate::MAX_NAME && name.chars().all(allowed)
}

/// `refunds:4, lang:zh:5`: names with the level after the last colon, separated by commas.
impl FromStr for SkillLevels {
    type Err = Problem;

    fn from_str(text: &str) -> Result<SkillLevels, Problem> {
        let mut skills = BTreeMap::new();
        for item in
            text.split([',', '，', ';', '；', '\n']).map(str::trim).filter(|item| !item.is_empty())
        {
            let item = item.to_owned();
            let Some((name, level)) = item.rsplit_once(':') else {
                return Err(Problem::SkillItem { item });
            };
            let (name, level) = (name.trim().to_lowercase(), level.trim());
            if name.is_empty() {
                return Err(Problem::SkillItem { item });
            }
            let level = match level.parse::<u8>() {
                Ok(level) if (1..=5).contains(&level) => level,
                Ok(_) => return Err(Problem::item_out_of_range(item, 1, 5)),
                Err(_) => return Err(Problem::SkillItem { item }),
            };
            if !is_skill_name(&name) {
                return Err(Problem::Identifier {
                    value: name,
                    max: crate::validate::MAX_NAME,
                    allowed: crate::validate::NAME_CHARACTERS.into(),
                });
            }
            if skills.insert(name.clone(), level).is_some() {
                return Err(Problem::Duplicate { value: name });
            }
        }
        Ok(SkillLevels(skills))
    }
}

impl fmt::Display for SkillLevels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items: Vec<String> =
            self.0.iter().map(|(name, level)| format!("{name}:{level}")).collect();
        f.write_str(&items.join(", "))
    }
}

/// A time zone: a name from the IANA database (`Asia/Shanghai`, with its daylight-saving
/// rules), a fixed UTC offset (`+08:00`), or `UTC`. Stored as that text (always one that
/// reads), kept with the zone it names so that using it looks nothing up.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeZoneName {
    name: String,
    zone: jiff::tz::TimeZone,
}

impl TimeZoneName {
    pub fn utc() -> TimeZoneName {
        TimeZoneName { name: "UTC".to_owned(), zone: jiff::tz::TimeZone::UTC }
    }

    /// A fixed offset from UTC, in minutes (no daylight saving).
    pub fn fixed(offset_minutes: i32) -> Result<TimeZoneName, Problem> {
        let offset = jiff::tz::Offset::from_seconds(offset_minutes.saturating_mul(60))
            .map_err(|_| Problem::NotATimeZone { value: format_offset(offset_minutes) })?;
        Ok(TimeZoneName {
            name: format_offset(offset.seconds() / 60),
            zone: jiff::tz::TimeZone::fixed(offset),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The zone itself, with its rules.
    pub fn zone(&self) -> &jiff::tz::TimeZone {
        &self.zone
    }
}

/// In the API document: the text it is stored as.
impl utoipa::PartialSchema for TimeZoneName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "An IANA time zone (`Asia/Shanghai`, daylight saving included), a UTC offset \
                 (`+08:00`) or `UTC`.",
            ))
            .examples(["Asia/Shanghai"])
            .into()
    }
}

impl utoipa::ToSchema for TimeZoneName {}

impl fmt::Debug for TimeZoneName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TimeZoneName({:?})", self.name)
    }
}

/// Two names are the same zone when they read the same.
impl PartialEq for TimeZoneName {
    fn eq(&self, other: &TimeZoneName) -> bool {
        self.name == other.name
    }
}

impl Eq for TimeZoneName {}

impl std::hash::Hash for TimeZoneName {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl Default for TimeZoneName {
    fn default() -> Self {
        TimeZoneName::utc()
    }
}

fn format_offset(minutes: i32) -> String {
    let sign = if minutes < 0 { '-' } else { '+' };
    let minutes = minutes.abs();
    format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60)
}

/// `+08:00`, `-05:30`, `+8`, `UTC+8`: minutes east of UTC; `None` when it is no offset.
fn offset_minutes(text: &str) -> Option<i32> {
    let upper = text.trim().to_uppercase();
    let rest =
        upper.strip_prefix("UTC").or_else(|| upper.strip_prefix("GMT")).unwrap_or(&upper).trim();
    let (sign, rest) = match rest.as_bytes().first()? {
        b'+' => (1, &rest[1..]),
        b'-' => (-1, &rest[1..]),
        byte if byte.is_ascii_digit() => (1, rest),
        _ => return None,
    };
    let (hours, minutes) = rest.split_once(':').unwrap_or((rest, "0"));
    let digits = |part: &str| {
        !part.is_empty() && part.len() <= 2 && part.bytes().all(|byte| byte.is_ascii_digit())
    };
    if !digits(hours) || !digits(minutes) {
        return None;
    }
    let (hours, minutes) = (hours.parse::<i32>().ok()?, minutes.parse::<i32>().ok()?);
    (hours <= 18 && minutes <= 59).then_some(sign * (hours * 60 + minutes))
}

impl FromStr for TimeZoneName {
    type Err = Problem;

    fn from_str(text: &str) -> Result<TimeZoneName, Problem> {
        let typed = text.trim();
        if typed.is_empty()
            || ["UTC", "GMT", "Z"].iter().any(|name| typed.eq_ignore_ascii_case(name))
        {
            return Ok(TimeZoneName::utc());
        }
        if let Some(minutes) = offset_minutes(typed) {
            return TimeZoneName::fixed(minutes);
        }
        let zone = jiff::tz::TimeZone::get(typed)
            .map_err(|_| Problem::NotATimeZone { value: typed.to_owned() })?;
        // The database's own spelling: `asia/shanghai` is kept as `Asia/Shanghai`.
        let name = zone.iana_name().unwrap_or(typed).to_owned();
        Ok(TimeZoneName { name, zone })
    }
}

impl TryFrom<String> for TimeZoneName {
    type Error = Problem;

    fn try_from(text: String) -> Result<TimeZoneName, Problem> {
        text.parse()
    }
}

impl From<TimeZoneName> for String {
    fn from(name: TimeZoneName) -> String {
        name.name
    }
}

impl fmt::Display for TimeZoneName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(weekday: u8, start_minute: u16, end_minute: u16) -> OpenRange {
        OpenRange { weekday, start_minute, end_minute }
    }

    fn hours(text: &str) -> Vec<OpenRange> {
        text.parse::<OpeningHours>().unwrap().0
    }

    fn written(ranges: &[OpenRange]) -> String {
        OpeningHours(ranges.to_vec()).to_string()
    }

    #[test]
    fn opening_hours_are_read_and_written_compactly() {
        let week = hours("mon-fri 09:00-18:00, sat 10:00-16:00");
        assert_eq!(week.len(), 6);
        assert_eq!(week[0], range(0, 540, 1080));
        assert_eq!(week[5], range(5, 600, 960));
        assert_eq!(written(&week), "mon-fri 09:00-18:00, sat 10:00-16:00");
        assert_eq!(hours("  "), []);
        assert_eq!(hours("mon - fri 09:00 - 18:00"), week[..5]);
        assert_eq!(written(&[]), "");
        // Chinese day names, two ranges in a day, a wrapping day range, an hour without minutes.
        assert_eq!(
            written(&hours("周一-周五 9-12 13:00-18:00")),
            "mon-fri 09:00-12:00, mon-fri 13:00-18:00"
        );
        assert_eq!(written(&hours("sat-sun 10:00-16:00")), "sat-sun 10:00-16:00");
        assert_eq!(hours("fri-mon 10:00-11:00").len(), 4);
        // Past midnight: into the next day, Sunday into Monday.
        let night = hours("sun 22:00-02:00");
        assert_eq!(night, [range(0, 0, 120), range(6, 1320, 1440)]);
        assert_eq!(written(&night), "mon 00:00-02:00, sun 22:00-24:00");
        assert_eq!(hours("daily 00:00-24:00").len(), 7);
        let twice = "tue 08:30-12:00, thu 08:30-12:00";
        assert_eq!(hours(&written(&hours(twice))), hours(twice));
    }

    #[test]
    fn opening_hours_that_do_not_read_say_why() {
        let check = |text: &str, expected: Problem| {
            assert_eq!(text.parse::<OpeningHours>().unwrap_err(), expected, "{text}");
        };
        check("funday 09:00-18:00", Problem::NotWeekdays { days: "funday".into() });
        check("mon-fri", Problem::HoursItem { item: "mon-fri".into() });
        check("09:00-18:00", Problem::HoursItem { item: "09:00-18:00".into() });
        check("mon 9:00-25:00", Problem::NotTimeRange { time: "9:00-25:00".into() });
        check("mon 9am-5pm", Problem::NotTimeRange { time: "9am-5pm".into() });
        check("mon 09:00-09:00", Problem::SameTime { time: "09:00-09:00".into() });
        check("mon-tue-wed 09:00-10:00", Problem::NotWeekdays { days: "mon-tue-wed".into() });
    }

    #[test]
    fn skills_are_read_with_the_level_after_the_last_colon() {
        let skills: SkillLevels = "refunds:4, lang:zh:5，Disputes : 3,,".parse().unwrap();
        assert_eq!(
            skills.0.clone().into_iter().collect::<Vec<_>>(),
            [("disputes".into(), 3), ("lang:zh".into(), 5), ("refunds".into(), 4)]
        );
        assert_eq!(skills.to_string(), "disputes:3, lang:zh:5, refunds:4");
        assert_eq!("".parse::<SkillLevels>().unwrap(), SkillLevels::default());
        for (bad, expected) in [
            ("refunds", Problem::SkillItem { item: "refunds".into() }),
            ("lang:zh", Problem::SkillItem { item: "lang:zh".into() }),
            ("refunds:9", Problem::item_out_of_range("refunds:9", 1, 5)),
            (":3", Problem::SkillItem { item: ":3".into() }),
            ("refunds:3, Refunds:2", Problem::Duplicate { value: "refunds".into() }),
            (
                "退款:3",
                Problem::Identifier {
                    value: "退款".into(),
                    max: 40,
                    allowed: "a-z 0-9 _ - :".into(),
                },
            ),
        ] {
            assert_eq!(bad.parse::<SkillLevels>().unwrap_err(), expected, "{bad}");
        }
    }

    #[test]
    fn time_zones_are_names_with_rules_or_fixed_offsets() {
        for (typed, expected) in [
            ("Asia/Shanghai", "Asia/Shanghai"),
            ("europe/berlin", "Europe/Berlin"),
            ("+08:00", "+08:00"),
            ("UTC+8", "+08:00"),
            ("8", "+08:00"),
            ("-05:30", "-05:30"),
            ("", "UTC"),
            ("z", "UTC"),
        ] {
            assert_eq!(typed.parse::<TimeZoneName>().unwrap().as_str(), expected, "{typed}");
        }
        for bad in ["Mars/Olympus", "+8:75", "eight", "+08:00:00", "+123"] {
            assert!(bad.parse::<TimeZoneName>().is_err(), "{bad}");
        }
        assert_eq!(TimeZoneName::fixed(-330).unwrap().as_str(), "-05:30");
        // Stored as text, refused when it does not read.
        let json =
            serde_json::to_string(&"Europe/Berlin".parse::<TimeZoneName>().unwrap()).unwrap();
        assert_eq!(json, "\"Europe/Berlin\"");
        assert!(serde_json::from_str::<TimeZoneName>("\"Nowhere/Else\"").is_err());
    }
}
