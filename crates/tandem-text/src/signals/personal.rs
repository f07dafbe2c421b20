//! Personal data in customer messages: Chinese mainland mobile numbers, resident identity card
//! numbers, bank card numbers, e-mail addresses and postal addresses, found by small hand-written
//! scanners so that they can be masked before a message is logged, indexed or shown to someone
//! who need not see them.
//!
//! Numbers are recognised by their shape and, where they carry one, their check digit. A number
//! that runs into more digits or letters (`20241123001`, `SN13800138000`) identifies something
//! else and is left alone. A postal address is recognised by a street and a house number
//! together (`世纪大道100号`, `350 Fifth Avenue`): a street alone, or a number alone, says too
//! little to be worth masking and would catch ordinary sentences. Offsets are into the original
//! text, never a normalised copy, so that masking replaces exactly what the customer wrote.

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
    /// A postal address down to the house number: a Chinese road and its 号, with the province,
    /// city and district before it and the building, unit and room after it; or an English house
    /// number and street, with the apartment, city, state and postcode after it.
    Address,
}

impl PersonalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PersonalKind::Mobile => "mobile",
            PersonalKind::IdCard => "id_card",
            PersonalKind::BankCard => "bank_card",
            PersonalKind::Email => "email",
            PersonalKind::Address => "address",
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
    spans.extend(addresses(text, &chars));
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
///   (`z***@example.com`);
/// - address: every digit is hidden, so that the street and city stay but not the house, flat
///   or postcode (`世纪大道***号`, `*** Fifth Avenue, New York, NY *****`).
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
            PersonalKind::Address => masked.extend(
                found.chars().map(|character| if is_digit(character) { '*' } else { character }),
            ),
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

/// Postal addresses, Chinese and English. Each digit may start a house number; an address found
/// there is kept, and the search goes on after it.
fn addresses(text: &str, chars: &[(usize, char)]) -> Vec<PersonalSpan> {
    let letters: Vec<char> = chars.iter().map(|(_, character)| *character).collect();
    let byte_at = |index: usize| chars.get(index).map_or(text.len(), |(byte, _)| *byte);
    let mut spans = Vec::new();
    let mut index = 0;
    let mut floor = 0;
    while index < letters.len() {
        let found = chinese_address_at(&letters, index, floor)
            .or_else(|| english_address_at(&letters, index));
        match found {
            Some(range) => {
                spans.push(PersonalSpan {
                    kind: PersonalKind::Address,
                    start: byte_at(range.start),
                    end: byte_at(range.end),
                });
                index = range.end;
                floor = range.end;
            }
            None => index += 1,
        }
    }
    spans
}

fn is_digit(character: char) -> bool {
    digit_value(character).is_some()
}

fn is_blank(character: char) -> bool {
    matches!(character, ' ' | '\u{3000}')
}

/// Where a run of 1 to `longest` digits starting at `from` ends; none if it is longer.
fn digits_end(letters: &[char], from: usize, longest: usize) -> Option<usize> {
    let count = letters[from.min(letters.len())..].iter().take_while(|c| is_digit(**c)).count();
    (1..=longest).contains(&count).then_some(from + count)
}

/// Words that end like a road but name none: in `我知道3号发货` the 3号 is a date.
const NOT_ROADS: [&str; 31] = [
    "知道", "难道", "味道", "频道", "渠道", "管道", "车道", "报道", "一道", "顺道", "这里", "那里",
    "哪里", "家里", "公里", "心里", "手里", "夜里", "城里", "走路", "一路", "思路", "套路", "线路",
    "电路", "出路", "网路", "迷路", "上路", "逛街", "上街",
];

/// Words that lead up to an address but are no part of it: `寄到`, `地址是`, `我住在`.
const BEFORE_ADDRESS: [&str; 23] = [
    "地址为",
    "地址",
    "改为",
    "改成",
    "换成",
    "位于",
    "或者",
    "还是",
    "在",
    "是",
    "到",
    "的",
    "往",
    "住",
    "寄",
    "送",
    "或",
    "我",
    "你",
    "您",
    "他",
    "她",
    "请",
];

