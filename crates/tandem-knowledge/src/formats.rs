//! Knowledge import and export formats: JSONL (the `kb.jsonl` shape of `tandem eval`), CSV (one row
//! per question variant) and Markdown files with TOML front matter. An import validates every
//! entry first and reports every problem with its file and line; only a clean import is saved,
//! and then all at once.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tandem_domain::{Article, Channel, Locale, NewArticle, Problem, ValidationError, validate};

/// Longest title, answer and question, in characters.
pub const MAX_TITLE: usize = 200;
pub const MAX_ANSWER: usize = 20_000;
pub const MAX_QUESTION: usize = 500;
pub const MAX_QUESTIONS: usize = 500;

/// A problem with one entry of an import: a field of the entry on that line that was refused,
/// or, without a field, the line (or the file) itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportError {
    pub file: String,
    pub line: usize,
    pub field: Option<&'static str>,
    pub problem: Problem,
}

impl std::fmt::Display for ImportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: ", self.file, self.line)?;
        if let Some(field) = self.field {
            write!(f, "{field}: ")?;
        }
        write!(f, "{}", self.problem)
    }
}

/// An import format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jsonl,
    Csv,
    Markdown,
}

impl Format {
    pub fn parse(name: &str) -> Option<Format> {
        match name {
            "jsonl" | "json" | "ndjson" => Some(Format::Jsonl),
            "csv" => Some(Format::Csv),
            "md" | "markdown" => Some(Format::Markdown),
            _ => None,
        }
    }

    /// The format a file name suggests.
    pub fn from_file_name(name: &str) -> Option<Format> {
        Format::parse(name.rsplit_once('.')?.1.to_lowercase().as_str())
    }
}

/// An article as written by a person, before validation.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ArticleInput {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub questions: Vec<String>,
    #[serde(default)]
    pub answer: String,
    #[serde(default, alias = "language")]
    pub lang: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Not answered before this moment, e.g. `2026-02-01T00:00+08:00`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_from: Option<String>,
    /// Not answered from this moment on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Only customers on these channels (`web`, `email`, `api`) are answered from it; none
    /// means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<String>,
}

/// Checks an article and turns it into what the store saves.
pub fn validate_article(input: ArticleInput) -> Result<NewArticle, ValidationError> {
    let key = validate::article_key(&input.id)?;
    let title = validate::article_text("title", &input.title, MAX_TITLE)?;
    let answer = validate::article_text("answer", &input.answer, MAX_ANSWER)?;
    if input.questions.len() > MAX_QUESTIONS {
        let problem = Problem::Count { min: 0, max: MAX_QUESTIONS };
        return Err(ValidationError::new("questions", problem));
    }
    let mut questions = Vec::with_capacity(input.questions.len());
    for question in &input.questions {
        let question = validate::article_text("questions", question, MAX_QUESTION)?;
        if !questions.contains(&question) {
            questions.push(question);
        }
    }
    let language = match input.lang.as_deref().map(str::trim).filter(|lang| !lang.is_empty()) {
        None => None,
        Some(lang) => Some(Locale::parse(&lang.to_lowercase()).ok_or_else(|| {
            let known: Vec<&str> = Locale::ALL.iter().map(|locale| locale.as_str()).collect();
            ValidationError::new("lang", Problem::not_one_of(lang, &known))
        })?),
    };
    let tags =
        input.tags.iter().map(|tag| tag.trim().to_owned()).filter(|tag| !tag.is_empty()).collect();
    let moment = |field, text: &Option<String>| {
        text.as_deref()
            .map(str::trim)
            .filter(|text| !text.is_empty())
            .map(|text| validate::timestamp(field, text))
            .transpose()
    };
    let effective_from = moment("effective_from", &input.effective_from)?;
    let expires_at = moment("expires_at", &input.expires_at)?;
    if let (Some(from), Some(until)) = (effective_from, expires_at)
        && until <= from
    {
        return Err(ValidationError::new("expires_at", Problem::EndsBeforeStart));
    }
    let mut channels = Vec::new();
    for name in &input.channels {
        let channel = validate::channel("channels", name)?;
        if !channels.contains(&channel) {
            channels.push(channel);
        }
    }
    Ok(NewArticle {
        key,
        title,
        answer,
        questions,
        tags,
        language,
        effective_from,
        expires_at,
        channels,
    })
}

