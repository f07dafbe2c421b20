//! Personal data in customer messages: Chinese mainland mobile numbers, resident identity card
//! numbers, bank card numbers and e-mail addresses, found by small hand-written scanners so that
//! they can be masked before a message is logged, indexed or shown to someone who need not see
//! them.
//!
//! Numbers are recognised by their shape and, where they carry one, their check digit. A number
//! that runs into more digits or letters (`20241123001`, `SN13800138000`) identifies something
//! else and is left alone. Offsets are into the original text, never a normalised copy, so that
//! masking replaces exactly what the customer wrote.

use std::cmp::Reverse;
use std::ops::Range;

/// What kind of personal data a span holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PersonalKind {
    /// A Chinese mainland mobile number, with or without the +86 country code.
    Mobile,
    /// An 18-character resident identity card number (GB 11643).
    IdCard,
    /// A bank card number of 16 to 19 digits that passes the Luhn check.
    BankCard,
    Email,
}

impl PersonalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PersonalKind::Mobile => "mobile",
            PersonalKind::IdCard => "id_card",
            PersonalKind::BankCard => "bank_card",
            PersonalKind::Email => "email",
        }
    }
}

/// Personal data found in a text: `text[start..end]`, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PersonalSpan {
    pub kind: PersonalKind,
    pub start: usize,
    pub end: usize,
}

/// The personal data in a text, in order and without overlaps. Where two readings overlap the
/// longer wins: `13800138000@qq.com` is one e-mail address, not a mobile number and the rest.
pub fn find_personal_data(text: &str) -> Vec<PersonalSpan> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut spans = numbers(text, &chars);
    spans.extend(emails(text, &chars));
    spans.sort_by_key(|span| Reverse(span.end - span.start));
    let mut kept: Vec<PersonalSpan> = Vec::with_capacity(spans.len());
    for span in spans {
        if kept.iter().all(|other| span.end <= other.start || other.end <= span.start) {
            kept.push(span);
        }
    }
    kept.sort_by_key(|span| span.start);
    kept
}

/// The text with its personal data masked, keeping enough to recognise which number or address
/// the customer meant. Numbers are masked digit by digit, keeping separators and any country
/// code as written:
///
/// - mobile: the first 3 and last 4 digits stay (`138****8000`, `+86 138-****-8000`);
/// - identity card: the first 3 digits (the province and city) and the last 2 stay, hiding the
///   birth date (`110*************3X`);
/// - bank card: the last 4 digits stay, as on a receipt (`**** **** **** 1111`);
/// - e-mail: the first character of the local part and the whole domain stay
///   (`z***@example.com`).
pub fn mask_personal_data(text: &str) -> String {
    let mut masked = String::with_capacity(text.len());
    let mut copied = 0;
    for span in find_personal_data(text) {
        masked.push_str(&text[copied..span.start]);
        let found = &text[span.start..span.end];
        let length = found.chars().filter(|character| is_number_char(*character)).count();
        match span.kind {
            PersonalKind::Mobile => {
                mask_number(found, length.saturating_sub(8)..length.saturating_sub(4), &mut masked)
            }
            PersonalKind::IdCard => mask_number(found, 3..length.saturating_sub(2), &mut masked),
            PersonalKind::BankCard => mask_number(found, 0..length.saturating_sub(4), &mut masked),
            PersonalKind::Email => mask_email(found, &mut masked),
        }
        copied = span.end;
    }
    masked.push_str(&text[copied..]);
    masked
}

/// Writes `number` with the digits at positions `hidden` (counting digits only) replaced by `*`.
fn mask_number(number: &str, hidden: Range<usize>, masked: &mut String) {
    let mut position = 0;
    for character in number.chars() {
        if is_number_char(character) {
            masked.push(if hidden.contains(&position) { '*' } else { character });
            position += 1;
        } else {
            masked.push(character);
        }
    }
}

fn mask_email(address: &str, masked: &mut String) {
    match address.split_once('@') {
        Some((local, domain)) => {
            masked.extend(local.chars().next());
            masked.push_str("***@");
            masked.push_str(domain);
        }
        None => masked.push_str(address),
    }
}

/// The value of a digit, ASCII or full width: Chinese input methods often type the latter.
fn digit_value(character: char) -> Option<u32> {
    match character {
        '０'..='９' => Some(u32::from(character) - u32::from('０')),
        _ => character.to_digit(10),
    }
}