/// Words that join two addresses (`文三路90号和人民路3号`), left out only right after an
/// address: elsewhere they may start a name (`和平区`).
const BETWEEN_ADDRESSES: [char; 4] = ['和', '与', '跟', '及'];

/// The most characters of province, city, district and road name taken before a road's
/// ending: 新疆维吾尔自治区乌鲁木齐市天山区 and a road name fit.
const LONGEST_ROAD_PREFIX: usize = 24;

/// The most characters of a building's name before its number: `SOHO现代城3号楼`.
const LONGEST_BUILDING_NAME: usize = 8;

/// Characters that end a sentence's words rather than a building's name, so that
/// `世纪大道100号买了3层蛋糕` stops at the 号.
const NOT_IN_BUILDING_NAMES: &str =
    "了的是在到和或我你您他她请有要买送寄往住个把被也都就还吗呢吧啊";

/// What numbers a building, its units and rooms, longest first: `3号楼`, `2单元`, `1201室`.
const HOUSE_UNITS: [&str; 9] = ["号楼", "号院", "单元", "栋", "幢", "座", "室", "层", "楼"];

/// The road whose name ends at `last`: where its ending (`路`, `大道`, `胡同`) starts, and
/// whether that ending always names a road. `道` and `里` often end other words (`频道`,
/// `这里`), so an address on such a road needs a province, city or district to be believed.
fn road_ending(letters: &[char], last: usize) -> Option<(usize, bool)> {
    let before = last.checked_sub(1).map(|index| letters[index]);
    if let Some(before) = before
        && NOT_ROADS.iter().any(|word| word.chars().eq([before, letters[last]]))
    {
        return None;
    }
    match (before, letters[last]) {
        (Some('胡'), '同') | (Some('大'), '道' | '街') => Some((last - 1, true)),
        (_, '路' | '街' | '巷' | '弄') => Some((last, true)),
        (_, '道' | '里') => Some((last, false)),
        _ => None,
    }
}

/// Whether a province, city, district, county, town, township or subdistrict ends at `index`.
fn ends_division(letters: &[char], index: usize) -> bool {
    match letters.get(index) {
        Some('省' | '市' | '区' | '县' | '镇' | '乡') => true,
        Some('道') => index > 0 && letters[index - 1] == '街',
        _ => false,
    }
}

/// A Chinese address whose house number starts at `number`: a road's ending right before it
/// and `号` right after it (`世纪大道100号`), then the building, unit and room, and before the
/// road its name and any province, city and district, none of it before `floor`.
fn chinese_address_at(letters: &[char], number: usize, floor: usize) -> Option<Range<usize>> {
    let at = |index: usize| letters.get(index).copied();
    let before = number.checked_sub(1).and_then(at);
    if !at(number).is_some_and(is_digit) || before.is_some_and(is_digit) {
        return None;
    }
    let road_end = if before.is_some_and(is_blank) { number - 1 } else { number };
    let road_last = road_end.checked_sub(1).filter(|last| *last >= floor)?;
    let (road, always_a_road) = road_ending(letters, road_last)?;
    let mut end = digits_end(letters, number, 5)?;
    if at(end) == Some('-')
        && let Some(next) = digits_end(letters, end + 1, 4)
    {
        end = next;
    }
    if at(end).is_some_and(is_blank) && at(end + 1) == Some('号') {
        end += 1;
    }
    // `号线` is a metro line, `号码` a number.
    if at(end) != Some('号') || matches!(at(end + 1), Some('线' | '码')) {
        return None;
    }
    end += 1;
    if matches!(at(end), Some('院' | '楼')) {
        end += 1;
    }
    let end = house_parts_end(letters, end);
    let start = address_start(letters, road.max(floor), floor);
    let name = road.saturating_sub(start);
    let divisions = (start..road).any(|index| ends_division(letters, index));
    (name > 0 && (divisions || (always_a_road && name >= 2))).then_some(start..end)
}