/// Parses and validates a whole file. Every bad entry is reported; a duplicate id is an error.
pub fn parse(format: Format, file: &str, text: &str) -> Result<Vec<NewArticle>, Vec<ImportError>> {
    let entries = match format {
        Format::Jsonl => parse_jsonl(text),
        Format::Csv => parse_csv(text),
        Format::Markdown => parse_markdown(text),
    };
    let mut articles = Vec::new();
    let mut errors = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let error = |line, field, problem| ImportError { file: file.to_owned(), line, field, problem };
    for (line, entry) in entries {
        let result = entry.map_err(|problem| (None, problem)).and_then(|input| {
            validate_article(input).map_err(|error| (Some(error.field), error.problem))
        });
        match result {
            Ok(article) => {
                if let Some(first) = seen.insert(article.key.clone(), line) {
                    let problem = Problem::UsedOnLine { value: article.key, line: first };
                    errors.push(error(line, Some("id"), problem));
                } else {
                    articles.push(article);
                }
            }
            Err((field, problem)) => errors.push(error(line, field, problem)),
        }
    }
    if articles.is_empty() && errors.is_empty() {
        errors.push(error(1, None, Problem::NoArticles));
    }
    if errors.is_empty() { Ok(articles) } else { Err(errors) }
}

type Entry = (usize, Result<ArticleInput, Problem>);

/// What a parser (serde, CSV, TOML) said about a line: English for developers.
fn unreadable(error: impl std::fmt::Display) -> Problem {
    Problem::Unreadable { detail: error.to_string() }
}

fn parse_jsonl(text: &str) -> Vec<Entry> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            (index + 1, serde_json::from_str::<ArticleInput>(line).map_err(unreadable))
        })
        .collect()
}

/// One row per question variant: `id,title,question,answer,lang,tags,effective_from,expires_at,
/// channels` (tags and channels separated by `;`).
/// Rows of the same id merge; the first row with a title and answer gives them.
fn parse_csv(text: &str) -> Vec<Entry> {
    let mut reader =
        csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
    let headers = match reader.headers() {
        Ok(headers) => headers.clone(),
        Err(error) => return vec![(1, Err(unreadable(error)))],
    };
    let column = |name: &str| headers.iter().position(|header| header.eq_ignore_ascii_case(name));
    let (Some(id_column), Some(title_column)) = (column("id"), column("title")) else {
        return vec![(1, Err(Problem::MissingColumns { columns: "id, title".into() }))];
    };
    let (question_column, answer_column, lang_column, tags_column) =
        (column("question"), column("answer"), column("lang"), column("tags"));
    let (from_column, until_column) = (column("effective_from"), column("expires_at"));
    let channels_column = column("channels");
    let mut merged: Vec<Entry> = Vec::new();
    let mut index_of: BTreeMap<String, usize> = BTreeMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                let line = error.position().map_or(0, |position| position.line() as usize);
                merged.push((line, Err(unreadable(error))));
                continue;
            }
        };
        let line = record.position().map_or(0, |position| position.line() as usize);
        let field = |column: Option<usize>| {
            column.and_then(|column| record.get(column)).unwrap_or("").to_owned()
        };
        let id = field(Some(id_column));
        let entry = index_of.entry(id.clone()).or_insert_with(|| {
            merged.push((line, Ok(ArticleInput { id: id.clone(), ..ArticleInput::default() })));
            merged.len() - 1
        });
        let Ok(article) = &mut merged[*entry].1 else { continue };
        if article.title.is_empty() {
            article.title = field(Some(title_column));
        }
        if article.answer.is_empty() {
            article.answer = field(answer_column);
        }
        if article.lang.is_none() {
            article.lang = Some(field(lang_column)).filter(|lang| !lang.is_empty());
        }
        if article.effective_from.is_none() {
            article.effective_from = Some(field(from_column)).filter(|from| !from.is_empty());
        }
        if article.expires_at.is_none() {
            article.expires_at = Some(field(until_column)).filter(|until| !until.is_empty());
        }
        let question = field(question_column);
        if !question.is_empty() {
            article.questions.push(question);
        }
        for (list, column) in
            [(&mut article.tags, tags_column), (&mut article.channels, channels_column)]
        {
            for item in field(column).split(';').map(str::trim).filter(|item| !item.is_empty()) {
                if !list.iter().any(|known| known == item) {
                    list.push(item.to_owned());
                }
            }
        }
    }
    merged
}

/// A Markdown file: TOML front matter between `+++` lines (`id`, `title`, `questions`,
/// `lang`, `tags`), then the answer.
fn parse_markdown(text: &str) -> Vec<Entry> {
    let mut lines = text.lines();
    if lines.next().map(str::trim) != Some("+++") {
        return vec![(1, Err(Problem::FrontMatter))];
    }
    let mut front = String::new();
    let mut closed = false;
    for line in lines.by_ref() {
        if line.trim() == "+++" {
            closed = true;
            break;
        }
        front.push_str(line);
        front.push('\n');
    }
    if !closed {
        return vec![(1, Err(Problem::FrontMatter))];
    }
    let mut input: ArticleInput = match toml::from_str(&front) {
        Ok(input) => input,
        Err(error) => {
            let line = error.span().map_or(2, |span| 2 + front[..span.start].matches('\n').count());
            return vec![(line, Err(unreadable(error.message())))];
        }
    };
    input.answer = lines.collect::<Vec<_>>().join("\n").trim().to_owned();
    vec![(1, Ok(input))]
}