/// The check character of an identity card number, which stands for 10.
fn is_check_x(character: char) -> bool {
    matches!(character, 'X' | 'x' | 'Ｘ' | 'ｘ')
}

fn is_number_char(character: char) -> bool {
    digit_value(character).is_some() || is_check_x(character)
}

/// Characters that make a digit run part of a longer token: an order number, a product code.
fn joins_number(character: char) -> bool {
    character.is_ascii_alphanumeric()
        || matches!(character, '０'..='９' | 'Ａ'..='Ｚ' | 'ａ'..='ｚ')
}

/// What people put between groups of digits: "138 0013 8000", "4111-1111-1111-1111".
fn is_separator(character: char) -> bool {
    matches!(character, ' ' | '-' | '\u{a0}' | '\u{3000}' | '\u{ff0d}')
}

/// A maximal run of digits: chars `first..end` of the text, and their values.
struct Group {
    first: usize,
    end: usize,
    values: Vec<u32>,
}

/// The digit runs of a text. A run may end in `X` (10) when nothing alphanumeric follows it,
/// for identity card numbers; only that reading accepts 10.
fn groups(chars: &[(usize, char)]) -> Vec<Group> {
    let character_at = |index: usize| chars.get(index).map(|(_, character)| *character);
    let mut groups = Vec::new();
    let mut index = 0;
    while index < chars.len() {
        let first = index;
        let mut values = Vec::new();
        while let Some(value) = character_at(index).and_then(digit_value) {
            values.push(value);
            index += 1;
        }
        if values.is_empty() {
            index += 1;
            continue;
        }
        if character_at(index).is_some_and(is_check_x)
            && !character_at(index + 1).is_some_and(joins_number)
        {
            values.push(10);
            index += 1;
        }
        groups.push(Group { first, end: index, values });
    }
    groups
}

/// The most digits any number here has (a 19-digit bank card).
const LONGEST_NUMBER: usize = 19;

/// Digits read from consecutive groups joined by single separators.
struct Reading {
    values: Vec<u32>,
    /// How many digits have been read at the end of each group.
    ends: Vec<usize>,
    /// Whether a number may end with the last group: no letter or digit follows it.
    closes: bool,
}

impl Reading {
    fn at(groups: &[Group], chars: &[(usize, char)], start: usize) -> Reading {
        let character_at = |index: usize| chars.get(index).map(|(_, character)| *character);
        let mut reading = Reading { values: Vec::new(), ends: Vec::new(), closes: true };
        for (index, group) in groups.iter().enumerate().skip(start) {
            reading.values.extend(&group.values);
            reading.ends.push(reading.values.len());
            let linked = character_at(group.end).is_some_and(is_separator)
                && groups.get(index + 1).is_some_and(|next| next.first == group.end + 1);
            if !linked || reading.values.len() >= LONGEST_NUMBER {
                reading.closes = linked || !character_at(group.end).is_some_and(joins_number);
                break;
            }
        }
        reading
    }

    /// Digits `from..to`, if they are all plain digits.
    fn digits(&self, from: usize, to: usize) -> Option<&[u32]> {
        let digits = self.values.get(from..to)?;
        digits.iter().all(|digit| *digit < 10).then_some(digits)
    }

    /// The group boundaries strictly inside digits `from..to`, counted from `from`, if a number
    /// may end after digit `to`.
    fn layout(&self, from: usize, to: usize) -> Option<Vec<usize>> {
        let group = self.ends.iter().position(|end| *end == to)?;
        if group + 1 == self.ends.len() && !self.closes {
            return None;
        }
        Some(
            self.ends
                .iter()
                .filter(|end| from < **end && **end < to)
                .map(|end| end - from)
                .collect(),
        )
    }
}

