//! Streaming a grounded answer without ever showing an unchecked claim or an answer that is
//! not drawn from the passages: the text is released a clause at a time, each clause once it is
//! complete, [`verify_in_context`] finds its claims in the passages and
//! [`Grounds::check_clause`] finds it in the customer's language and drawn from some passage
//! (not the instructions, not off the subject). The first clause that fails closes the gate for
//! good; the caller then drops the stream and sends the extractive answer instead. Claims are
//! local to a clause (a number and its unit, a date, a quoted term, a promise phrase), so
//! checking clause by clause accepts what checking the whole answer accepts.
//!
//! What only the whole answer can tell (does it cite a passage, is it drawn from the passages
//! it cites) is checked by [`finish`](StreamGate::finish) with [`Grounds::check`] before
//! whatever is still pending (an unfinished last clause, a trailing citation) is released, and
//! the caller checks the whole answer again before it is stored. So a customer sees either the
//! whole checked answer or, when the whole check fails, a draft of clauses that each came from
//! the passages, which the article's own answer then replaces; never a clause of an
//! irrelevant, instruction-repeating or wrong-language reply. (Holding everything back until
//! the end would also be correct, but it would lose streaming altogether.)

use crate::grounding::{self, Grounds, NO_ANSWER, Rejection, verify_in_context};

/// Releases verified clauses of a streamed answer.
#[derive(Debug)]
pub struct StreamGate<'a> {
    grounds: &'a Grounds<'a>,
    /// Everything received, citations included: what the whole answer check reads.
    received: String,
    /// The clause being written, as received.
    pending: String,
    /// How much of `pending` is already shown: words before anything that could become a
    /// claim (a digit, a number word, a quotation mark, a citation).
    partial: usize,
    /// Released so far, citations removed: what the customer may see.
    shown: String,
    /// Why the gate closed, if it did.
    rejection: Option<Rejection>,
}

impl<'a> StreamGate<'a> {
    pub fn new(grounds: &'a Grounds<'a>) -> Self {
        StreamGate {
            grounds,
            received: String::new(),
            pending: String::new(),
            partial: 0,
            shown: String::new(),
            rejection: None,
        }
    }

    /// Takes more of the answer; returns the text to show when it grew.
    pub fn push(&mut self, delta: &str) -> Option<&str> {
        if self.rejection.is_some() {
            return None;
        }
        self.pending.push_str(delta);
        self.received.push_str(delta);
        if self.shown.is_empty() {
            let start = self.pending.len() - self.pending.trim_start().len();
            self.pending.drain(..start);
        }
        let before = self.shown.len();
        while let Some(end) = clause_end(&self.pending) {
            let clause: String = self.pending.drain(..end).collect();
            if !self.release(&clause) {
                return None;
            }
        }
        self.release_words();
        (self.shown.len() > before).then_some(self.shown.as_str())
    }

    /// Shows the words of the clause being written up to the first thing that could become a
    /// claim, if what they say so far checks out (a promise phrase).
    fn release_words(&mut self) {
        let safe = safe_prefix(&self.pending);
        let waiting_for_no_answer =
            self.shown.is_empty() && NO_ANSWER.starts_with(self.pending.trim_end());
        if safe <= self.partial || waiting_for_no_answer || self.pending.contains("NO_") {
            return;
        }
        let words = &self.pending[..safe];
        let so_far = format!("{}{}", self.shown, grounding::without_citations(words));
        if self.verify(words).is_ok() && self.grounds.check_clause(&so_far, words).is_ok() {
            self.shown.push_str(&self.pending[self.partial..safe]);
            self.partial = safe;
        }
    }

    /// The answer is complete: checks the whole answer ([`Grounds::check`]), then the last
    /// clause; returns the text to show when it grew.
    pub fn finish(&mut self) -> Option<&str> {
        if self.rejection.is_some() {
            return None;
        }
        if let Err(rejection) = self.grounds.check(&self.received) {
            self.rejection = Some(rejection);
            return None;
        }
        let before = self.shown.len();
        let clause = std::mem::take(&mut self.pending);
        (self.release(&clause) && self.shown.len() > before).then_some(self.shown.as_str())
    }

    /// Why the gate closed, if it did.
    pub fn rejection(&self) -> Option<&Rejection> {
        self.rejection.as_ref()
    }

