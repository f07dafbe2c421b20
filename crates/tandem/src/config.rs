//! Configuration: compiled-in defaults, then a TOML file (`--config`), then `TANDEM__SECTION__KEY`
//! environment variables, then command-line flags.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use tandem_server::ServerConfig;

/// The whole configuration file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub engine: EngineConfig,
    pub log: LogConfig,
}

/// The `[engine]` section: how the built-in answer engine decides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    /// Confidence (0 to 1) below which the bot does not answer from knowledge; measure the
    /// trade-off for your own questions with `tandem eval --sweep`.
    pub threshold: f32,
    /// When the runner-up is within this much of the best article, the bot asks which one.
    pub clarify_margin: f32,
}

impl Default for EngineConfig {
    fn default() -> Self {
        let policy = tandem_bot::DecisionPolicy::default();
        EngineConfig { threshold: policy.threshold, clarify_margin: policy.clarify_margin }
    }
}

impl EngineConfig {
    pub fn policy(&self) -> tandem_bot::DecisionPolicy {
        tandem_bot::DecisionPolicy {
            threshold: self.threshold,
            clarify_margin: self.clarify_margin,
        }
    }
}

/// The `[storage]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// Where Tandem keeps its database (`tandem.db`); created if missing.
    pub data_dir: PathBuf,
    /// A PostgreSQL database (`postgres://user:password@host:5432/tandem`) to keep the data in
    /// instead of `data_dir`: several Tandem nodes can share it.
    pub url: Option<String>,
    /// Fsync every group commit (survives power loss). Turning it off survives process crashes
    /// only.
    pub synchronous_full: bool,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig { data_dir: PathBuf::from("tandem-data"), url: None, synchronous_full: true }
    }
}

impl StorageConfig {
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("tandem.db")
    }
}

/// The `[log]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A `tracing` filter, e.g. `info` or `tandem_server=debug,info`. `RUST_LOG` wins if set.
    pub filter: String,
    /// `text` (the default: one readable line per event) or `json` (one JSON object per line,
    /// its fields, such as `conversation_id` and `workspace_id`, under `fields`), for log
    /// collectors.
    pub format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { filter: "info".into(), format: LogFormat::Text }
    }
}

const ENV_PREFIX: &str = "TANDEM__";

/// Loads the configuration from `file` (if any) and the environment.
pub fn load(
    file: Option<&Path>,
    environment: impl Iterator<Item = (String, String)>,
) -> anyhow::Result<Config> {
    let mut table = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            text.parse::<toml::Table>()
                .with_context(|| format!("{} is not valid TOML", path.display()))?
        }
        None => toml::Table::new(),
    };
    for (name, value) in environment {
        let Some(path) = name.strip_prefix(ENV_PREFIX) else { continue };
        let keys: Vec<String> = path.split("__").map(str::to_lowercase).collect();
        if keys.len() < 2 || keys.iter().any(String::is_empty) {
            anyhow::bail!(
                "environment variable {name} must look like {ENV_PREFIX}SECTION__KEY (or SECTION__TABLE__KEY)"
            );
        }
        let (key, tables) = keys.split_last().unwrap_or((&keys[0], &[]));
        let mut table = &mut table;
        for (depth, section) in tables.iter().enumerate() {
            let path = keys[..=depth].join(".");
            table = table
                .entry(section.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                .as_table_mut()
                .with_context(|| format!("{name}: [{path}] is not a section"))?;
        }
        table.insert(key.clone(), parse_env_value(&value));
    }
    let source = file.map_or_else(
        || "the environment".to_owned(),
        |path| format!("{} or the environment", path.display()),
    );
    toml::Value::Table(table)
        .try_into()
        .with_context(|| format!("invalid configuration in {source}"))
}

/// Environment values are strings; one that reads as a TOML number, boolean or array
/// (`8`, `true`, `[10, 60]`) is taken as that, anything else as the string it is.
fn parse_env_value(text: &str) -> toml::Value {
    let parsed = format!("value = {text}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut table| table.remove("value"));
    match parsed {
        Some(
            value @ (toml::Value::Integer(_)
            | toml::Value::Float(_)
            | toml::Value::Boolean(_)
            | toml::Value::Array(_)),
        ) => value,
        _ => toml::Value::String(text.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn defaults_deserialize_from_nothing() {
        let config = load(None, env(&[])).unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.server.listen.to_string(), "127.0.0.1:8080");
    }

    #[test]
    fn file_then_environment() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("tandem.toml");
        std::fs::write(&path, "[server]\nlisten = \"0.0.0.0:9000\"\nwidget_burst = 5\n[storage]\ndata_dir = \"/var/lib/tandem\"\n").unwrap();
        let config =
            load(Some(&path), env(&[("TANDEM__SERVER__WIDGET_BURST", "7"), ("PATH", "/bin")]))
                .unwrap();
        assert_eq!(config.server.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(config.server.widget_burst, 7);
        assert_eq!(config.storage.data_dir, PathBuf::from("/var/lib/tandem"));
        let config = load(None, env(&[("TANDEM__SERVER__SECURE_COOKIES", "true")])).unwrap();
        assert_eq!(config.server.secure_cookies, Some(true));
        let config = load(
            None,
            env(&[("TANDEM__LOG__FORMAT", "json"), ("TANDEM__SERVER__METRICS_TOKEN", "s3cret")]),
        )
        .unwrap();
        assert_eq!(config.log.format, LogFormat::Json);
        assert_eq!(config.server.metrics_token.as_deref(), Some("s3cret"));
    }

    #[test]
    fn nested_sections_and_lists_come_from_the_environment_too() {
        let config = load(
            None,
            env(&[
                ("TANDEM__SERVER__WEBHOOKS__CONCURRENCY", "3"),
                ("TANDEM__SERVER__WEBHOOKS__RETRY_SECS", "[5, 30]"),
                ("TANDEM__ENGINE__THRESHOLD", "0.2"),
                ("TANDEM__STORAGE__DATA_DIR", "/srv/tandem-data"),
            ]),
        )
        .unwrap();
        assert_eq!(config.server.webhooks.concurrency, 3);
        assert_eq!(config.server.webhooks.retry_secs, [5.0, 30.0]);
        assert_eq!(config.engine.threshold, 0.2);
        assert_eq!(config.storage.data_dir, PathBuf::from("/srv/tandem-data"));
        let error = format!(
            "{:#}",
            load(None, env(&[("TANDEM__SERVER__LISTEN__PORT", "80")])).unwrap_err()
        );
        assert!(error.contains("server.listen"), "{error}");
        let error = format!(
            "{:#}",
            load(None, env(&[("TANDEM__SERVER__WEBHOOKS__NOPE", "1")])).unwrap_err()
        );
        assert!(error.contains("nope"), "{error}");
    }

    #[test]
    fn unknown_fields_and_bad_values_are_errors() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("tandem.toml");
        std::fs::write(&path, "[server]\nlisten_on = \"0.0.0.0:9000\"\n").unwrap();
        let error = format!("{:#}", load(Some(&path), env(&[])).unwrap_err());
        assert!(error.contains("listen_on"), "{error}");
        let error = format!(
            "{:#}",
            load(None, env(&[("TANDEM__SERVER__LISTEN", "not an address")])).unwrap_err()
        );
        assert!(error.contains("invalid configuration"), "{error}");
        assert!(load(None, env(&[("TANDEM__NOSECTION", "1")])).is_err());
        std::fs::write(&path, "[server\n").unwrap();
        let error = format!("{:#}", load(Some(&path), env(&[])).unwrap_err());
        assert!(error.contains("line 1"), "{error}");
    }
}