/// Mobile, identity card and bank card numbers. Each group of digits may start a number; the
/// longest reading from it wins, the identity card on a tie with a bank card because its check
/// and birth date make it the more specific match (a card number passes Luhn one time in ten).
fn numbers(text: &str, chars: &[(usize, char)]) -> Vec<PersonalSpan> {
    let groups = groups(chars);
    let byte_at = |index: usize| chars.get(index).map_or(text.len(), |(byte, _)| *byte);
    let mut spans = Vec::new();
    let mut start = 0;
    while let Some(group) = groups.get(start) {
        let before = group.first.checked_sub(1).and_then(|index| chars.get(index));
        let reading = Reading::at(&groups, chars, start);
        let number = match before {
            Some((_, character)) if joins_number(*character) => None,
            _ => longest_number(&reading),
        };
        let Some((kind, length)) = number else {
            start += 1;
            continue;
        };
        let last = start + reading.ends.iter().position(|end| *end == length).unwrap_or(0);
        let plus = before.filter(|(_, character)| matches!(character, '+' | '＋'));
        let first_byte = match plus {
            Some((byte, _)) if kind == PersonalKind::Mobile && length > 11 => *byte,
            _ => byte_at(group.first),
        };
        let end_byte = groups.get(last).map_or(text.len(), |group| byte_at(group.end));
        spans.push(PersonalSpan { kind, start: first_byte, end: end_byte });
        start = last + 1;
    }
    spans
}

fn longest_number(reading: &Reading) -> Option<(PersonalKind, usize)> {
    [
        (PersonalKind::IdCard, id_card_length(reading)),
        (PersonalKind::BankCard, bank_card_length(reading)),
        (PersonalKind::Mobile, mobile_length(reading)),
    ]
    .into_iter()
    .filter_map(|(kind, length)| Some((kind, length?)))
    .reduce(|best, next| if next.1 > best.1 { next } else { best })
}

/// Country codes a mobile number may carry: none, 86 (after a `+` or not) and 0086.
const MOBILE_PREFIXES: [&[u32]; 3] = [&[], &[8, 6], &[0, 0, 8, 6]];

/// Eleven digits starting 13 to 19, whole or grouped 3-4-4, after an optional country code.
fn mobile_length(reading: &Reading) -> Option<usize> {
    MOBILE_PREFIXES.iter().find_map(|prefix| {
        let (from, to) = (prefix.len(), prefix.len() + 11);
        let body = reading.digits(from, to)?;
        let layout = reading.layout(from, to)?;
        let shaped = reading.values.starts_with(prefix)
            && body[0] == 1
            && (3..=9).contains(&body[1])
            && matches!(layout.as_slice(), [] | [3, 7]);
        shaped.then_some(to)
    })
}

/// Seventeen digits and a check character, whole or grouped 6-8-4 (region, birth date, rest),
/// with a plausible birth date.
fn id_card_length(reading: &Reading) -> Option<usize> {
    let body = reading.digits(0, 17)?;
    let check = *reading.values.get(17)?;
    let layout = reading.layout(0, 18)?;
    let valid = matches!(layout.as_slice(), [] | [6, 14])
        && check == id_check(body)
        && plausible_birth_date(&body[6..14]);
    valid.then_some(18)
}

/// The GB 11643 check character of the first 17 digits (ISO 7064 MOD 11-2), 10 standing for X.
fn id_check(body: &[u32]) -> u32 {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body.iter().zip(WEIGHTS).map(|(digit, weight)| digit * weight).sum();
    (12 - sum % 11) % 11
}

/// Whether eight digits read as a date from 1900 to 2100. Days are not checked against the
/// month: the check character already rules out most numbers that are not identity cards.
fn plausible_birth_date(date: &[u32]) -> bool {
    let number = |digits: &[u32]| digits.iter().fold(0, |number, digit| number * 10 + digit);
    let (year, month, day) = (number(&date[..4]), number(&date[4..6]), number(&date[6..]));
    (1900..=2100).contains(&year) && (1..=12).contains(&month) && (1..=31).contains(&day)
}

/// Sixteen to nineteen digits passing the Luhn check, whole or in groups of four (the last
/// group may be shorter: 6222 0212 3456 7890 123).
fn bank_card_length(reading: &Reading) -> Option<usize> {
    (16..=LONGEST_NUMBER).rev().find(|length| {
        let (Some(digits), Some(layout)) = (reading.digits(0, *length), reading.layout(0, *length))
        else {
            return false;
        };
        let in_fours = layout.len() == (length - 1) / 4
            && layout.iter().enumerate().all(|(index, end)| *end == 4 * (index + 1));
        (layout.is_empty() || in_fours) && luhn(digits)
    })
}

fn luhn(digits: &[u32]) -> bool {
    let doubled = |digit: u32| if digit * 2 > 9 { digit * 2 - 9 } else { digit * 2 };
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(index, digit)| if index % 2 == 1 { doubled(*digit) } else { *digit })
        .sum();
    sum.is_multiple_of(10)
}

