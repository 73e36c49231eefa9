//! Settings from the command line, `GONGTI_*` variables (both through clap) and an
//! optional file of `key = "value"` lines, in that order of precedence; and logging.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

pub const DEFAULT_DATA_DIR: &str = "./gongti-data";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
const KNOWN_KEYS: [&str; 3] = ["data_dir", "database_url", "listen"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub listen: String,
}

/// Parses `key = "value"` / `key = value` lines; `#` starts a comment.
pub fn parse_file(text: &str) -> anyhow::Result<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            bail!("line {}: expected key = \"value\"", n + 1);
        };
        let key = key.trim();
        if !KNOWN_KEYS.contains(&key) {
            bail!(
                "line {}: unknown setting {key} (known: {})",
                n + 1,
                KNOWN_KEYS.join(", ")
            );
        }
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        pairs.push((key.to_owned(), value.to_owned()));
    }
    Ok(pairs)
}

impl Settings {
    pub fn resolve(
        data_dir: Option<PathBuf>,
        database_url: Option<String>,
        listen: Option<String>,
        file: Option<&Path>,
    ) -> anyhow::Result<Settings> {
        let from_file = match file {
            Some(path) => parse_file(
                &std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?,
            )
            .with_context(|| format!("in {}", path.display()))?,
            None => Vec::new(),
        };
        let get = |key: &str| {
            from_file
                .iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        Ok(Settings {
            data_dir: data_dir
                .or_else(|| get("data_dir").map(PathBuf::from))
                .unwrap_or_else(|| DEFAULT_DATA_DIR.into()),
            database_url: database_url
                .filter(|u| !u.is_empty())
                .or_else(|| get("database_url")),
            listen: listen
                .or_else(|| get("listen"))
                .unwrap_or_else(|| DEFAULT_LISTEN.to_owned()),
        })
    }
}

/// Logs to standard error: readable by default, JSON when GONGTI_LOG_FORMAT=json;
/// the level from RUST_LOG (default info).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("GONGTI_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_settings_fill_in_what_flags_and_variables_leave_open() {
        let dir = std::env::temp_dir().join(format!("gongti-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("gongti.conf");
        std::fs::write(
            &file,
            "# comment\ndata_dir = \"/srv/gongti\"\nlisten = 0.0.0.0:9000\n",
        )
        .unwrap();
        let s = Settings::resolve(None, None, Some("127.0.0.1:1".into()), Some(&file)).unwrap();
        assert_eq!(s.data_dir, PathBuf::from("/srv/gongti"));
        assert_eq!(s.listen, "127.0.0.1:1");
        assert_eq!(s.database_url, None);
        let d = Settings::resolve(None, None, None, None).unwrap();
        assert_eq!(d.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert_eq!(d.listen, DEFAULT_LISTEN);
    }

    #[test]
    fn unknown_keys_and_bad_lines_are_refused() {
        assert!(parse_file("colour = blue").is_err());
        assert!(parse_file("data_dir").is_err());
    }
}
