//! What customers ask about, day by day, and early warning when something rises well above its
//! usual level: `tandem trends` over a conversation history file.
//!
//! - **Topics**: a conversation the bot answered from an article is that article's; any other is
//!   clustered by its first customer message (words, word pairs and character n-grams, so
//!   Chinese and English alike). Clustering is one pass against the clusters' centres, found
//!   through an index of each centre's strongest features, so 100,000 conversations take seconds
//!   rather than the hours of comparing every pair.
//! - **Spikes** are found on the words customers use (a burst of problems written in different
//!   words still shares its product and its symptom) and on topics. For each word and day, the
//!   expected count is the word's rate over the previous four weeks, scaled by how busy that
//!   weekday is overall; the count is a spike when the Poisson chance of seeing that many is
//!   below [`SIGNIFICANCE`] divided by the number of tests made (so hundreds of words over
//!   months raise no alert storm), and it is at least [`MIN_COUNT`] conversations and twice the
//!   expected count. Spiking words whose conversations mostly overlap are one alert; consecutive
//!   days of the same alert are merged.
//! - **A day still in progress** (the live detector's today, [`trends_until`]) is held to the
//!   share of a day's conversations that usually arrive by that time of day (from the history's
//!   own hours), so a burst in the morning is flagged in the morning.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

pub use crate::history::DayCount;
use crate::history::{self, Author, HistoryConversation};
use crate::learn::{Vector, terms_of, vectors};

