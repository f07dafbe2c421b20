//! What is wrong with a value someone typed, as data: a [`Problem`] is a kind of mistake with
//! its parameters (`TooLong { max, got }`), never a sentence. The sentences live in the
//! translation catalogue (`[validation]` of tandem-locales, one per code, in every language),
//! so the console tells an agent in their language and the JSON API tells a developer in
//! English from the same table.
//!
//! Each kind is listed once in [`problems!`]: its parameters, and the stable snake_case code
//! the catalogue is keyed by. A kind is reused wherever a sentence would have the same shape
//! (`OutOfRange` for every number with bounds), so the list stays short.

use std::fmt;

/// The parameter that carries what a parser said (serde, TOML, a regex): English from a
/// library, for developers. The API's message adds it; no translation can use it.
pub const DETAIL: &str = "detail";

/// Defines [`Problem`] from one table: each kind with its parameters and its code.
macro_rules! problems {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident $({ $($param:ident: $type:ty),* $(,)? })? = $code:literal;
    )*) => {
        /// Why a value was refused. Parameters are what the sentence names: the value as typed,
        /// the bounds, the allowed characters.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Problem {
            $($(#[doc = $doc])* $variant $({ $($param: $type),* })?,)*
        }

        impl Problem {
            /// The stable code the catalogue keys this kind's sentence by.
            pub fn code(&self) -> &'static str {
                match self {
                    $(Problem::$variant { .. } => $code,)*
                }
            }

            /// Every kind's code with the names of the parameters its sentences use (the
            /// placeholders), in the table's order.
            pub fn all() -> Vec<(&'static str, Vec<&'static str>)> {
                let all: &[(&'static str, &[&'static str])] =
                    &[$(($code, &[$($(stringify!($param)),*)?]),)*];
                all.iter()
                    .map(|(code, params)| {
                        (*code, params.iter().copied().filter(|name| *name != DETAIL).collect())
                    })
                    .collect()
            }

            /// The parameters a sentence names, as text, with their placeholder names; not
            /// [`DETAIL`].
            pub fn params(&self) -> Vec<(&'static str, String)> {
                let params: Vec<(&'static str, String)> = match self {
                    $(Problem::$variant $({ $($param),* })? => {
                        vec![$($((stringify!($param), $param.to_string())),*)?]
                    })*
                };
                params.into_iter().filter(|(name, _)| *name != DETAIL).collect()
            }
        }

        /// The code and the parameters (`too long (max: 200, got: 250)`), for logs and the
        /// command line. People read the catalogue's sentence instead.
        impl fmt::Display for Problem {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $(Problem::$variant $({ $($param),* })? => {
                        let params: &[String] =
                            &[$($(format!("{}: {:?}", stringify!($param), $param)),*)?];
                        f.write_str(&$code.replace('_', " "))?;
                        if !params.is_empty() {
                            write!(f, " ({})", params.join(", "))?;
                        }
                        Ok(())
                    })*
                }
            }
        }
    };
}