/// Where the province, city, district and road name before a road's ending start: back over
/// Chinese characters, across another road's number (`长乐路100弄`) or a space after a division
/// (`上海市 浦东新区`), then forward past the words that lead up to an address.
fn address_start(letters: &[char], road: usize, floor: usize) -> usize {
    let mut start = road;
    loop {
        while start > floor
            && road - start < LONGEST_ROAD_PREFIX
            && crate::is_han(letters[start - 1])
        {
            start -= 1;
        }
        let mut digits = start;
        while digits > floor && is_digit(letters[digits - 1]) {
            digits -= 1;
        }
        if digits < start && digits > floor && road_ending(letters, digits - 1).is_some() {
            start = digits;
            continue;
        }
        if start >= floor + 2 && is_blank(letters[start - 1]) && ends_division(letters, start - 2) {
            start -= 1;
            continue;
        }
        break;
    }
    let mut cut = start;
    for last in start..road {
        for word in BEFORE_ADDRESS {
            let length = word.chars().count();
            if last + 1 >= start + length
                && word.chars().eq(letters[last + 1 - length..=last].iter().copied())
            {
                cut = last + 1;
            }
        }
    }
    if cut == floor && floor > 0 && cut + 1 < road && BETWEEN_ADDRESSES.contains(&letters[cut]) {
        cut += 1;
    }
    cut
}

/// Where the building, unit and room after a house number end (`院3号楼`, `SOHO现代城3号楼
/// 1201室`, `5幢`): as many numbered parts as follow, each perhaps after a space.
fn house_parts_end(letters: &[char], mut end: usize) -> usize {
    loop {
        let from = if letters.get(end).copied().is_some_and(is_blank) { end + 1 } else { end };
        match house_part_end(letters, from) {
            Some(next) => end = next,
            None => return end,
        }
    }
}

fn house_part_end(letters: &[char], from: usize) -> Option<usize> {
    numbered_unit_end(letters, from).or_else(|| {
        let in_name = |character: &char| {
            (crate::is_han(*character) || character.is_ascii_alphabetic())
                && !NOT_IN_BUILDING_NAMES.contains(*character)
        };
        let length = letters[from.min(letters.len())..]
            .iter()
            .take(LONGEST_BUILDING_NAME + 1)
            .take_while(|character| in_name(character))
            .count();
        let named = (1..=LONGEST_BUILDING_NAME).contains(&length)
            && letters.get(from + length).copied().is_some_and(is_digit);
        if named { numbered_unit_end(letters, from + length) } else { None }
    })
}

/// A number or a letter and the unit it numbers (`3号楼`, `A座`, `1201室`), and the flat
/// number people write without `室` after a building or unit (`3号楼1201`).
fn numbered_unit_end(letters: &[char], from: usize) -> Option<usize> {
    let at = |index: usize| letters.get(index).copied();
    let number_end = match at(from) {
        Some(character) if is_digit(character) => digits_end(letters, from, 5)?,
        Some('A'..='Z' | 'Ａ'..='Ｚ') => from + 1,
        _ => return None,
    };
    let unit = HOUSE_UNITS.iter().find(|unit| {
        unit.chars()
            .enumerate()
            .all(|(offset, character)| at(number_end + offset) == Some(character))
    })?;
    let end = number_end + unit.chars().count();
    if matches!(*unit, "号楼" | "单元" | "栋" | "幢" | "座")
        && numbered_unit_end(letters, end).is_none()
        && let Some(flat_end) = digits_end(letters, end, 5)
        && flat_end - end >= 3
        && !at(flat_end).is_some_and(joins_number)
    {
        return Some(flat_end);
    }
    Some(end)
}

