//! Running `gongti serve` as a process for the tests: where its data lives, starting
//! it, and a minimal HTTP/1.1 client.

use std::io::{Read, Write};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::{gongti_env, text};

pub const DEMO_PASSWORD: &str = "demo-password-1";
/// How long a server may take to answer /healthz after a start.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the data lives: a data directory, or a PostgreSQL URL with a directory for
/// the audit key and anchor file (which default to the working directory there).
#[derive(Clone)]
pub enum Place {
    Dir(String),
    Url(String, String),
}

impl Place {
    /// A fresh database on the test PostgreSQL, or `None` when there is none.
    pub async fn postgres() -> Option<Place> {
        let admin = gongti_testdb::postgres_admin_url()?;
        let url = gongti_testdb::fresh_postgres_url(&admin).await;
        let dir = gongti_testdb::temp_dir("gongti-pg-files");
        Some(Place::Url(url, dir.to_str().unwrap().to_owned()))
    }

    pub fn sqlite() -> Place {
        Place::Dir(
            gongti_testdb::temp_dir("gongti-cli")
                .to_str()
                .unwrap()
                .to_owned(),
        )
    }

    /// The directory of the place's files.
    pub fn dir(&self) -> &str {
        match self {
            Place::Dir(d) | Place::Url(_, d) => d,
        }
    }

    pub fn args(&self) -> Vec<String> {
        match self {
            Place::Dir(d) => vec!["--data-dir".into(), d.clone()],
            Place::Url(u, d) => vec![
                "--database-url".into(),
                u.clone(),
                "--audit-key".into(),
                format!("{d}/audit-signing.key"),
                "--audit-anchor".into(),
                format!("{d}/audit-anchor.log"),
                "--data-key".into(),
                format!("{d}/data.key"),
            ],
        }
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One HTTP/1.1 exchange on a new connection: the status and the body.
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    token: &str,
    body: &str,
) -> Option<(u16, String)> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    let auth = if token.is_empty() {
        String::new()
    } else {
        format!("Authorization: Bearer {token}\r\n")
    };
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(body.as_bytes()).ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let status = answer.get(9..12)?.parse().ok()?;
    let body = answer.split_once("\r\n\r\n")?.1.to_owned();
    Some((status, body))
}

pub fn json_field<'a>(body: &'a str, field: &str) -> Option<&'a str> {
    let key = format!("\"{field}\":");
    let rest = body[body.find(&key)? + key.len()..].trim_start();
    let rest = rest.strip_prefix('"').unwrap_or(rest);
    let end = rest.find(['"', ',', '}'])?;
    Some(&rest[..end])
}

/// Starts `gongti serve`; returns it with how long it took to answer /healthz.
pub fn start(place: &Place, port: u16) -> (Child, Duration) {
    start_with(place, port, &[])
}

/// [`start`] with more arguments for `serve`.
pub fn start_with(place: &Place, port: u16, more: &[&str]) -> (Child, Duration) {
    let began = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gongti"))
        .arg("serve")
        .args(place.args())
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(more)
        .envs(gongti_env())
        .env("RUST_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(server_log(place))
        .spawn()
        .unwrap();
    while began.elapsed() < START_TIMEOUT {
        if request(port, "GET", "/healthz", "", "").is_some_and(|(s, _)| s == 200) {
            return (child, began.elapsed());
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("gongti serve exited at start: {status}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("gongti serve did not answer within {START_TIMEOUT:?}");
}

pub fn sign_in(port: u16) -> String {
    let body = format!(r#"{{"username":"doctor","password":"{DEMO_PASSWORD}"}}"#);
    let (status, answer) = request(port, "POST", "/api/v1/auth/token", "", &body).unwrap();
    assert_eq!(status, 200, "{answer}");
    json_field(&answer, "access_token").unwrap().to_owned()
}

/// A valid 和平区 ID number, distinct for each `n` below twenty million.
pub fn id_number(n: u64) -> String {
    let born = time::macros::date!(1930 - 01 - 01) + time::Duration::days((n / 1000) as i64);
    let birth = format!(
        "{:04}{:02}{:02}",
        born.year(),
        u8::from(born.month()),
        born.day()
    );
    let body = format!("120101{birth}{:03}", n % 1000);
    format!(
        "{body}{}",
        gongti_core::id_number::check_character(body.as_bytes())
    )
}

/// Runs a `gongti` command on the place (logging at debug level, scanned).
pub fn run(place: &Place, args: &[&str]) -> Output {
    run_with(&place.args(), args)
}

/// [`run`] with the place given as its arguments (to change one of them).
pub fn run_with(place_args: &[String], args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_gongti"))
        .args(args)
        .args(place_args)
        .envs(gongti_env())
        .env("RUST_LOG", "debug")
        .env("GONGTI_NEW_USER_PASSWORD", "new-user-password-1")
        .output()
        .unwrap();
    let found = gongti_testdb::logscan::personal_numbers(&text(&out));
    assert!(found.is_empty(), "gongti {args:?} printed {found:?}");
    out
}

/// Servers' logs of this test (its own process under nextest), scanned at each stop.
static SERVER_LOGS: std::sync::Mutex<Vec<std::path::PathBuf>> = std::sync::Mutex::new(Vec::new());

/// Where a server on `place` logs, at debug level (appended across restarts).
fn server_log(place: &Place) -> std::fs::File {
    let path = std::path::Path::new(place.dir()).join("serve.log");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap();
    let mut logs = SERVER_LOGS.lock().unwrap();
    if !logs.contains(&path) {
        logs.push(path);
    }
    file
}

/// DOMAIN.md §10: no ID or phone number in the servers' logs, at debug level.
pub fn assert_logs_clean() {
    for path in SERVER_LOGS.lock().unwrap().iter() {
        let log = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            !log.is_empty(),
            "{} is empty: the server did not log",
            path.display()
        );
        let found = gongti_testdb::logscan::personal_numbers(&log);
        assert!(found.is_empty(), "{} carries {found:?}", path.display());
    }
}

/// `gongti user create` of an operations account.
pub const CREATE_OPS: &[&str] = &[
    "user",
    "create",
    "--username",
    "ops",
    "--name",
    "运维",
    "--role",
    "city_officer",
];

/// A small demo region.
pub fn seed(place: &Place) {
    let out = run(place, &["demo", "--residents", "50", "--no-serve"]);
    assert!(out.status.success(), "{}", text(&out));
}

/// `audit verify` finds the store sound; returns what it said.
pub fn verified(place: &Place) -> String {
    let out = run(place, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("every record row has its audit record"),
        "{}",
        text(&out)
    );
    text(&out)
}

/// Stops a server with SIGTERM; it must exit cleanly.
pub fn stop(mut server: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    assert!(server.wait().unwrap().success());
    assert_logs_clean();
}