    /// Checks a whole clause and shows what of it is not shown yet.
    fn release(&mut self, clause: &str) -> bool {
        let partial = std::mem::take(&mut self.partial);
        if clause.contains(NO_ANSWER) {
            self.rejection = Some(Rejection::Refused);
            return false;
        }
        if clause.trim().is_empty() {
            if !self.shown.is_empty() {
                self.shown.push_str(clause);
            }
            return true;
        }
        let visible = grounding::without_citations(clause);
        if visible.trim().is_empty() {
            // Only a citation between clauses: still refuse one of a passage not given.
            if let Err(rejection) = verify_in_context(clause, self.grounds.passages(), &[]) {
                self.rejection = Some(rejection);
                return false;
            }
            if !self.shown.is_empty() {
                self.shown.push_str(&visible);
            }
            return true;
        }
        let so_far = format!("{}{}", self.shown, visible);
        let verdict = self.verify(clause).and_then(|()| {
            self.grounds.check_clause(&so_far, clause).map_err(Rejection::NotGrounded)
        });
        match verdict {
            Ok(()) => {
                // The words already shown come before any citation, so they begin `visible`.
                self.shown.push_str(&visible[partial.min(visible.len())..]);
                true
            }
            Err(rejection) => {
                self.rejection = Some(rejection);
                false
            }
        }
    }
}

impl StreamGate<'_> {
    /// The claims of a clause, against the passages and the question.
    fn verify(&self, clause: &str) -> Result<(), Rejection> {
        verify_in_context(clause, self.grounds.passages(), &[self.grounds.question()])
    }
}

/// The end (exclusive, in bytes) of the words of `text` that come before anything that could
/// become a claim or a citation: a digit, a Chinese number word, a quotation mark, a currency
/// or percent sign, `[`. English words end at white space (a word may still be growing).
fn safe_prefix(text: &str) -> usize {
    let mut end = 0;
    for (index, c) in text.char_indices() {
        let risky = c.is_numeric()
            || grounding::CHINESE_NUMERALS.contains(c)
            || "亿半“”「」『』‘\"[%％¥￥$".contains(c);
        if risky {
            break;
        }
        if c.is_whitespace() {
            let word = text[..index].rsplit(|c: char| !c.is_ascii_alphabetic()).next();
            if word.is_some_and(is_number_word) {
                break;
            }
            end = index;
        } else if !c.is_ascii() && !c.is_alphabetic() || is_cjk(c) {
            end = index + c.len_utf8();
        }
    }
    end
}

/// Whether `word` may be read as a number: one the check reads before a unit (`seven days`),
/// or one that may grow into such a number.
fn is_number_word(word: &str) -> bool {
    grounding::english_number(&word.to_ascii_lowercase()).is_some()
        || ["hundred", "thousand", "half", "dozen"]
            .iter()
            .any(|number| number.eq_ignore_ascii_case(word))
}

fn is_cjk(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{9fff}' | '\u{f900}'..='\u{faff}' | '\u{3000}'..='\u{303f}' | '\u{ff00}'..='\u{ffef}')
}

