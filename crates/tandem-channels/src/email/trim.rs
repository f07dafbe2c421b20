//! What the customer wrote this time. Mail clients quote the whole conversation below (or above)
//! every reply and add a signature; the bot and the agent need neither, and the bot would
//! otherwise answer the question it already answered. No standard marks where the new text ends,
//! so this looks for the lines that common clients write there: an attribution line, a header
//! block of the quoted mail, a separator, `>`-quoted lines, a signature.

/// `text` without its quoted history and signature; `text` itself (trimmed) when that would leave
/// nothing, for a mail that is all quotation (a forward without a word) still says something.
pub fn trim_reply(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let cut = (0..lines.len()).find(|&i| starts_history(&lines, i)).unwrap_or(lines.len());
    let cut = cut.min(trailing_quote(&lines));
    let kept = lines[..cut].join("\n");
    let kept = kept.trim();
    if kept.is_empty() { text.trim().to_owned() } else { kept.to_owned() }
}

/// Whether the quoted history or the signature begins at line `i`.
fn starts_history(lines: &[&str], i: usize) -> bool {
    let line = lines[i].trim();
    // A signature separator is "-- " (RFC 3676); many clients drop its trailing space.
    if lines[i] == "-- " || line == "--" {
        return true;
    }
    if is_separator(line) || is_device_signature(line) {
        return true;
    }
    let next = lines.get(i + 1).map(|next| next.trim()).unwrap_or("");
    is_attribution(line, next) || is_header_block(lines, i)
}

/// "-----Original Message-----", "-----原始邮件-----", "----- 回复的原邮件 -----" and the like.
fn is_separator(line: &str) -> bool {
    if !line.starts_with("--") && !line.starts_with("__") {
        return false;
    }
    let inner = line.trim_matches(|c: char| c == '-' || c == '_' || c.is_whitespace());
    let inner = inner.to_lowercase();
    matches!(
        inner.as_str(),
        "original message" | "原始邮件" | "原始郵件" | "回复的原邮件" | "原邮件" | "reply message"
    )
}

/// The lines phone and desktop clients append in place of a signature.
fn is_device_signature(line: &str) -> bool {
    let lower = line.to_lowercase();
    let lower = lower.trim_end_matches(['.', '。']);
    lower.starts_with("sent from my ")
        || lower.starts_with("sent from mail for ")
        || lower.starts_with("get outlook for ")
        || lower.starts_with("发自我的")
        || lower.starts_with("從我的") && lower.ends_with("傳送")
        || lower.starts_with("从我的") && lower.ends_with("发送")
}

/// "On Sat, Dec 5, 2026 at 9:12 AM Li Wei <li@example.cn> wrote:" or "在 2026年12月6日 …，
/// 李伟 <li@example.cn> 写道：", which clients often wrap over two lines.
fn is_attribution(line: &str, next: &str) -> bool {
    let matches = |text: &str| {
        let text = text.trim_end();
        let english = text.starts_with("On ") && text.ends_with("wrote:");
        // Apple Mail and Foxmail begin with 在 (於 in traditional Chinese); Gmail puts the
        // sender first: "Tandem 客服 <support@shop.example> 于2026年12月6日周日 10:03写道：".
        let chinese = ["写道：", "写道:", "寫道：", "寫道:"].iter().any(|end| text.ends_with(end))
            && (text.starts_with('在')
                || text.starts_with('於')
                || text.starts_with('于')
                || text.contains('@') && text.contains('年'));
        (english || chinese) && text.chars().count() < 400
    };
    matches(line) || !next.is_empty() && matches(&format!("{line} {next}"))
}

/// The header block Outlook and Foxmail write above the quoted mail: a From line followed within
/// a few lines by its Sent (or Date) line.
fn is_header_block(lines: &[&str], i: usize) -> bool {
    let field = |line: &str, names: &[&str]| {
        // Converted HTML mail may keep the bold markers around the field name.
        let line = line.trim().trim_start_matches('*');
        names.iter().any(|name| {
            line.strip_prefix(name)
                .map(|rest| rest.trim_start_matches('*').trim_start())
                .is_some_and(|rest| rest.starts_with(':') || rest.starts_with('：'))
        })
    };
    if !field(lines[i], &["From", "发件人", "寄件者", "寄件人"]) {
        return false;
    }
    lines[i + 1..]
        .iter()
        .take(4)
        .any(|line| field(line, &["Sent", "Date", "发送时间", "時間", "时间", "日期", "寄件日期"]))
}