/// Words that end an English street name, in lower case.
const STREET_TYPES: [&str; 19] = [
    "street",
    "st",
    "avenue",
    "ave",
    "road",
    "rd",
    "boulevard",
    "blvd",
    "lane",
    "ln",
    "drive",
    "dr",
    "way",
    "court",
    "ct",
    "place",
    "pl",
    "parkway",
    "pkwy",
];

/// Compass directions after a street, as written on envelopes.
const DIRECTIONS: [&str; 8] = ["N", "S", "E", "W", "NE", "NW", "SE", "SW"];

/// Words before a flat, suite or floor number, in lower case.
const FLAT_WORDS: [&str; 10] =
    ["apt", "apartment", "suite", "ste", "unit", "flat", "room", "rm", "floor", "fl"];

/// The most words in a street's name before its type: `Martin Luther King Jr` fits.
const LONGEST_STREET_NAME: usize = 4;

/// Postcode shapes: `A` an upper-case letter, `9` a digit, `?` an optional letter or digit, `_`
/// an optional space. A United States ZIP code, British postcodes, a Canadian postal code.
const POSTCODES: [&str; 4] = ["99999", "A9?_9AA", "AA9?_9AA", "A9A_9A9"];

fn is_word_char(character: char) -> bool {
    character.is_ascii_alphanumeric() || matches!(character, '\'' | '-')
}

fn word_end(letters: &[char], from: usize) -> usize {
    from + letters[from.min(letters.len())..].iter().take_while(|c| is_word_char(**c)).count()
}

fn lower_case_is(word: &[char], expected: &str) -> bool {
    word.len() == expected.len()
        && word.iter().zip(expected.chars()).all(|(got, want)| got.to_ascii_lowercase() == want)
}

/// A word of a street's name: capitalised (`Baker`, `MAIN`) or an ordinal (`5th`, `42nd`).
/// Lower-case words are not taken, so that `3 days to drive` is no address.
fn is_street_name_word(word: &[char]) -> bool {
    let capitalised = word.first().is_some_and(char::is_ascii_uppercase)
        && word
            .iter()
            .all(|character| character.is_ascii_alphabetic() || matches!(character, '\'' | '-'));
    let digits = word.iter().take_while(|character| character.is_ascii_digit()).count();
    let ordinal = digits > 0
        && word.len() == digits + 2
        && ["st", "nd", "rd", "th"].iter().any(|suffix| lower_case_is(&word[digits..], suffix));
    capitalised || ordinal
}

/// An English address whose house number starts at `number`: the number (`221B`, `12-14`), a
/// capitalised street name and its type (`Baker Street`, `Main St`), then perhaps a flat
/// (`, Apt 4`) and a city, state and postcode (`, New York, NY 10118`).
fn english_address_at(letters: &[char], number: usize) -> Option<Range<usize>> {
    let at = |index: usize| letters.get(index).copied();
    let before = number.checked_sub(1).and_then(at);
    if !at(number).is_some_and(|c| c.is_ascii_digit())
        || before.is_some_and(|c| joins_number(c) || matches!(c, '.' | '-'))
    {
        return None;
    }
    let mut end = number;
    while at(end).is_some_and(|c| c.is_ascii_digit()) {
        end += 1;
    }
    if end - number > 6 {
        return None;
    }
    if at(end).is_some_and(|c| c.is_ascii_alphabetic()) && !at(end + 1).is_some_and(is_word_char) {
        end += 1;
    } else if at(end) == Some('-') && at(end + 1).is_some_and(|c| c.is_ascii_digit()) {
        end += 1;
        while at(end).is_some_and(|c| c.is_ascii_digit()) {
            end += 1;
        }
    }
    let mut names = 0;
    let street_end = loop {
        if at(end) != Some(' ') {
            return None;
        }
        let word_start = end + 1;
        let word_end = word_end(letters, word_start);
        let word = &letters[word_start..word_end];
        if names > 0 && STREET_TYPES.iter().any(|street| lower_case_is(word, street)) {
            break word_end;
        }
        if names == LONGEST_STREET_NAME || !is_street_name_word(word) {
            return None;
        }
        names += 1;
        end = word_end;
    };
    let mut end = street_end;
    if let Some(next) = direction_end(letters, end) {
        end = next;
    }
    if let Some(next) = flat_end(letters, end) {
        end = next;
    }
    if let Some(next) = place_end(letters, end) {
        end = next;
    }
    Some(number..end)
}

