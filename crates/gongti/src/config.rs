//! Settings from the command line, `GONGTI_*` variables (both through clap) and an
//! optional file of `key = "value"` lines, in that order of precedence; and logging.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

pub const DEFAULT_DATA_DIR: &str = "./gongti-data";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
const KNOWN_KEYS: [&str; 8] = [
    "data_dir",
    "database_url",
    "listen",
    "audit_key",
    "audit_anchor",
    "data_key",
    "public_url",
    "trusted_proxies",
];
/// Where the audit key and anchor file live when not configured: in the data directory
/// (SQLite), or the working directory (PostgreSQL). A city puts both elsewhere — the
/// key readable by Gongti only, the anchor on another machine's volume (docs/audit.md).
const DEFAULT_AUDIT_KEY: &str = "audit-signing.key";
const DEFAULT_AUDIT_ANCHOR: &str = "audit-anchor.log";
/// The same for the keys that seal personal data (`store::crypto`).
const DEFAULT_DATA_KEY: &str = "data.key";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub listen: String,
    /// The Ed25519 key that signs the audit chain's checkpoints.
    pub audit_key: PathBuf,
    /// The append-only file the checkpoints are written to.
    pub audit_anchor: PathBuf,
    /// The keys that seal ID and phone numbers at rest.
    pub data_key: PathBuf,
    /// Where the public reaches the server (`serving` sets it).
    pub public_url: String,
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// The configuration file's pairs, for what `serving` reads later.
    from_file: Vec<(String, String)>,
}

/// Where the audit trail's signing key and anchor file are, when given.
#[derive(Debug, Clone, Default)]
pub struct AuditPaths {
    pub key: Option<PathBuf>,
    pub anchor: Option<PathBuf>,
    /// The data key file (sealed personal data).
    pub data_key: Option<PathBuf>,
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
        audit: AuditPaths,
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
        let data_dir: PathBuf = data_dir
            .or_else(|| get("data_dir").map(PathBuf::from))
            .unwrap_or_else(|| DEFAULT_DATA_DIR.into());
        let database_url = database_url
            .filter(|u| !u.is_empty())
            .or_else(|| get("database_url"));
        let beside = |name: &str| match database_url {
            Some(_) => PathBuf::from(format!("./gongti-{name}")),
            None => data_dir.join(name),
        };
        Ok(Settings {
            audit_key: audit
                .key
                .or_else(|| get("audit_key").map(PathBuf::from))
                .unwrap_or_else(|| beside(DEFAULT_AUDIT_KEY)),
            audit_anchor: audit
                .anchor
                .or_else(|| get("audit_anchor").map(PathBuf::from))
                .unwrap_or_else(|| beside(DEFAULT_AUDIT_ANCHOR)),
            data_key: audit
                .data_key
                .or_else(|| get("data_key").map(PathBuf::from))
                .unwrap_or_else(|| beside(DEFAULT_DATA_KEY)),
            data_dir,
            database_url,
            listen: listen
                .or_else(|| get("listen"))
                .unwrap_or_else(|| DEFAULT_LISTEN.to_owned()),
            public_url: String::new(),
            trusted_proxies: Vec::new(),
            from_file: from_file.clone(),
        }
        .with_default_public_url())
    }

    fn with_default_public_url(mut self) -> Settings {
        self.public_url = format!("http://{}", self.listen);
        self
    }

    fn file_setting(&self, key: &str) -> Option<String> {
        self.from_file
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    /// Resolves how a server is reached: the public URL (flag, file, or `http://` and
    /// the listen address) and the trusted proxies.
    pub fn serving(
        &mut self,
        public_url: Option<String>,
        trusted_proxies: &[std::net::IpAddr],
    ) -> anyhow::Result<()> {
        if let Some(url) = public_url.or_else(|| self.file_setting("public_url")) {
            self.public_url = parse_public_url(&url)?;
        } else {
            self.public_url = format!("http://{}", self.listen);
        }
        self.trusted_proxies = trusted_proxies.to_vec();
        if self.trusted_proxies.is_empty()
            && let Some(list) = self.file_setting("trusted_proxies")
        {
            self.trusted_proxies = list
                .split(',')
                .map(|a| {
                    a.trim()
                        .parse()
                        .with_context(|| format!("trusted_proxies: {a} is not an address"))
                })
                .collect::<anyhow::Result<_>>()?;
        }
        Ok(())
    }
}

/// A public URL as the server uses it: `http` or `https`, a host, no path, query or
/// fragment, no trailing slash.
pub fn parse_public_url(url: &str) -> anyhow::Result<String> {
    let url = url.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .with_context(|| format!("public URL {url}: must start with https:// or http://"))?;
    if rest.is_empty() || rest.contains(['/', '?', '#', ' ', '@']) {
        bail!("public URL {url}: give the scheme, host and port only (https://host[:port])");
    }
    Ok(url.to_owned())
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
        let s = Settings::resolve(
            None,
            None,
            Some("127.0.0.1:1".into()),
            AuditPaths::default(),
            Some(&file),
        )
        .unwrap();
        assert_eq!(s.data_dir, PathBuf::from("/srv/gongti"));
        assert_eq!(s.listen, "127.0.0.1:1");
        assert_eq!(s.database_url, None);
        assert_eq!(s.audit_key, PathBuf::from("/srv/gongti/audit-signing.key"));
        let d = Settings::resolve(None, None, None, AuditPaths::default(), None).unwrap();
        assert_eq!(d.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert_eq!(d.listen, DEFAULT_LISTEN);
        let p = Settings::resolve(
            None,
            Some("postgres://x/y".into()),
            None,
            AuditPaths {
                key: None,
                anchor: Some("/var/log/anchor".into()),
                data_key: None,
            },
            None,
        )
        .unwrap();
        assert_eq!(p.audit_key, PathBuf::from("./gongti-audit-signing.key"));
        assert_eq!(p.audit_anchor, PathBuf::from("/var/log/anchor"));
    }

    #[test]
    fn a_public_url_is_a_scheme_and_a_host() {
        assert_eq!(
            parse_public_url("https://gongti.tj.cn/").unwrap(),
            "https://gongti.tj.cn"
        );
        assert_eq!(
            parse_public_url("http://10.0.0.5:8080").unwrap(),
            "http://10.0.0.5:8080"
        );
        for bad in [
            "gongti.tj.cn",
            "ftp://x",
            "https://",
            "https://h/path",
            "https://h?x=1",
            "https://u@h",
        ] {
            assert!(parse_public_url(bad).is_err(), "{bad}");
        }
        let mut s = Settings::resolve(None, None, None, AuditPaths::default(), None).unwrap();
        assert_eq!(s.public_url, format!("http://{DEFAULT_LISTEN}"));
        s.serving(
            Some("https://gongti.tj.cn".into()),
            &["10.0.0.1".parse().unwrap()],
        )
        .unwrap();
        assert_eq!(s.public_url, "https://gongti.tj.cn");
        assert_eq!(s.trusted_proxies.len(), 1);
    }

    #[test]
    fn unknown_keys_and_bad_lines_are_refused() {
        assert!(parse_file("colour = blue").is_err());
        assert!(parse_file("data_dir").is_err());
    }
}