/// Where the block of `>`-quoted lines (and blank lines among them) that ends the text begins,
/// or the number of lines when the text does not end with one.
fn trailing_quote(lines: &[&str]) -> usize {
    let mut start = lines.len();
    let mut quoted = false;
    for (i, line) in lines.iter().enumerate().rev() {
        let line = line.trim_start();
        if line.starts_with('>') {
            quoted = true;
            start = i;
        } else if !line.is_empty() {
            break;
        }
    }
    if quoted { start } else { lines.len() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gmail_english() {
        let mail = "Hi,\n\nThe parcel still hasn't arrived. Can you check?\n\nThanks,\nAnna\n\n\
            On Sat, Dec 5, 2026 at 9:12 AM Tandem Support <support@shop.example>\nwrote:\n\n\
            > Your order has shipped.\n> Tracking number: 1Z999\n";
        assert_eq!(
            trim_reply(mail),
            "Hi,\n\nThe parcel still hasn't arrived. Can you check?\n\nThanks,\nAnna"
        );
    }

    #[test]
    fn qq_mail_and_foxmail_chinese() {
        let mail = "你好，我想把收货地址改成上海市浦东新区。\r\n\r\n\
            ------------------ 原始邮件 ------------------\r\n\
            发件人: \"客服\" <support@shop.example>;\r\n\
            发送时间: 2026年12月5日(星期六) 上午9:12\r\n\
            收件人: \"王芳\" <wangfang@qq.com>;\r\n\
            主题: 您的订单已发货\r\n\r\n您的订单已发货。\r\n";
        assert_eq!(trim_reply(mail), "你好，我想把收货地址改成上海市浦东新区。");
    }

    #[test]
    fn apple_mail_chinese_attribution_and_iphone_signature() {
        let mail = "好的，谢谢！\n\n发自我的iPhone\n\n\
            在 2026年12月6日，上午10:03，Tandem 客服 <support@shop.example> 写道：\n\n\
            > 请问还有其他问题吗？\n";
        assert_eq!(trim_reply(mail), "好的，谢谢！");
    }

    #[test]
    fn gmail_chinese() {
        let mail = "我已经重新下单了。\n\nTandem 客服 <support@shop.example> 于2026年12月6日周日 10:03写道：\n\n> 抱歉，该商品已售罄。\n";
        assert_eq!(trim_reply(mail), "我已经重新下单了。");
        let mail = "他在信里写道：\n“东西很好”";
        assert_eq!(trim_reply(mail), mail);
    }

    #[test]
    fn chinese_attribution_wrapped_over_two_lines() {
        let mail = "发票抬头写公司名称。\n\n在 2026年12月6日 星期日 10:03，\"Tandem 客服\" <support@shop.example>\n写道：\n> 发票抬头是什么？";
        assert_eq!(trim_reply(mail), "发票抬头写公司名称。");
    }

    #[test]
    fn outlook_english_header_block_and_signature() {
        let mail = "Please cancel order 1182.\n\nBest regards\nJohn Smith\n\n\
            Get Outlook for iOS\n________________________________\n\
            From: Shop Support <support@shop.example>\nSent: Saturday, December 5, 2026 9:12 AM\n\
            To: John Smith <john@example.com>\nSubject: Re: Order 1182\n\nHello John,";
        assert_eq!(trim_reply(mail), "Please cancel order 1182.\n\nBest regards\nJohn Smith");
        let bold = "Yes, that works.\n\n*From:* Shop Support <support@shop.example>\n*Sent:* Monday\n*To:* me";
        assert_eq!(trim_reply(bold), "Yes, that works.");
    }

    #[test]
    fn outlook_original_message_and_chinese_outlook() {
        let mail = "See attached.\n\n-----Original Message-----\nFrom: a@b.example\nSent: today\n";
        assert_eq!(trim_reply(mail), "See attached.");
        let mail = "已付款，请查收。\n\n-----原始邮件-----\n发件人: 客服 <support@shop.example>\n发送时间: 2026年12月5日 9:12\n";
        assert_eq!(trim_reply(mail), "已付款，请查收。");
        let mail =
            "收到\n\n发件人： 客服 <support@shop.example>\n日期： 2026年12月5日\n收件人： 我";
        assert_eq!(trim_reply(mail), "收到");
        let mail = "可以。\n\n----- 回复的原邮件 -----\n| 发件人 | 客服 |\n";
        assert_eq!(trim_reply(mail), "可以。");
    }

    #[test]
    fn signature_separator_and_trailing_quote() {
        let mail = "Works now, thank you.\n\n-- \nAnna Berg\nACME Ltd.\n";
        assert_eq!(trim_reply(mail), "Works now, thank you.");
        let mail = "Got it.\n\n> Did the reset work?\n>\n> Shop Support\n\n";
        assert_eq!(trim_reply(mail), "Got it.");
    }

    #[test]
    fn inline_answers_between_quotes_are_kept() {
        let mail = "> What is your order number?\n1182\n> And the postcode?\n200120";
        assert_eq!(trim_reply(mail), mail);
    }

    #[test]
    fn a_mail_that_is_all_quotation_is_kept_whole() {
        let mail = "On Sat, Dec 5, 2026, Anna <a@example.com> wrote:\n> Hello\n";
        assert_eq!(trim_reply(mail), mail.trim());
        assert_eq!(trim_reply("   "), "");
    }

    #[test]
    fn ordinary_text_is_untouched() {
        let mail = "On Monday I ordered two lamps; one was broken.\nFrom: the warehouse, I guess.";
        assert_eq!(trim_reply(mail), mail);
    }
}