problems! {
    /// Blank, or nothing found where something is needed.
    Empty = "empty";
    /// Longer than allowed, in characters.
    TooLong { max: usize, got: usize } = "too_long";
    /// Not between `min` and `max` characters.
    Length { min: usize, max: usize } = "length";
    /// Not between `min` and `max` bytes.
    Bytes { min: usize, max: usize } = "bytes";
    /// A control character (a line break where one line is expected, a tab, a bell), or in a
    /// name a text-direction control (Unicode's bidi controls: U+202A..U+202E, U+2066..U+2069,
    /// U+200E, U+200F, U+061C), which could make the name read as another.
    ControlCharacters = "control_characters";
    /// Not one of a fixed list of names (`allowed`, separated by commas).
    NotOneOf { value: String, allowed: String } = "not_one_of";
    /// A number outside its bounds.
    OutOfRange { min: String, max: String } = "out_of_range";
    /// A number of one entry of a list (a skill's level, a channel's capacity) outside its
    /// bounds.
    ItemOutOfRange { item: String, min: String, max: String } = "item_out_of_range";
    /// A number below its lower bound (there is no upper one).
    AtLeast { min: String } = "at_least";
    /// Text where a number is expected.
    NotANumber { value: String } = "not_a_number";
    /// Text or a fraction where a whole number is expected.
    NotAWholeNumber { value: String } = "not_a_whole_number";
    /// A list with too few or too many entries.
    Count { min: usize, max: usize } = "count";
    /// A name that must be 1 to `max` of some characters (`allowed`, like `a-z 0-9 _`).
    Identifier { value: String, max: usize, allowed: String } = "identifier";
    /// A name kept for something else.
    Reserved { value: String } = "reserved";
    /// Given twice where each may appear once.
    Duplicate { value: String } = "duplicate";
    /// A reason code listed for approval that already hands off at once.
    AlsoHandOff { reason: String } = "also_hand_off";
    /// A waiting time outside its bounds.
    DurationOutOfRange { min_seconds: usize, max_days: usize } = "duration_out_of_range";
    /// An opening-hours range outside a week or ending before it starts.
    OpeningRange = "opening_range";
    NotAnEmail = "not_an_email";
    /// Not a date (or a moment) as written.
    NotADate { value: String } = "not_a_date";
    /// A moment without its time zone.
    NoTimeZone = "no_time_zone";
    /// An end (an expiry) not after its start.
    EndsBeforeStart = "ends_before_start";
    /// A URL whose scheme is not `http` or `https`.
    UrlScheme = "url_scheme";
    /// Text that must start with `prefix`.
    MustStartWith { prefix: String } = "must_start_with";
    /// A URL with spaces or other than ASCII.
    UrlNotAscii = "url_not_ascii";
    /// A URL with a `#fragment`.
    UrlFragment = "url_fragment";
    /// A URL with a user name or password.
    UrlCredentials = "url_credentials";
    /// A URL without a host, or with a malformed one.
    UrlHost { host: String } = "url_host";
    /// A URL whose host is a link-local or cloud metadata address, which outbound requests may
    /// not reach unless an administrator allows it.
    UrlRefusedAddress { host: String } = "url_refused_address";
    /// A URL with a port other than 1 to 65535.
    UrlPort = "url_port";
    /// None chosen where at least one must be.
    NothingChosen = "nothing_chosen";
    /// A key where the name of the environment variable holding it belongs.
    EnvironmentVariable = "environment_variable";
    /// Text a parser refused (JSON, TOML, a URL, a regular expression); `detail` is what it
    /// said.
    Unreadable { detail: String } = "unreadable";
    /// A file a parser refused at a line.
    UnreadableLine { line: usize, detail: String } = "unreadable_line";
    /// An id given again in a file, first used on `line`.
    UsedOnLine { value: String, line: usize } = "used_on_line";
    /// An import without a single article.
    NoArticles = "no_articles";
    /// A CSV header without the columns it needs.
    MissingColumns { columns: String } = "missing_columns";
    /// A Markdown article without its `+++` front matter.
    FrontMatter = "front_matter";
    /// Neither a Chinese nor an English text for something the bot says.
    NeedsChineseOrEnglish = "needs_chinese_or_english";
    /// A `{name}` in an action's template that nothing fills.
    UnknownPlaceholder { name: String } = "unknown_placeholder";
    /// A value read that no step of the action extracts.
    NotExtracted { name: String } = "not_extracted";
    /// Two values that must be the same are not.
    Mismatch { value: String, expected: String } = "mismatch";
    /// Both or neither of two alternatives (`options`) given.
    ExactlyOne { options: String } = "exactly_one";
    /// An item of opening hours without its days first, or without times after them.
    HoursItem { item: String } = "hours_item";
    /// Opening hours whose days are not weekdays.
    NotWeekdays { days: String } = "not_weekdays";
    /// Opening hours with a time range that does not read.
    NotTimeRange { time: String } = "not_time_range";
    /// Opening hours that open and close at the same time.
    SameTime { time: String } = "same_time";
    /// A skill that is not a name, a colon and a level.
    SkillItem { item: String } = "skill_item";
    /// Not a time zone name or UTC offset.
    NotATimeZone { value: String } = "not_a_time_zone";
    /// One entry of a list (a dictionary word) of the wrong length or over more than a line.
    ItemLength { item: String, min: usize, max: usize } = "item_length";
}

impl Problem {
    /// What a parser said, when the problem carries it (see [`DETAIL`]).
    pub fn detail(&self) -> Option<&str> {
        match self {
            Problem::Unreadable { detail } | Problem::UnreadableLine { detail, .. } => Some(detail),
            _ => None,
        }
    }

    /// A number outside `min..=max`.
    pub fn out_of_range(min: impl fmt::Display, max: impl fmt::Display) -> Problem {
        Problem::OutOfRange { min: min.to_string(), max: max.to_string() }
    }

    /// A number of `item` outside `min..=max`.
    pub fn item_out_of_range(
        item: impl Into<String>,
        min: impl fmt::Display,
        max: impl fmt::Display,
    ) -> Problem {
        Problem::ItemOutOfRange { item: item.into(), min: min.to_string(), max: max.to_string() }
    }

    /// `value` is none of `allowed`.
    pub fn not_one_of<S: AsRef<str>>(value: impl Into<String>, allowed: &[S]) -> Problem {
        let allowed: Vec<&str> = allowed.iter().map(AsRef::as_ref).collect();
        Problem::NotOneOf { value: value.into(), allowed: allowed.join(", ") }
    }
}

impl std::error::Error for Problem {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case_and_name_their_parameters() {
        let all = Problem::all();
        let mut seen = std::collections::HashSet::new();
        for (code, _) in &all {
            assert!(seen.insert(*code), "{code} twice");
            assert!(code.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{code}");
        }
        assert!(
            (30..=50).contains(&all.len()),
            "{} kinds: reuse a kind of the same shape",
            all.len()
        );
        let too_long = Problem::TooLong { max: 200, got: 250 };
        assert_eq!(too_long.code(), "too_long");
        assert_eq!(too_long.params(), [("max", "200".to_owned()), ("got", "250".to_owned())]);
        assert!(all.contains(&("too_long", vec!["max", "got"])));
        assert!(all.contains(&("empty", vec![])));
    }

    #[test]
    fn the_detail_is_no_parameter_but_is_kept() {
        let problem = Problem::UnreadableLine { line: 3, detail: "expected `=`".into() };
        assert_eq!(problem.params(), [("line", "3".to_owned())]);
        assert_eq!(problem.detail(), Some("expected `=`"));
        assert!(Problem::all().contains(&("unreadable_line", vec!["line"])));
        assert_eq!(Problem::Empty.detail(), None);
    }

    #[test]
    fn display_names_the_code_and_parameters() {
        assert_eq!(Problem::Empty.to_string(), "empty");
        assert_eq!(
            Problem::not_one_of("fax", &["web", "email"]).to_string(),
            "not one of (value: \"fax\", allowed: \"web, email\")"
        );
        assert_eq!(Problem::TooLong { max: 2, got: 3 }.to_string(), "too long (max: 2, got: 3)");
    }
}