/// A finished export: the text, its media type and a file name for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    pub text: String,
    pub content_type: &'static str,
    pub file_name: &'static str,
}

/// Exports articles as JSONL or CSV, named by `format` (`jsonl` or `csv`).
pub fn export(format: &str, articles: &[Article]) -> Result<Export, ValidationError> {
    match Format::parse(format) {
        Some(Format::Jsonl) => Ok(Export {
            text: export_jsonl(articles),
            content_type: "application/x-ndjson; charset=utf-8",
            file_name: "knowledge.jsonl",
        }),
        Some(Format::Csv) => Ok(Export {
            text: export_csv(articles),
            content_type: "text/csv; charset=utf-8",
            file_name: "knowledge.csv",
        }),
        _ => Err(ValidationError::new("format", Problem::not_one_of(format, &["jsonl", "csv"]))),
    }
}

/// The export of articles as JSONL, one per line, in the import shape.
pub fn export_jsonl(articles: &[Article]) -> String {
    let mut out = String::new();
    for article in articles {
        let line = ArticleInput {
            id: article.key.clone(),
            title: article.title.clone(),
            questions: article.questions.clone(),
            answer: article.answer.clone(),
            lang: article.language.map(|locale| locale.as_str().to_owned()),
            tags: article.tags.clone(),
            effective_from: article.effective_from.map(validate::format_timestamp),
            expires_at: article.expires_at.map(validate::format_timestamp),
            channels: channel_names(&article.channels),
        };
        if let Ok(json) = serde_json::to_string(&line) {
            out.push_str(&json);
            out.push('\n');
        }
    }
    out
}

fn channel_names(channels: &[Channel]) -> Vec<String> {
    channels.iter().map(|channel| channel.as_str().to_owned()).collect()
}

