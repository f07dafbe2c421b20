//! Stable-toolchain fuzzing of the knowledge importers (JSONL, CSV, Markdown with TOML front
//! matter) and the conversation history reader: mutated valid files for `TANDEM_FUZZ_SECS`
//! seconds each (default 2), none of which may panic or report a line the file does not have.
//! The checks are the libFuzzer targets' own (`fuzz/checks`).

#[path = "../../../fuzz/checks/knowledge.rs"]
mod checks;
#[path = "../../../fuzz/mutate.rs"]
mod mutate;

use tandem_knowledge::formats::Format;

const JSONL: &[&str] = &[
    include_str!("../../../eval/small/zh-shop/kb.jsonl"),
    include_str!("../../../eval/small/en-hotel/kb.jsonl"),
    r#"{"id": "sale", "title": "Sale", "questions": ["when is the sale"], "answer": "In May.", "lang": "en", "tags": ["promo"], "effective_from": "2026-02-01T00:00+08:00", "expires_at": "2026-03-01T00:00:00Z", "channels": ["web", "email"]}"#,
];

const CSV: &[&str] = &[
    "id,title,question,answer,lang,tags\nreturns,退货政策,怎么退货,7 天内,zh,售后;退货\nreturns,,可以退货吗,,,\nhours,Hours,when are you open,9-5,en,\n",
    "id,title,question,answer,lang,tags,effective_from,expires_at,channels\nsale,\"Sale, \"\"big\"\"\",when is the sale,\"In May,\nall week\",en,promo,2026-02-01T00:00+08:00,2026-03-01T00:00:00Z,web;email\n",
];

const MARKDOWN: &[&str] = &[
    "+++\nid = \"returns\"\ntitle = \"退货政策\"\nquestions = [\"怎么退货\", \"可以退货吗\"]\nlang = \"zh\"\n+++\n\n签收后 **7 天内**可退货。\n",
    "+++\r\nid = \"sale\"\r\ntitle = \"Sale\"\r\nquestions = [\"when is the sale\"]\r\ntags = [\"promo\"]\r\nchannels = [\"web\"]\r\neffective_from = \"2026-02-01T00:00+08:00\"\r\n+++\r\nIn *May*.\r\n",
];

const HISTORY: &[&str] = &[
    concat!(
        r#"{"id": "zd-1", "created_at": "2026-09-03T08:12:44Z", "channel": "web", "customer": {"id": "u-1", "name": "王芳"}, "messages": [{"author": "customer", "text": "退款多久到账"}, {"author": "agent", "agent": "emily@example.com", "text": "三个工作日内。", "at": "2026-09-03T08:20:00Z"}], "resolved_at": "2026-09-03T08:30:00Z", "csat": 5}"#,
        "\n",
        r#"{"id": "zd-2", "created_at": "2026-09-04T09:00:00.250+08:00", "channel": "email", "tags": ["invoice"], "messages": [{"author": "customer", "text": "发票怎么开"}]}"#,
        "\n",
    ),
    r#"{"id": "zd-3", "created_at": "2026-09-05 10:00:00", "lang": "en", "queue": "billing", "handed_off_at": "2026-09-05T10:01:00Z", "assigned_at": "2026-09-05T10:02:00Z", "messages": [{"author": "customer", "text": "refund?"}], "csat_comment": "ok"}"#,
];

#[test]
fn jsonl_import() {
    mutate::run_text("knowledge_jsonl", JSONL, |text| checks::import(Format::Jsonl, text));
}

#[test]
fn csv_import() {
    mutate::run_text("knowledge_csv", CSV, |text| checks::import(Format::Csv, text));
}

#[test]
fn markdown_import() {
    mutate::run_text("knowledge_markdown", MARKDOWN, |text| checks::import(Format::Markdown, text));
}

#[test]
fn conversation_history() {
    mutate::run_text("history", HISTORY, checks::history);
}
