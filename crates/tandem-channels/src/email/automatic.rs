//! Mail that no person wrote. Answering an out-of-office reply with an auto-reply of our own
//! starts a loop that only ends when one side's quota does, and answering a mailing list or a
//! bounce writes to people who never asked Tandem anything; RFC 3834 asks responders to stay
//! silent for all of these. The signs are headers, each set by a different generation of mail
//! software, so several are checked.

/// Why a mail is taken to be automatic, most telling first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Automatic {
    /// A delivery status report (`multipart/report`, or mail from `MAILER-DAEMON` or
    /// `postmaster`): a bounce of something sent earlier.
    DeliveryReport,
    /// `Auto-Submitted` with any value but `no` (RFC 3834).
    AutoSubmitted,
    /// An out-of-office or vacation reply marked the older, unstandardised ways
    /// (`X-Autoreply`, `X-Autorespond`, Exchange's `X-Auto-Response-Suppress: All` or `OOF`).
    AutoReply,
    /// Sent through a mailing list (`List-Id`, `List-Unsubscribe`, `Precedence: list`).
    MailingList,
    /// Bulk mail (`Precedence: bulk` or `junk`).
    Bulk,
}

/// Whether the mail with these header fields (name and raw value, as they appear in the top-level
/// header, in any order and case) is automatic. `Content-Type` and `From` are read too.
pub fn automatic<'a>(headers: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<Automatic> {
    let mut found: Option<Automatic> = None;
    // Keeps the most telling reason: the variants are declared in that order.
    let mut note = |reason: Automatic| {
        if found.is_none_or(|seen| (reason as u8) < (seen as u8)) {
            found = Some(reason);
        }
    };
    for (name, value) in headers {
        let value = value.trim().to_ascii_lowercase();
        // The value up to its parameters or comments: `Auto-Submitted: no; reason=x`.
        let word = value.split([';', '(', ' ', '\t', '\r', '\n']).next().unwrap_or("");
        match name.trim().to_ascii_lowercase().as_str() {
            "auto-submitted" if word != "no" => note(Automatic::AutoSubmitted),
            "precedence" => match word {
                "bulk" | "junk" => note(Automatic::Bulk),
                "list" => note(Automatic::MailingList),
                _ => {}
            },
            "x-autoreply" | "x-autorespond" => note(Automatic::AutoReply),
            "x-auto-response-suppress"
                if value.split([',', ' ', '\t']).any(|token| token == "all" || token == "oof") =>
            {
                note(Automatic::AutoReply)
            }
            "list-id" | "list-unsubscribe" => note(Automatic::MailingList),
            "content-type" if word == "multipart/report" => note(Automatic::DeliveryReport),
            "from" if is_daemon_address(&value) => note(Automatic::DeliveryReport),
            _ => {}
        }
    }
    found
}

/// Whether a From field's value (lowercased) names the mail system rather than a person.
fn is_daemon_address(from: &str) -> bool {
    // The address is inside angle brackets when there is a display name.
    let address = match (from.rfind('<'), from.rfind('>')) {
        (Some(open), Some(close)) if open < close => &from[open + 1..close],
        _ => from,
    };
    let local = address.trim().split('@').next().unwrap_or("");
    local == "mailer-daemon" || local == "postmaster"
}

/// Whether the SMTP envelope's reverse path (`MAIL FROM`, `None` for `<>`) marks a bounce: RFC
/// 5321 sends notifications from the null path precisely so that nobody answers them.
pub fn envelope_is_bounce(mail_from: Option<&str>) -> bool {
    match mail_from.map(str::trim) {
        None | Some("") | Some("<>") => true,
        Some(path) => is_daemon_address(&path.to_ascii_lowercase()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_person_s_mail_is_not_automatic() {
        let headers = [
            ("From", " \"Li Wei\" <li.wei@example.cn>"),
            ("Subject", "订单问题"),
            ("Auto-Submitted", "no"),
            ("Precedence", "first-class"),
            ("Content-Type", "multipart/alternative; boundary=x"),
        ];
        assert_eq!(automatic(headers), None);
    }

    #[test]
    fn each_sign_is_recognised() {
        let cases: &[(&str, &str, Automatic)] = &[
            ("Auto-Submitted", "auto-replied", Automatic::AutoSubmitted),
            ("auto-submitted", " Auto-Generated (vacation)", Automatic::AutoSubmitted),
            ("Precedence", "bulk", Automatic::Bulk),
            ("Precedence", "JUNK", Automatic::Bulk),
            ("Precedence", "list", Automatic::MailingList),
            ("X-Autoreply", "yes", Automatic::AutoReply),
            ("X-Autorespond", "Out of office", Automatic::AutoReply),
            ("X-Auto-Response-Suppress", "All", Automatic::AutoReply),
            ("X-Auto-Response-Suppress", "DR, OOF, AutoReply", Automatic::AutoReply),
            ("List-Id", "Users <users.lists.example.com>", Automatic::MailingList),
            ("List-Unsubscribe", "<mailto:leave@example.com>", Automatic::MailingList),
            (
                "Content-Type",
                "multipart/report; report-type=delivery-status",
                Automatic::DeliveryReport,
            ),
            (
                "From",
                "Mail Delivery System <MAILER-DAEMON@mx.example.com>",
                Automatic::DeliveryReport,
            ),
            ("From", "postmaster@example.com", Automatic::DeliveryReport),
        ];
        for &(name, value, expected) in cases {
            assert_eq!(automatic([(name, value)]), Some(expected), "{name}: {value}");
        }
        assert_eq!(automatic([("X-Auto-Response-Suppress", "DR, RN")]), None);
        assert_eq!(automatic([("From", "postmaster-team@example.com")]), None);
    }

    #[test]
    fn the_most_telling_reason_wins() {
        let headers = [("List-Id", "<x.example.com>"), ("Content-Type", "multipart/report")];
        assert_eq!(automatic(headers), Some(Automatic::DeliveryReport));
    }

    #[test]
    fn the_null_reverse_path_is_a_bounce() {
        assert!(envelope_is_bounce(None));
        assert!(envelope_is_bounce(Some("")));
        assert!(envelope_is_bounce(Some("<>")));
        assert!(envelope_is_bounce(Some("MAILER-DAEMON@mx.example.com")));
        assert!(!envelope_is_bounce(Some("customer@example.com")));
    }
}