/// The export of articles as CSV, one row per question variant.
pub fn export_csv(articles: &[Article]) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let _ = writer.write_record([
        "id",
        "title",
        "question",
        "answer",
        "lang",
        "tags",
        "effective_from",
        "expires_at",
        "channels",
    ]);
    for article in articles {
        let lang = article.language.map_or("", |locale| locale.as_str());
        let tags = article.tags.join(";");
        let from = article.effective_from.map(validate::format_timestamp).unwrap_or_default();
        let until = article.expires_at.map(validate::format_timestamp).unwrap_or_default();
        let channels = channel_names(&article.channels).join(";");
        let questions: Vec<&str> = if article.questions.is_empty() {
            vec![""]
        } else {
            article.questions.iter().map(String::as_str).collect()
        };
        for question in questions {
            let _ = writer.write_record([
                article.key.as_str(),
                &article.title,
                question,
                &article.answer,
                lang,
                &tags,
                &from,
                &until,
                &channels,
            ]);
        }
    }
    String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_imports_and_reports_every_bad_line() {
        let good = "{\"id\": \"returns\", \"title\": \"退货政策\", \"questions\": [\"怎么退货\"], \"answer\": \"7 天内\", \"lang\": \"zh\"}\n\n{\"id\": \"hours\", \"title\": \"Hours\", \"answer\": \"9-5\"}\n";
        let articles = parse(Format::Jsonl, "kb.jsonl", good).unwrap();
        assert_eq!(articles.len(), 2);
        assert_eq!(articles[0].language, Some(Locale::Zh));
        let bad = "{\"id\": \"Bad Id\", \"title\": \"x\", \"answer\": \"y\"}\n{\"id\": \"ok\", \"title\": \"x\", \"answer\": \"y\"}\nnot json\n{\"id\": \"ok\", \"title\": \"again\", \"answer\": \"y\"}\n{\"id\": \"empty\", \"title\": \"x\", \"answer\": \"  \"}\n";
        let errors = parse(Format::Jsonl, "kb.jsonl", bad).unwrap_err();
        let lines: Vec<usize> = errors.iter().map(|error| error.line).collect();
        assert_eq!(lines, [1, 3, 4, 5]);
        assert_eq!(errors[2].problem, Problem::UsedOnLine { value: "ok".into(), line: 2 });
        assert_eq!(errors[0].to_string().split(':').next(), Some("kb.jsonl"));
    }

    #[test]
    fn effective_windows_are_read_and_checked() {
        let line = "{\"id\": \"cny\", \"title\": \"春节退货\", \"answer\": \"延长至 30 天\", \"effective_from\": \"2026-02-01T00:00+08:00\", \"expires_at\": \"2026-02-28\"}";
        let articles = parse(Format::Jsonl, "kb.jsonl", line).unwrap();
        assert_eq!(articles[0].effective_from, Some(1_769_875_200_000));
        let backwards = line.replace("2026-02-28", "2026-01-01");
        let errors = parse(Format::Jsonl, "kb.jsonl", &backwards).unwrap_err();
        assert_eq!(
            (errors[0].field, &errors[0].problem),
            (Some("expires_at"), &Problem::EndsBeforeStart)
        );
        let no_zone = line.replace("2026-02-01T00:00+08:00", "2026-02-01T00:00");
        assert_eq!(
            parse(Format::Jsonl, "kb.jsonl", &no_zone).unwrap_err()[0].problem,
            Problem::NoTimeZone
        );
    }

    #[test]
    fn csv_rows_merge_into_articles() {
        let text = "id,title,question,answer,lang,tags\nreturns,退货政策,怎么退货,7 天内,zh,售后;退货\nreturns,,可以退货吗,,,\nhours,Hours,when are you open,9-5,en,\n";
        let articles = parse(Format::Csv, "kb.csv", text).unwrap();
        assert_eq!(articles.len(), 2);
        assert_eq!(articles[0].questions, ["怎么退货", "可以退货吗"]);
        assert_eq!(articles[0].tags, ["售后", "退货"]);
        let missing_answer = "id,title,question,answer\nx,X,q,\n";
        let errors = parse(Format::Csv, "kb.csv", missing_answer).unwrap_err();
        assert_eq!(
            (errors[0].line, errors[0].field, &errors[0].problem),
            (2, Some("answer"), &Problem::Empty)
        );
        assert_eq!(errors[0].to_string(), "kb.csv:2: answer: empty");
        assert!(parse(Format::Csv, "kb.csv", "name,text\na,b\n").is_err());
    }

    #[test]
    fn markdown_front_matter_and_body() {
        let text = "+++\nid = \"returns\"\ntitle = \"退货政策\"\nquestions = [\"怎么退货\", \"可以退货吗\"]\nlang = \"zh\"\n+++\n\n签收后 **7 天内**可退货。\n";
        let articles = parse(Format::Markdown, "returns.md", text).unwrap();
        assert_eq!(articles[0].answer, "签收后 **7 天内**可退货。");
        let broken = "+++\nid = \"x\"\ntitle = \n+++\nbody";
        let errors = parse(Format::Markdown, "x.md", broken).unwrap_err();
        assert_eq!(errors[0].line, 3, "{errors:?}");
        assert!(parse(Format::Markdown, "x.md", "no front matter").is_err());
    }

    #[test]
    fn exports_round_trip() {
        let article = Article {
            id: tandem_domain::ArticleId(1),
            workspace_id: tandem_domain::WorkspaceId(1),
            key: "returns".into(),
            status: tandem_domain::ArticleStatus::Published,
            title: "退货政策".into(),
            answer: "7 天内, \"无理由\"".into(),
            questions: vec!["怎么退货".into(), "可以退货吗".into()],
            tags: vec!["售后".into()],
            language: Some(Locale::Zh),
            effective_from: Some(1_769_907_600_000),
            expires_at: Some(1_772_323_200_000),
            channels: vec![Channel::Web, Channel::Api],
            version: 1,
            created_at: 0,
            updated_at: 0,
        };
        let from_jsonl =
            parse(Format::Jsonl, "x", &export_jsonl(std::slice::from_ref(&article))).unwrap();
        let from_csv =
            parse(Format::Csv, "x", &export_csv(std::slice::from_ref(&article))).unwrap();
        assert_eq!(from_jsonl, from_csv);
        assert_eq!(from_jsonl[0].questions, article.questions);
        assert_eq!(from_jsonl[0].answer, article.answer);
        assert_eq!(
            (from_jsonl[0].effective_from, from_jsonl[0].expires_at),
            (article.effective_from, article.expires_at)
        );
        assert_eq!(from_csv[0].channels, article.channels);
        let unknown =
            "{\"id\": \"x\", \"title\": \"X\", \"answer\": \"y\", \"channels\": [\"fax\"]}";
        let errors = parse(Format::Jsonl, "kb.jsonl", unknown).unwrap_err();
        assert_eq!(errors[0].field, Some("channels"), "{}", errors[0]);
    }
}