/// The end (exclusive, in bytes) of the first complete clause of `text`, if there is one: after
/// a sentence or clause mark that is not inside quotation marks. ASCII `.`, `,`, `;` and `:`
/// end a clause only before white space, and a comma not before a digit (`Nov 11, 2026`,
/// `1, 000`), so the gate waits for the next character to decide. A `NO_ANSWER` still being
/// written is held back as well.
fn clause_end(text: &str) -> Option<usize> {
    let mut quoted = false;
    let mut chars = text.char_indices().peekable();
    while let Some((index, c)) = chars.next() {
        match c {
            '“' | '「' | '『' | '‘' => quoted = true,
            '”' | '」' | '』' | '’' => quoted = false,
            '"' => quoted = !quoted,
            _ if quoted => {}
            '。' | '！' | '？' | '；' | '，' | '、' | '\n' | '!' | '?' => {
                return Some(index + c.len_utf8());
            }
            '.' | ',' | ';' | ':' => {
                let (_, next) = chars.peek().copied()?;
                if next.is_whitespace() {
                    if c == ',' {
                        let after = text[index + 1..].trim_start();
                        let first = after.chars().next()?;
                        if first.is_ascii_digit() {
                            continue;
                        }
                    }
                    return Some(index + c.len_utf8());
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use tandem_domain::Locale;

    use super::*;
    use crate::grounding::{NotGrounded, Passage};

    fn passages() -> Vec<Passage> {
        vec![Passage {
            key: "returns".into(),
            title: "退货政策".into(),
            text:
                "签收后 7 天内可无理由退货，运费由买家承担。Refunds arrive within 3 working days."
                    .into(),
        }]
    }

    /// Feeds `deltas` and returns every text shown, in order.
    fn shown(deltas: &[&str]) -> (Vec<String>, Option<Rejection>) {
        shown_in(Locale::Zh, deltas)
    }

    fn shown_in(locale: Locale, deltas: &[&str]) -> (Vec<String>, Option<Rejection>) {
        let passages = passages();
        let grounds = Grounds::new(&passages, "", locale);
        let mut gate = StreamGate::new(&grounds);
        let mut seen = Vec::new();
        for delta in deltas {
            if let Some(text) = gate.push(delta) {
                seen.push(text.to_owned());
            }
        }
        if let Some(text) = gate.finish() {
            seen.push(text.to_owned());
        }
        (seen, gate.rejection().cloned())
    }

    #[test]
    fn releases_verified_clauses_as_they_complete() {
        let (seen, rejection) =
            shown(&["签收后", " 7 天内", "可以退货，", "运费由", "买家承担", "。[ref:returns]"]);
        assert_eq!(rejection, None);
        assert_eq!(
            seen,
            [
                "签收后",
                "签收后 7 天内可以退货，",
                "签收后 7 天内可以退货，运费由",
                "签收后 7 天内可以退货，运费由买家承担",
                "签收后 7 天内可以退货，运费由买家承担。"
            ]
        );
    }

    #[test]
    fn an_unsupported_clause_closes_the_gate_before_it_is_shown() {
        let (seen, rejection) =
            shown(&["签收后可以退货，", "30 天内", "都行。", "运费由买家承担。"]);
        assert_eq!(seen, ["签收后可以退货，"]);
        assert!(
            matches!(rejection, Some(Rejection::Unsupported { claims }) if claims[0].text.contains("30"))
        );
    }

    #[test]
    fn no_answer_is_never_shown() {
        for deltas in [&["NO", "_ANSWER"][..], &["NO_ANSWER"], &["NO_", "ANS", "WER\n"]] {
            let (seen, rejection) = shown(deltas);
            assert!(seen.is_empty(), "{deltas:?}: {seen:?}");
            assert_eq!(rejection, Some(Rejection::Refused));
        }
    }

    #[test]
    fn english_clauses_wait_for_the_next_character() {
        let (seen, rejection) = shown_in(
            Locale::En,
            &["Refunds arrive within 3 working days", ".", " Thanks", " for asking.[ref:returns]"],
        );
        assert_eq!(rejection, None);
        assert_eq!(
            seen,
            [
                "Refunds arrive within",
                "Refunds arrive within 3 working days.",
                "Refunds arrive within 3 working days. Thanks for",
                "Refunds arrive within 3 working days. Thanks for asking."
            ]
        );
        // A number word waits with the rest of its clause, and is never shown unsupported.
        let (seen, rejection) =
            shown_in(Locale::En, &["We refund within", " ten days", " of delivery."]);
        assert_eq!(seen, ["We refund", "We refund within"]);
        assert!(matches!(rejection, Some(Rejection::Unsupported { .. })));
        assert_eq!(clause_end("version 1.5 is"), None);
        assert_eq!(clause_end("on Nov 11, 2026 we"), None);
        assert_eq!(clause_end("say “a，b” then"), None);
    }

    #[test]
    fn a_term_in_single_quotation_marks_waits_for_its_clause() {
        let (seen, rejection) = shown(&["请注意‘闪电", "到账’，", "谢谢。"]);
        assert_eq!(seen, ["请注意"]);
        assert!(matches!(rejection, Some(Rejection::Unsupported { .. })));
        assert_eq!(clause_end("看‘a，b’然后"), None);
    }

    #[test]
    fn citations_of_unknown_passages_close_the_gate() {
        let (seen, rejection) = shown(&["签收后可以退货。", "[ref:warranty]", "好的。"]);
        assert_eq!(seen, ["签收后可以退货。"]);
        assert!(matches!(rejection, Some(Rejection::Unsupported { .. })));
    }

    #[test]
    fn an_irrelevant_or_echoing_or_uncited_answer_is_not_shown() {
        // Off the subject: not a word of it is shown.
        let (seen, rejection) = shown(&["今天天气", "很好，", "适合出去玩。"]);
        assert!(seen.is_empty(), "{seen:?}");
        assert_eq!(rejection, Some(Rejection::NotGrounded(NotGrounded::OffTopic)));
        // The instructions repeated.
        let (seen, rejection) =
            shown(&["Use only facts the passages state. ", "Never add numbers, dates, amounts. "]);
        assert!(seen.is_empty(), "{seen:?}");
        assert_eq!(rejection, Some(Rejection::NotGrounded(NotGrounded::EchoesInstructions)));
        // English to a Chinese customer.
        let (seen, rejection) = shown(&["Refunds arrive within ", "working days. [ref:returns]"]);
        assert!(seen.is_empty(), "{seen:?}");
        assert_eq!(rejection, Some(Rejection::NotGrounded(NotGrounded::WrongLanguage)));
        // Drawn from the passage but citing nothing: its clauses may be shown as a draft, what
        // is pending at the end is not, and the whole answer is rejected.
        let (seen, rejection) = shown(&["签收后可以退货，", "运费由买家承担"]);
        assert_eq!(seen, ["签收后可以退货，", "签收后可以退货，运费由买家承担"]);
        assert_eq!(rejection, Some(Rejection::NotGrounded(NotGrounded::NoCitation)));
    }
}