/// A compass direction after the street type: `Pennsylvania Ave NW`, `Queen St W`.
fn direction_end(letters: &[char], from: usize) -> Option<usize> {
    if letters.get(from) != Some(&' ') {
        return None;
    }
    let word_end = word_end(letters, from + 1);
    let word: String = letters[from + 1..word_end].iter().collect();
    DIRECTIONS.contains(&word.as_str()).then_some(word_end)
}

/// Where what separates two parts of an English address ends: a comma or spaces, perhaps
/// after the full stop of an abbreviation (`St.,`).
fn separator_end(letters: &[char], from: usize) -> Option<usize> {
    let at = |index: usize| letters.get(index).copied();
    let mut cursor = from;
    if at(cursor) == Some('.') {
        cursor += 1;
    }
    if at(cursor) == Some(',') {
        cursor += 1;
    }
    while at(cursor) == Some(' ') {
        cursor += 1;
    }
    (cursor > from && at(cursor - 1) != Some('.')).then_some(cursor)
}

/// A flat, suite or floor after the street: `, Apt 4`, ` Suite 200`, ` #12`.
fn flat_end(letters: &[char], from: usize) -> Option<usize> {
    let at = |index: usize| letters.get(index).copied();
    let mut cursor = separator_end(letters, from)?;
    if at(cursor) == Some('#') {
        cursor += 1;
    } else {
        let word_end =
            cursor + letters[cursor..].iter().take_while(|c| c.is_ascii_alphabetic()).count();
        if !FLAT_WORDS.iter().any(|word| lower_case_is(&letters[cursor..word_end], word)) {
            return None;
        }
        cursor = word_end;
        if at(cursor) == Some('.') {
            cursor += 1;
        }
        while at(cursor) == Some(' ') {
            cursor += 1;
        }
        if at(cursor) == Some('#') {
            cursor += 1;
        }
    }
    let flat = &letters[cursor..word_end(letters, cursor)];
    let numbered = (1..=6).contains(&flat.len())
        && flat.iter().all(char::is_ascii_alphanumeric)
        && (flat.len() == 1 || flat.iter().any(char::is_ascii_digit));
    numbered.then_some(cursor + flat.len())
}

/// The city, state and postcode after the street, taken only when a state or postcode is
/// there: a capitalised word after a street may just start the next sentence.
fn place_end(letters: &[char], from: usize) -> Option<usize> {
    let start = separator_end(letters, from)?;
    let direct = region_end(letters, start);
    let after_city = city_end(letters, start)
        .and_then(|city| separator_end(letters, city))
        .and_then(|next| region_end(letters, next));
    direct.max(after_city)
}

/// Up to three capitalised words: `London`, `New York`.
fn city_end(letters: &[char], from: usize) -> Option<usize> {
    let at = |index: usize| letters.get(index).copied();
    let mut end = from;
    let mut words = 0;
    while words < 3 {
        let word_start = if words == 0 { end } else { end + 1 };
        if words > 0 && at(end) != Some(' ')
            || !at(word_start).is_some_and(|c| c.is_ascii_uppercase())
        {
            break;
        }
        let word_end = word_end(letters, word_start);
        let word = &letters[word_start..word_end];
        if word.len() < 2
            || !word[1..].iter().all(|c| c.is_ascii_lowercase() || matches!(c, '\'' | '-'))
        {
            break;
        }
        end = word_end;
        words += 1;
    }
    (words > 0).then_some(end)
}