/// A conversation's first message joins a cluster whose centre it resembles this much.
const CLUSTER_SIMILARITY: f32 = 0.3;
/// A centre is found through this many of its strongest features, and a message looks with
/// this many of its own.
const INDEXED_FEATURES: usize = 12;
/// Days of history an expected count is computed from.
const BASELINE_DAYS: i64 = 28;
/// The family-wise chance of a false alert over the whole stream.
pub const SIGNIFICANCE: f64 = 0.01;
/// Fewer conversations than this in a day are never a spike.
pub const MIN_COUNT: usize = 5;
/// An expected count is never taken below this (a word new today is not infinitely surprising).
const FLOOR: f64 = 0.2;
/// Two spiking words are one alert when this share of the smaller's conversations is shared.
const SAME_ALERT: f64 = 0.5;
/// Topics listed, largest first.
const MAX_TOPICS: usize = 200;
/// Days of history a day needs before it is tested: with less, any word new to the stream
/// would look like a spike.
const MIN_HISTORY_DAYS: i64 = 7;
/// Features in more than this share of the messages do not find cluster centres: nearly
/// every centre has them, and they say little about which one a message belongs to.
const COMMON_SHARE: f32 = 0.02;
/// Centres a message of common features only compares itself with, per feature.
const COMMON_CANDIDATES: usize = 64;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Topic {
    pub id: String,
    pub label: String,
    pub terms: Vec<String>,
    pub count: usize,
    pub daily: Vec<DayCount>,
    /// Its conversations by hour of the day (0–23, as `created_at` writes it).
    pub hourly: Vec<usize>,
    /// Its conversations (by the input id): the server files them under the topic; `tandem
    /// trends` does not print them.
    #[serde(skip)]
    pub conversation_ids: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Alert {
    /// The topic most of its conversations belong to.
    pub topic: String,
    pub label: String,
    pub terms: Vec<String>,
    pub first_day: String,
    pub days: Vec<String>,
    pub count: usize,
    pub expected: f64,
    /// `-log10` of the chance of so many conversations at the expected level.
    pub score: f64,
    pub conversation_ids: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Trends {
    pub conversations: usize,
    pub topics: Vec<Topic>,
    pub alerts: Vec<Alert>,
}

/// One conversation as trends read it.
struct Item<'a> {
    id: &'a str,
    day: i64,
    /// Minute of the day as `created_at` writes it (`None` for a bare date).
    minute: Option<u32>,
    text: String,
    article: Option<&'a str>,
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date, or `None`.
fn day_number(date: &str) -> Option<i64> {
    let midnight = tandem_domain::validate::timestamp("date", date).ok()?;
    Some(midnight.div_euclid(86_400_000))
}

/// The `YYYY-MM-DD` of a day number.
fn date_of(days: i64) -> String {
    let (year, month, day) = tandem_domain::validate::civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}")
}

/// `P(X >= k)` for a Poisson variable of mean `mean`.
fn poisson_tail(k: usize, mean: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    // 1 - P(X <= k - 1), summed in log space for stability.
    let mut term = (-mean).exp();
    let mut below = term;
    for i in 1..k {
        term *= mean / i as f64;
        below += term;
    }
    (1.0 - below).max(f64::MIN_POSITIVE)
}

/// Trends of `conversations` whose day (as their `created_at` writes it) is within `from..=to`
/// (dates `YYYY-MM-DD`, either open).
pub fn trends(
    conversations: &[HistoryConversation],
    from: Option<&str>,
    to: Option<&str>,
) -> Trends {
    trends_until(conversations, from, to, None)
}

/// [`trends`] when the history ends at `until` (an RFC 3339 moment written in the same time
/// zone as the conversations' `created_at`), part-way through its day: that day's expected
/// counts are scaled to the share of a day's conversations that arrive by then.
pub fn trends_until(
    conversations: &[HistoryConversation],
    from: Option<&str>,
    to: Option<&str>,
    until: Option<&str>,
) -> Trends {
    let from = from.and_then(day_number).unwrap_or(i64::MIN);
    let to = to.and_then(day_number).unwrap_or(i64::MAX);
    let until =
        until.and_then(|moment| Some((day_number(history::day_of(moment)?)?, minute_of(moment)?)));
    let items: Vec<Item> = conversations
        .iter()
        .filter_map(|conversation| {
            let day = day_number(history::day_of(&conversation.created_at)?)?;
            if day < from || day > to {
                return None;
            }
            let text = conversation
                .messages
                .iter()
                .find(|message| message.author == Author::Customer)?
                .text
                .trim()
                .to_owned();
            let article = conversation.messages.iter().find_map(|message| {
                message.source.as_deref().filter(|_| message.author == Author::Bot)
            });
            let minute = minute_of(&conversation.created_at);
            Some(Item { id: &conversation.id, day, minute, text, article })
        })
        .collect();
    let texts: Vec<&str> = items.iter().map(|item| item.text.as_str()).collect();
    // Segmenting every message twice (for features and for words) is most of the work: the
    // two run side by side.
    let (terms, vectors) = std::thread::scope(|scope| {
        let words = scope.spawn(|| texts.iter().map(|text| terms_of(text)).collect::<Vec<_>>());
        let vectors = vectors(&texts);
        (words.join().expect("segmenting words panicked"), vectors)
    });
    let topic_of = topics_of(&items, &vectors);
    let topics = topic_list(&items, &topic_of, &terms);
    let alerts = alerts(&items, &terms, &topic_of, until);
    Trends { conversations: items.len(), topics, alerts }
}

/// The minute of the day of an RFC 3339 moment as it is written (`…T08:30…` is 510).
fn minute_of(moment: &str) -> Option<u32> {
    let time = moment.trim().get(11..16)?;
    let (hours, minutes) = time.split_once(':')?;
    let (hours, minutes): (u32, u32) = (hours.parse().ok()?, minutes.parse().ok()?);
    (hours < 24 && minutes < 60).then_some(hours * 60 + minutes)
}

/// The share of a day's conversations that arrive before `minute`, from the items' own times
/// (evenly through the day when they have none); never below a twentieth, so the first
/// minutes of a day are not held to nearly nothing.
fn share_by(items: &[Item], minute: u32) -> f64 {
    let timed: Vec<u32> = items.iter().filter_map(|item| item.minute).collect();
    let share = if timed.is_empty() {
        f64::from(minute) / 1440.0
    } else {
        timed.iter().filter(|&&at| at < minute).count() as f64 / timed.len() as f64
    };
    share.clamp(0.05, 1.0)
}

/// Each item's topic id: `article:KEY` or `tN` for a cluster.
fn topics_of(items: &[Item], vectors: &[Vector]) -> Vec<String> {
    let mut frequency: HashMap<u64, u32> = HashMap::new();
    for vector in vectors {
        for (feature, _) in vector {
            *frequency.entry(*feature).or_default() += 1;
        }
    }
    let common_above = ((vectors.len() as f32 * COMMON_SHARE) as u32).max(50);
    let finds = |feature: &u64| frequency.get(feature).is_some_and(|df| *df <= common_above);
    let mut centres: Vec<HashMap<u64, f32>> = Vec::new();
    let mut sizes: Vec<usize> = Vec::new();
    // Each centre's squared length, kept as members join (recomputing it per comparison was
    // most of the time).
    let mut squared: Vec<f32> = Vec::new();
    let mut index: HashMap<u64, Vec<usize>> = HashMap::new();
    let mut cluster_of = vec![usize::MAX; items.len()];
    for (position, item) in items.iter().enumerate() {
        if item.article.is_some() {
            continue;
        }
        let vector = &vectors[position];
        // The message's strongest features look up the centres with the same. A message made
        // only of common features (a question asked very often, word for word) looks with them
        // all, among the oldest centres that have them: without that, each copy would start a
        // cluster of its own and the most frequent question would have no topic.
        let mut own: Vec<&(u64, f32)> =
            vector.iter().filter(|(feature, _)| finds(feature)).collect();
        let common_only = own.is_empty();
        if common_only {
            own = vector.iter().collect();
        }
        let per_feature = if common_only { COMMON_CANDIDATES } else { usize::MAX };
        own.sort_by(|left, right| right.1.total_cmp(&left.1));
        let candidates: HashSet<usize> = own
            .into_iter()
            .take(INDEXED_FEATURES)
            .filter_map(|(feature, _)| index.get(feature))
            .flat_map(|clusters| clusters.iter().take(per_feature))
            .copied()
            .collect();
        let best = candidates
            .into_iter()
            .map(|cluster| (cluster, similarity(&centres[cluster], squared[cluster], vector)))
            .filter(|(_, similarity)| *similarity >= CLUSTER_SIMILARITY)
            .max_by(|left, right| left.1.total_cmp(&right.1).then(right.0.cmp(&left.0)));
        let cluster = match best {
            Some((cluster, _)) => cluster,
            None => {
                centres.push(HashMap::new());
                sizes.push(0);
                squared.push(0.0);
                centres.len() - 1
            }
        };
        for &(feature, value) in vector {
            let entry = centres[cluster].entry(feature).or_default();
            squared[cluster] += 2.0 * *entry * value + value * value;
            *entry += value;
        }
        sizes[cluster] += 1;
        cluster_of[position] = cluster;
        // The centre's strongest features find it: re-read as it doubles in size, which is
        // when they can have changed much (and keeps the cost linear overall).
        if !sizes[cluster].is_power_of_two() {
            continue;
        }
        let mut strongest: Vec<(u64, f32)> = centres[cluster]
            .iter()
            .filter(|(feature, _)| finds(feature))
            .map(|(feature, value)| (*feature, *value))
            .collect();
        if strongest.is_empty() {
            // A centre of common features only is found through them (see above).
            strongest =
                centres[cluster].iter().map(|(feature, value)| (*feature, *value)).collect();
        }
        strongest.sort_by(|left, right| right.1.total_cmp(&left.1));
        for (feature, _) in strongest.into_iter().take(INDEXED_FEATURES) {
            let entry = index.entry(feature).or_default();
            if !entry.contains(&cluster) {
                entry.push(cluster);
            }
        }
    }
    items
        .iter()
        .zip(cluster_of)
        .map(|(item, cluster)| match item.article {
            Some(article) => format!("article:{article}"),
            None => format!("t{cluster}"),
        })
        .collect()
}

/// Cosine of a unit vector with a centre kept as a sum whose squared length is `squared`.
fn similarity(centre: &HashMap<u64, f32>, squared: f32, vector: &Vector) -> f32 {
    let norm = squared.max(0.0).sqrt();
    if norm == 0.0 {
        return 0.0;
    }
    vector
        .iter()
        .map(|(feature, value)| centre.get(feature).map_or(0.0, |c| c * value))
        .sum::<f32>()
        / norm
}

/// Topics with two or more conversations, largest first, labelled by their telling words.
fn topic_list(items: &[Item], topic_of: &[String], terms: &[Vec<String>]) -> Vec<Topic> {
    let mut members: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (position, topic) in topic_of.iter().enumerate() {
        members.entry(topic).or_default().push(position);
    }
    let mut frequency: HashMap<&str, usize> = HashMap::new();
    for words in terms {
        for word in words {
            *frequency.entry(word).or_default() += 1;
        }
    }
    let mut topics: Vec<Topic> = members
        .into_iter()
        .filter(|(_, members)| members.len() >= 2)
        .map(|(id, members)| {
            let words = crate::learn::telling_terms(&members, terms, &frequency, items.len());
            let mut daily: BTreeMap<i64, usize> = BTreeMap::new();
            let mut hourly = vec![0; 24];
            for &member in &members {
                *daily.entry(items[member].day).or_default() += 1;
                if let Some(minute) = items[member].minute {
                    hourly[(minute / 60) as usize] += 1;
                }
            }
            let label = match id.strip_prefix("article:") {
                Some(article) if words.is_empty() => article.to_owned(),
                _ => words.join(" / "),
            };
            Topic {
                id: id.to_owned(),
                label,
                terms: words,
                count: members.len(),
                hourly,
                conversation_ids: members
                    .iter()
                    .map(|&member| items[member].id.to_owned())
                    .collect(),
                daily: daily
                    .into_iter()
                    .map(|(day, count)| DayCount { date: date_of(day), count })
                    .collect(),
            }
        })
        .collect();
    topics.sort_by(|left, right| right.count.cmp(&left.count).then(left.id.cmp(&right.id)));
    topics.truncate(MAX_TOPICS);
    topics
}

/// A word's spike on one day.
struct Spike<'a> {
    term: &'a str,
    day: i64,
    count: usize,
    expected: f64,
    score: f64,
    members: Vec<usize>,
}