/// E-mail addresses: ASCII local part and domain around an `@`, the domain with at least two
/// labels and a top-level label of letters. A full stop ending the sentence is not part of it.
fn emails(text: &str, chars: &[(usize, char)]) -> Vec<PersonalSpan> {
    chars
        .iter()
        .enumerate()
        .filter(|(_, (_, character))| *character == '@')
        .filter_map(|(at, _)| email_at(text, chars, at))
        .collect()
}

fn email_at(text: &str, chars: &[(usize, char)], at: usize) -> Option<PersonalSpan> {
    let character_at = |index: usize| chars.get(index).map(|(_, character)| *character);
    let byte_at = |index: usize| chars.get(index).map_or(text.len(), |(byte, _)| *byte);
    let is_local =
        |character: char| character.is_ascii_alphanumeric() || "._%+-".contains(character);
    let is_domain = |character: char| character.is_ascii_alphanumeric() || ".-".contains(character);
    let mut first = at;
    while first > 0 && character_at(first - 1).is_some_and(is_local) {
        first -= 1;
    }
    while first < at && character_at(first) == Some('.') {
        first += 1;
    }
    let mut end = at + 1;
    while character_at(end).is_some_and(is_domain) {
        end += 1;
    }
    while end > at + 1 && character_at(end - 1).is_some_and(|character| ".-".contains(character)) {
        end -= 1;
    }
    let domain = text.get(byte_at(at + 1)..byte_at(end))?;
    let labels: Vec<&str> = domain.split('.').collect();
    let top = labels.last()?;
    let valid = first < at
        && labels.len() >= 2
        && labels
            .iter()
            .all(|label| !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'))
        && top.len() >= 2
        && top.chars().all(|character| character.is_ascii_alphabetic());
    valid.then(|| PersonalSpan {
        kind: PersonalKind::Email,
        start: byte_at(first),
        end: byte_at(end),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid identity card number for `body` (17 digits), its check character computed from
    /// the standard's definition (weights 2^(17-i) mod 11) rather than the table above.
    fn id_number(body: &str) -> String {
        let sum: u32 = body
            .chars()
            .enumerate()
            .map(|(index, digit)| digit.to_digit(10).unwrap() * (2u32.pow(17 - index as u32) % 11))
            .sum();
        let check = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'][(sum % 11) as usize];
        format!("{body}{check}")
    }

    /// `partial` completed with its Luhn check digit.
    fn card_number(partial: &str) -> String {
        let sum: u32 = partial
            .chars()
            .rev()
            .enumerate()
            .map(|(index, digit)| {
                let digit = digit.to_digit(10).unwrap();
                if index % 2 == 0 { [0, 2, 4, 6, 8, 1, 3, 5, 7, 9][digit as usize] } else { digit }
            })
            .sum();
        format!("{partial}{}", (10 - sum % 10) % 10)
    }

    /// Spaces every four characters, as card numbers are printed.
    fn in_fours(number: &str) -> String {
        let chars: Vec<char> = number.chars().collect();
        chars.chunks(4).map(|chunk| chunk.iter().collect::<String>()).collect::<Vec<_>>().join(" ")
    }

    fn found(text: &str) -> Vec<(PersonalKind, &str)> {
        find_personal_data(text)
            .into_iter()
            .map(|span| (span.kind, &text[span.start..span.end]))
            .collect()
    }

    #[test]
    fn test_helpers_make_valid_numbers() {
        let id = id_number("11010119900307123");
        assert_eq!(id, "110101199003071233");
        assert!(id_number("11010119900307109").ends_with('X'));
        assert!(luhn(&[4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]));
        let card = card_number("622202123456789012");
        assert!(luhn(&card.chars().filter_map(digit_value).collect::<Vec<_>>()), "{card}");
    }

    #[test]
    fn personal_data_is_found() {
        use PersonalKind::*;
        let id = id_number("11010119900307123");
        let id_x = id_number("11010119900307109");
        // This one also passes Luhn: the identity card reading must still win.
        let id_luhn = id_number("11010119900307110");
        let id_grouped = format!("{} {} {}", &id[..6], &id[6..14], &id[14..]);
        let card_19 = in_fours(&card_number("622202123456789012"));
        let lower_x = id_x.to_lowercase();
        let cases: Vec<(String, Vec<(PersonalKind, &str)>)> = vec![
            ("电话13800138000，谢谢".into(), vec![(Mobile, "13800138000")]),
            ("call 138 0013 8000 now".into(), vec![(Mobile, "138 0013 8000")]),
            ("138-0013-8000".into(), vec![(Mobile, "138-0013-8000")]),
            ("+86 138 0013 8000".into(), vec![(Mobile, "+86 138 0013 8000")]),
            ("tel:+8613800138000".into(), vec![(Mobile, "+8613800138000")]),
            ("008613800138000".into(), vec![(Mobile, "008613800138000")]),
            ("手机：１３８００１３８０００".into(), vec![(Mobile, "１３８００１３８０００")]),
            (
                "13800138000 19912345678".into(),
                vec![(Mobile, "13800138000"), (Mobile, "19912345678")],
            ),
            (format!("身份证号{id}。"), vec![(IdCard, id.as_str())]),
            (format!("ID {id_x}"), vec![(IdCard, id_x.as_str())]),
            (format!("ID {lower_x}"), vec![(IdCard, lower_x.as_str())]),
            (id_luhn.clone(), vec![(IdCard, id_luhn.as_str())]),
            (id_grouped.clone(), vec![(IdCard, id_grouped.as_str())]),
            ("卡号 4111 1111 1111 1111".into(), vec![(BankCard, "4111 1111 1111 1111")]),
            ("4111-1111-1111-1111".into(), vec![(BankCard, "4111-1111-1111-1111")]),
            ("card 4111111111111111.".into(), vec![(BankCard, "4111111111111111")]),
            (format!("卡号：{card_19}"), vec![(BankCard, card_19.as_str())]),
            ("mail zhang.san@example.com.".into(), vec![(Email, "zhang.san@example.com")]),
            ("邮箱13800138000@qq.com".into(), vec![(Email, "13800138000@qq.com")]),
            (
                "a.b+cs@mail.example.co.uk 或 13800138000".into(),
                vec![(Email, "a.b+cs@mail.example.co.uk"), (Mobile, "13800138000")],
            ),
        ];
        for (text, expected) in &cases {
            assert_eq!(&found(text), expected, "{text:?}");
        }
    }

    #[test]
    fn numbers_that_are_not_personal_data_are_left_alone() {
        let cases = [
            "订单号20241123001".to_owned(),
            "order 20241123001 shipped".to_owned(),
            "我付了¥1999，2024-11-23下的单".to_owned(),
            "138001380001".to_owned(),
            "12800138000".to_owned(),
            "SN13800138000".to_owned(),
            "13800138000abc".to_owned(),
            "1380 0138 000".to_owned(),
            // Wrong check character; a plausible date but month 13, year 1899 or day 32.
            "110101199003071230".to_owned(),
            id_number("11010119901307123"),
            id_number("11010118990307123"),
            id_number("11010119900332123"),
            "4111111111111112".to_owned(),
            "4111 1111 1111 1112".to_owned(),
            "41111111111111111111".to_owned(),
            "weight 1.5 kg, 2 pcs".to_owned(),
            "user@localhost, @example.com, a@b.c".to_owned(),
        ];
        for text in &cases {
            assert_eq!(found(text), [], "{text:?}");
        }
    }

    #[test]
    fn masking_keeps_enough_to_recognise() {
        let id = id_number("11010119900307109");
        let cases = [
            ("手机13800138000".to_owned(), "手机138****8000".to_owned()),
            ("+86 138-0013-8000".to_owned(), "+86 138-****-8000".to_owned()),
            ("１３８００１３８０００".to_owned(), "１３８****８０００".to_owned()),
            (format!("身份证 {id}"), format!("身份证 110{}9X", "*".repeat(13))),
            ("4111 1111 1111 1111".to_owned(), "**** **** **** 1111".to_owned()),
            ("4111111111111111".to_owned(), "************1111".to_owned()),
            ("mail zhang.san@example.com!".to_owned(), "mail z***@example.com!".to_owned()),
            ("订单 20241123001 到哪了".to_owned(), "订单 20241123001 到哪了".to_owned()),
        ];
        for (text, expected) in &cases {
            assert_eq!(&mask_personal_data(text), expected, "{text:?}");
        }
    }

    #[test]
    fn kinds_have_stable_codes() {
        let codes: Vec<&str> = [
            PersonalKind::Mobile,
            PersonalKind::IdCard,
            PersonalKind::BankCard,
            PersonalKind::Email,
        ]
        .into_iter()
        .map(PersonalKind::as_str)
        .collect();
        assert_eq!(codes, ["mobile", "id_card", "bank_card", "email"]);
    }
}