/// A state or province abbreviation (`NY`, `CA`), a postcode, or both.
fn region_end(letters: &[char], from: usize) -> Option<usize> {
    if let Some(end) = postcode_end(letters, from) {
        return Some(end);
    }
    let at = |index: usize| letters.get(index).copied();
    let state = (at(from).is_some_and(|c| c.is_ascii_uppercase())
        && at(from + 1).is_some_and(|c| c.is_ascii_uppercase())
        && !at(from + 2).is_some_and(is_word_char))
    .then_some(from + 2)?;
    let postcode = separator_end(letters, state).and_then(|next| postcode_end(letters, next));
    Some(postcode.unwrap_or(state))
}

fn postcode_end(letters: &[char], from: usize) -> Option<usize> {
    let at = |index: usize| letters.get(index).copied();
    POSTCODES
        .iter()
        .filter_map(|shape| {
            let end = shape_end(letters, from, shape.as_bytes())?;
            // ZIP+4: 10118-0110.
            let end = match shape_end(letters, end + 1, b"9999") {
                Some(longer) if *shape == "99999" && at(end) == Some('-') => longer,
                _ => end,
            };
            (!at(end).is_some_and(is_word_char)).then_some(end)
        })
        .max()
}

/// Where `shape` (see [`POSTCODES`]) matches at `from`, trying the optional parts both ways.
fn shape_end(letters: &[char], from: usize, shape: &[u8]) -> Option<usize> {
    let Some((first, rest)) = shape.split_first() else { return Some(from) };
    let fits = letters.get(from).is_some_and(|character| match first {
        b'A' => character.is_ascii_uppercase(),
        b'9' => character.is_ascii_digit(),
        b'?' => character.is_ascii_uppercase() || character.is_ascii_digit(),
        b'_' => *character == ' ',
        _ => false,
    });
    let taken = if fits { shape_end(letters, from + 1, rest) } else { None };
    match first {
        b'?' | b'_' => taken.or_else(|| shape_end(letters, from, rest)),
        _ => taken,
    }
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
            (
                "张三 13800138000 上海市徐汇区漕溪北路398号".into(),
                vec![(Mobile, "13800138000"), (Address, "上海市徐汇区漕溪北路398号")],
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
            PersonalKind::Address,
        ]
        .into_iter()
        .map(PersonalKind::as_str)
        .collect();
        assert_eq!(codes, ["mobile", "id_card", "bank_card", "email", "address"]);
    }

    /// Each text holds exactly the addresses listed, and nothing else personal.
    fn check_addresses(cases: &[(&str, &[&str])]) {
        for (text, expected) in cases {
            let addresses: Vec<(PersonalKind, &str)> =
                expected.iter().map(|address| (PersonalKind::Address, *address)).collect();
            assert_eq!(found(text), addresses, "{text:?}");
        }
    }

    #[test]
    fn chinese_addresses_are_found_without_the_words_before_them() {
        check_addresses(&[
            ("上海市浦东新区世纪大道100号", &["上海市浦东新区世纪大道100号"]),
            (
                "北京市朝阳区建国路88号SOHO现代城3号楼1201室",
                &["北京市朝阳区建国路88号SOHO现代城3号楼1201室"],
            ),
            ("寄到广东省深圳市南山区科技园南路15号，谢谢", &["广东省深圳市南山区科技园南路15号"]),
            ("地址是杭州市西湖区文三路90号5幢", &["杭州市西湖区文三路90号5幢"]),
            ("地址：朝阳区望京街道阜通东大街6号院3号楼", &["朝阳区望京街道阜通东大街6号院3号楼"]),
            ("收货地址为上海市黄浦区南京东路 300 号", &["上海市黄浦区南京东路 300 号"]),
            ("我住在文三路90号1单元502室。", &["文三路90号1单元502室"]),
            ("麻烦送到长乐路100弄5号", &["长乐路100弄5号"]),
            ("请改成上海市 浦东新区 世纪大道１００号", &["上海市 浦东新区 世纪大道１００号"]),
            ("我家在南锣鼓巷8号", &["南锣鼓巷8号"]),
            ("北京市东城区史家胡同24号A座", &["北京市东城区史家胡同24号A座"]),
            ("天津市和平区南京道3号", &["天津市和平区南京道3号"]),
            ("海淀区中关村大街1号3号楼1502", &["海淀区中关村大街1号3号楼1502"]),
            (
                "寄到人民路1号，或者北京市西城区金融大街2号",
                &["人民路1号", "北京市西城区金融大街2号"],
            ),
            ("文三路90号5幢和人民路3号", &["文三路90号5幢", "人民路3号"]),
            ("天津市和平区和平路5号", &["天津市和平区和平路5号"]),
            ("世纪大道100号买了3层蛋糕", &["世纪大道100号"]),
        ]);
    }

    #[test]
    fn english_addresses_are_found_with_their_flat_city_and_postcode() {
        check_addresses(&[
            ("221B Baker Street, London NW1 6XE", &["221B Baker Street, London NW1 6XE"]),
            ("ship to 1600 Amphitheatre Parkway please", &["1600 Amphitheatre Parkway"]),
            (
                "I live at 350 Fifth Avenue, New York, NY 10118.",
                &["350 Fifth Avenue, New York, NY 10118"],
            ),
            ("12 Main St Apt 4", &["12 Main St Apt 4"]),
            ("12 Main St. I moved last week", &["12 Main St"]),
            ("10 Downing Street", &["10 Downing Street"]),
            ("1 Infinite LOOP, 500 West 42nd St, Suite 200", &["500 West 42nd St, Suite 200"]),
            ("742 Evergreen Terrace? no: 742 Evergreen Dr, Springfield", &["742 Evergreen Dr"]),
            (
                "1600 Pennsylvania Ave NW, Washington, DC 20500-0003",
                &["1600 Pennsylvania Ave NW, Washington, DC 20500-0003"],
            ),
            ("100 Queen St W, Toronto, ON M5H2N2", &["100 Queen St W, Toronto, ON M5H2N2"]),
            ("寄到350 Fifth Avenue", &["350 Fifth Avenue"]),
            ("12 main st", &[]),
        ]);
    }

    #[test]
    fn sentences_that_only_look_like_addresses_are_left_alone() {
        check_addresses(&[
            ("退货地址请见订单详情", &[]),
            ("我在路上", &[]),
            ("7天无理由退货", &[]),
            ("3号线地铁", &[]),
            ("订单20241123001", &[]),
            ("第2号问题", &[]),
            ("道歉", &[]),
            ("知道了", &[]),
            ("我知道3号发货", &[]),
            ("这里3号楼有问题", &[]),
            ("我想逛街3号去", &[]),
            ("中山路2号线换乘", &[]),
            ("频道5号节目", &[]),
            ("一路3号才到", &[]),
            ("7 days return", &[]),
            ("I waited 3 days", &[]),
            ("order 20241123001", &[]),
            ("2 items", &[]),
            ("it takes 2 hours to drive", &[]),
            ("I walked 3 blocks down the road", &[]),
            ("a 2 lane road", &[]),
            ("Top 10 Ways To Save", &[]),
            ("version 1.5 Main St", &[]),
        ]);
    }

    #[test]
    fn addresses_are_masked_down_to_the_street() {
        let cases = [
            ("寄到上海市浦东新区世纪大道100号", "寄到上海市浦东新区世纪大道***号"),
            ("建国路88号3号楼1201室", "建国路**号*号楼****室"),
            ("350 Fifth Avenue, New York, NY 10118", "*** Fifth Avenue, New York, NY *****"),
        ];
        for (text, expected) in cases {
            assert_eq!(mask_personal_data(text), expected, "{text:?}");
        }
    }
}