fn alerts(
    items: &[Item],
    terms: &[Vec<String>],
    topic_of: &[String],
    until: Option<(i64, u32)>,
) -> Vec<Alert> {
    let Some(first) = items.iter().map(|item| item.day).min() else { return Vec::new() };
    let last = items.iter().map(|item| item.day).max().unwrap_or(first);
    // How busy each weekday is, relative to the average day.
    let mut volume: BTreeMap<i64, usize> = BTreeMap::new();
    for item in items {
        *volume.entry(item.day).or_default() += 1;
    }
    let mut weekday_total = [0f64; 7];
    let mut weekday_days = [0f64; 7];
    for day in first..=last {
        let weekday = day.rem_euclid(7) as usize;
        weekday_total[weekday] += *volume.get(&day).unwrap_or(&0) as f64;
        weekday_days[weekday] += 1.0;
    }
    let mean_day = items.len() as f64 / (last - first + 1) as f64;
    let weekday_factor: Vec<f64> = (0..7)
        .map(|weekday| {
            if weekday_days[weekday] == 0.0 || mean_day == 0.0 {
                1.0
            } else {
                (weekday_total[weekday] / weekday_days[weekday] / mean_day).max(0.1)
            }
        })
        .collect();
    // Each word's conversations per day.
    let mut by_term: HashMap<&str, BTreeMap<i64, Vec<usize>>> = HashMap::new();
    for (position, words) in terms.iter().enumerate() {
        for word in words {
            by_term.entry(word).or_default().entry(items[position].day).or_default().push(position);
        }
    }
    let tests = (by_term.len() as f64 * (last - first + 1) as f64).max(1.0);
    // The day in progress, and how much of a day's volume has usually arrived by now.
    let partial = until.map(|(day, minute)| (day, share_by(items, minute)));
    let threshold = SIGNIFICANCE / tests;
    let mut spikes: Vec<Spike> = Vec::new();
    for (term, days) in &by_term {
        for (&day, members) in days {
            let count = members.len();
            if count < MIN_COUNT || day - first < MIN_HISTORY_DAYS {
                continue;
            }
            let start = (day - BASELINE_DAYS).max(first);
            let (seen, weight) = (start..day).fold((0.0, 0.0), |(seen, weight), earlier| {
                let count = days.get(&earlier).map_or(0, Vec::len) as f64;
                (seen + count, weight + weekday_factor[earlier.rem_euclid(7) as usize])
            });
            // A short history says little: it weighs as if the rest of the window were quiet
            // at the word's rate over the whole stream.
            let rate = if weight > 0.0 { seen / weight } else { 0.0 };
            let so_far = partial.filter(|(today, _)| *today == day).map_or(1.0, |(_, share)| share);
            let expected = (rate * weekday_factor[day.rem_euclid(7) as usize] * so_far).max(FLOOR);
            if (count as f64) < 2.0 * expected {
                continue;
            }
            let chance = poisson_tail(count, expected);
            if chance < threshold {
                spikes.push(Spike {
                    term,
                    day,
                    count,
                    expected,
                    score: -chance.log10(),
                    members: members.clone(),
                });
            }
        }
    }
    spikes
        .sort_by(|left, right| right.score.total_cmp(&left.score).then(left.term.cmp(right.term)));
    // Words of one event: the same conversations, the same or adjacent days.
    struct Group<'a> {
        terms: Vec<&'a str>,
        days: BTreeMap<i64, (usize, f64)>,
        members: HashSet<usize>,
        score: f64,
    }
    let mut groups: Vec<Group> = Vec::new();
    for spike in spikes {
        let members: HashSet<usize> = spike.members.iter().copied().collect();
        let joined = groups.iter_mut().find(|group| {
            let near = group.days.keys().any(|day| (day - spike.day).abs() <= 1);
            let shared = members.intersection(&group.members).count();
            let smaller = members.len().min(group.members.len()).max(1);
            let same_words = group.terms.contains(&spike.term);
            near && (same_words || shared as f64 >= SAME_ALERT * smaller as f64)
        });
        match joined {
            Some(group) => {
                if !group.terms.contains(&spike.term) {
                    group.terms.push(spike.term);
                }
                let entry = group.days.entry(spike.day).or_insert((0, 0.0));
                if spike.count > entry.0 {
                    *entry = (spike.count, spike.expected);
                }
                group.members.extend(members);
                group.score = group.score.max(spike.score);
            }
            None => {
                let mut days = BTreeMap::new();
                days.insert(spike.day, (spike.count, spike.expected));
                groups.push(Group { terms: vec![spike.term], days, members, score: spike.score });
            }
        }
    }
    let mut alerts: Vec<Alert> = groups
        .into_iter()
        .map(|group| {
            let mut members: Vec<usize> = group.members.into_iter().collect();
            members.sort_unstable();
            let mut tally: HashMap<&str, usize> = HashMap::new();
            for &member in &members {
                *tally.entry(topic_of[member].as_str()).or_default() += 1;
            }
            let topic = tally
                .into_iter()
                .max_by(|left, right| left.1.cmp(&right.1).then(right.0.cmp(left.0)))
                .map(|(topic, _)| topic.to_owned())
                .unwrap_or_default();
            let terms: Vec<String> =
                group.terms.iter().take(4).map(|term| (*term).to_owned()).collect();
            let label = terms.iter().take(2).cloned().collect::<Vec<_>>().join(" / ");
            let days: Vec<String> = group.days.keys().map(|day| date_of(*day)).collect();
            let expected: f64 = group.days.values().map(|(_, expected)| expected).sum();
            Alert {
                topic,
                label,
                terms,
                first_day: days.first().cloned().unwrap_or_default(),
                count: members.len(),
                expected: (expected * 10.0).round() / 10.0,
                score: (group.score * 10.0).round() / 10.0,
                days,
                conversation_ids: members
                    .iter()
                    .map(|&member| items[member].id.to_owned())
                    .collect(),
            }
        })
        .collect();
    alerts.sort_by(|left, right| {
        left.first_day.cmp(&right.first_day).then(right.score.total_cmp(&left.score))
    });
    alerts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::HistoryMessage;

    fn conversation(id: usize, day: i64, text: &str) -> HistoryConversation {
        HistoryConversation {
            id: format!("c{id}"),
            created_at: format!("{}T10:00:00Z", date_of(day)),
            messages: vec![HistoryMessage {
                author: Author::Customer,
                text: text.into(),
                source: None,
                at: None,
                agent: None,
            }],
            ..Default::default()
        }
    }

    /// Thirty days of ordinary questions, a few a day, in both languages.
    fn ordinary(start: i64) -> Vec<HistoryConversation> {
        let questions = [
            "我的订单什么时候发货",
            "怎么申请退货",
            "发票在哪里下载",
            "where is my parcel",
            "how do i change my address",
            "can i pay with a credit card",
            "优惠券怎么用",
            "会员积分怎么兑换",
        ];
        let mut conversations = Vec::new();
        for day in 0..30 {
            for slot in 0..6 {
                let question = questions[(day as usize * 7 + slot) % questions.len()];
                conversations.push(conversation(conversations.len(), start + day, question));
            }
        }
        conversations
    }

    #[test]
    fn dates_round_trip() {
        for date in ["1970-01-01", "2024-02-29", "2026-09-24", "2000-12-31"] {
            assert_eq!(date_of(day_number(date).unwrap()), date);
        }
        assert_eq!(day_number("2026-13-01"), None);
        assert_eq!(day_number("yesterday"), None);
    }

    #[test]
    fn a_planted_burst_is_flagged_on_its_first_day_and_a_quiet_stream_is_not() {
        let start = day_number("2026-09-01").unwrap();
        let quiet = ordinary(start);
        assert!(trends(&quiet, None, None).alerts.is_empty(), "no alert without a burst");

        let mut stream = ordinary(start);
        let burst = [
            "充电器用了一会儿就发烫",
            "新买的充电器烫手，还能用吗",
            "充电器特别烫，是不是坏了",
            "the charger gets really hot",
            "my charger is too hot to touch",
            "充电器发烫有焦味",
            "charger overheating after ten minutes",
            "充电的时候充电器很烫",
        ];
        let mut planted = Vec::new();
        for (index, text) in burst.iter().cycle().take(24).enumerate() {
            let day = start + 24 + (index as i64 % 2);
            stream.push(conversation(1000 + index, day, text));
            planted.push(format!("c{}", 1000 + index));
        }
        let found = trends(&stream, None, None);
        assert!(!found.alerts.is_empty(), "{found:#?}");
        let alert = &found.alerts[0];
        assert_eq!(alert.first_day, date_of(start + 24), "{alert:#?}");
        assert!(alert.terms.iter().any(|term| term == "充电器" || term == "charger"), "{alert:#?}");
        let flagged: HashSet<&String> =
            found.alerts.iter().flat_map(|a| &a.conversation_ids).collect();
        let right = flagged.iter().filter(|id| planted.contains(id)).count();
        assert_eq!(right, flagged.len(), "only the burst is flagged: {found:#?}");
        assert!(right >= 12, "{right} of the burst flagged");
        assert!(alert.expected < alert.count as f64 / 2.0);
    }

    #[test]
    fn a_day_in_progress_is_held_to_what_usually_arrives_by_that_hour() {
        let start = day_number("2026-09-01").unwrap();
        let mut stream = ordinary(start);
        // The charger comes up three times every afternoon...
        let at = |id: usize, day: i64, time: &str, text: &str| {
            let mut conversation = conversation(id, day, text);
            conversation.created_at = format!("{}T{time}:00Z", date_of(day));
            conversation
        };
        for day in 0..30 {
            for slot in 0..3 {
                stream.push(at(
                    2000 + day as usize * 3 + slot,
                    start + day,
                    "16:00",
                    "充电器怎么用",
                ));
            }
        }
        // ...and six times before eight this morning.
        for slot in 0..6 {
            stream.push(at(3000 + slot, start + 30, "07:30", "充电器坏了"));
        }
        let today = date_of(start + 30);
        let morning = format!("{today}T08:00:00Z");
        let live = trends_until(&stream, None, None, Some(&morning));
        assert!(
            live.alerts
                .iter()
                .any(|alert| alert.first_day == today
                    && alert.terms.iter().any(|term| term == "充电器")),
            "six by 08:00 when they usually come in the afternoon: {:#?}",
            live.alerts
        );
        // Against a whole day's three, six is not yet remarkable.
        let whole_day = trends(&stream, None, None);
        assert!(whole_day.alerts.iter().all(|alert| alert.first_day != today), "{whole_day:#?}");
        // Every topic's conversations by hour of the day add up to its count.
        for topic in &live.topics {
            assert_eq!(topic.hourly.iter().sum::<usize>(), topic.count, "{topic:?}");
        }
        let afternoons: usize = live.topics.iter().map(|topic| topic.hourly[16]).sum();
        assert!(afternoons >= 80, "{:#?}", live.topics);
    }

    #[test]
    fn topics_come_from_articles_and_clusters_with_daily_counts() {
        let start = day_number("2026-09-01").unwrap();
        let mut stream = ordinary(start);
        stream[0].messages.push(HistoryMessage {
            author: Author::Bot,
            text: "下单后 48 小时内发货。".into(),
            source: Some("shipping".into()),
            at: None,
            agent: None,
        });
        stream[1].messages.push(HistoryMessage {
            author: Author::Bot,
            text: "下单后 48 小时内发货。".into(),
            source: Some("shipping".into()),
            at: None,
            agent: None,
        });
        let found = trends(&stream, Some("2026-09-01"), Some("2026-09-10"));
        assert_eq!(found.conversations, 60);
        assert!(found.topics.iter().any(|topic| topic.id == "article:shipping"));
        let total: usize = found.topics.iter().map(|topic| topic.count).sum();
        assert!(total >= 50, "most conversations are in a topic: {total}");
        let biggest = &found.topics[0];
        assert_eq!(biggest.daily.iter().map(|day| day.count).sum::<usize>(), biggest.count);
    }
}
