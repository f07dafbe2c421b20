//! Personal data never leaves the machine: before a request goes to the provider, every phone
//! number, identity card number, bank card number, e-mail address and postal address in it is
//! replaced by a placeholder (`[PHONE_1]`, `[EMAIL_1]`, `[ADDRESS_1]`…), the same value by the
//! same placeholder throughout the request; the model's reply gets the real values back.

use std::collections::HashMap;

use tandem_text::signals::{PersonalKind, find_personal_data};

/// The placeholders of one request and the values behind them.
#[derive(Debug, Default, Clone)]
pub struct Redactor {
    placeholders: HashMap<String, String>,
    values: Vec<(String, String)>,
    counts: HashMap<PersonalKind, usize>,
}

fn label(kind: PersonalKind) -> &'static str {
    match kind {
        PersonalKind::Mobile => "PHONE",
        PersonalKind::IdCard => "ID_NUMBER",
        PersonalKind::BankCard => "CARD",
        PersonalKind::Email => "EMAIL",
        PersonalKind::Address => "ADDRESS",
    }
}

/// What makes two spans the same value: the digits of a number however it is spaced (and
/// without the +86 country code), an e-mail address in lower case, a postal address folded
/// (full-width digits, case) without its spaces and punctuation.
fn identity(kind: PersonalKind, value: &str) -> String {
    match kind {
        PersonalKind::Email => value.to_lowercase(),
        PersonalKind::Mobile => {
            let digits: String = value.chars().filter(char::is_ascii_digit).collect();
            let national = digits.strip_prefix("86").filter(|rest| rest.len() == 11);
            national.map(str::to_owned).unwrap_or(digits)
        }
        PersonalKind::IdCard | PersonalKind::BankCard => {
            value.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_uppercase()
        }
        PersonalKind::Address => {
            tandem_text::normalize(value).chars().filter(|c| c.is_alphanumeric()).collect()
        }
    }
}

impl Redactor {
    pub fn new() -> Self {
        Self::default()
    }

    /// The text with its personal data replaced by placeholders.
    pub fn redact(&mut self, text: &str) -> String {
        let mut redacted = String::with_capacity(text.len());
        let mut copied = 0;
        for span in find_personal_data(text) {
            redacted.push_str(&text[copied..span.start]);
            let value = &text[span.start..span.end];
            let identity = identity(span.kind, value);
            let placeholder = match self.placeholders.get(&identity) {
                Some(placeholder) => placeholder.clone(),
                None => {
                    let count = self.counts.entry(span.kind).or_insert(0);
                    *count += 1;
                    let placeholder = format!("[{}_{}]", label(span.kind), count);
                    self.placeholders.insert(identity, placeholder.clone());
                    self.values.push((placeholder.clone(), value.to_owned()));
                    placeholder
                }
            };
            redacted.push_str(&placeholder);
            copied = span.end;
        }
        redacted.push_str(&text[copied..]);
        redacted
    }

    /// The text with this request's placeholders replaced by their values again. Placeholders
    /// the model made up are left as they are.
    pub fn restore(&self, text: &str) -> String {
        let mut restored = text.to_owned();
        for (placeholder, value) in &self.values {
            if restored.contains(placeholder.as_str()) {
                restored = restored.replace(placeholder.as_str(), value);
            }
        }
        restored
    }

    /// Whether anything was redacted.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Restores a streamed reply piece by piece: a placeholder split across two deltas
    /// (`"[PHO"`, `"NE_1]"`) is held back until it is complete.
    pub fn stream_restorer(&self) -> StreamRestorer<'_> {
        StreamRestorer { redactor: self, pending: String::new() }
    }
}

/// See [`Redactor::stream_restorer`].
#[derive(Debug)]
pub struct StreamRestorer<'a> {
    redactor: &'a Redactor,
    pending: String,
}

/// Placeholders are short; an opening bracket this far back is ordinary text.
const LONGEST_PLACEHOLDER: usize = 24;

impl StreamRestorer<'_> {
    /// The text that can be shown now.
    pub fn push(&mut self, delta: &str) -> String {
        self.pending.push_str(delta);
        let hold_from = self
            .pending
            .rfind('[')
            .filter(|&start| {
                !self.pending[start..].contains(']')
                    && self.pending.len() - start < LONGEST_PLACEHOLDER
            })
            .unwrap_or(self.pending.len());
        let ready: String = self.pending.drain(..hold_from).collect();
        self.redactor.restore(&ready)
    }

    /// Whatever was held back, at the end of the stream.
    pub fn finish(&mut self) -> String {
        let rest = std::mem::take(&mut self.pending);
        self.redactor.restore(&rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_values_share_a_placeholder_and_come_back() {
        let mut redactor = Redactor::new();
        let first = redactor.redact("我的手机 13800138000，邮箱 li.lei@example.com");
        let second = redactor.redact("再说一遍：138 0013 8000，另一个 13912345678");
        assert_eq!(first, "我的手机 [PHONE_1]，邮箱 [EMAIL_1]");
        assert_eq!(second, "再说一遍：[PHONE_1]，另一个 [PHONE_2]");
        assert_eq!(
            redactor.restore("已记录 [PHONE_1] 和 [EMAIL_1]，[PHONE_9] 不变"),
            "已记录 13800138000 和 li.lei@example.com，[PHONE_9] 不变"
        );
    }

    #[test]
    fn addresses_get_their_own_placeholder_and_come_back() {
        let mut redactor = Redactor::new();
        let first = redactor.redact("寄到上海市浦东新区世纪大道100号，电话13800138000");
        let second = redactor
            .redact("Or 350 Fifth Avenue, New York, NY 10118? 上海市浦东新区世纪大道１００号");
        assert_eq!(first, "寄到[ADDRESS_1]，电话[PHONE_1]");
        assert_eq!(second, "Or [ADDRESS_2]? [ADDRESS_1]");
        assert_eq!(
            redactor.restore("已改为 [ADDRESS_2]，原地址 [ADDRESS_1]"),
            "已改为 350 Fifth Avenue, New York, NY 10118，原地址 上海市浦东新区世纪大道100号"
        );
    }

    #[test]
    fn placeholders_split_across_deltas_are_restored_whole() {
        let mut redactor = Redactor::new();
        redactor.redact("call 13800138000");
        let mut restorer = redactor.stream_restorer();
        let mut shown = String::new();
        for delta in ["We will call [PH", "ONE", "_1] today [", "soon"] {
            shown.push_str(&restorer.push(delta));
        }
        shown.push_str(&restorer.finish());
        assert_eq!(shown, "We will call 13800138000 today [soon");
    }
}
