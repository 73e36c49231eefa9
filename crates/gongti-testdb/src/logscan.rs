//! The log scan of the test suite (DOMAIN.md §10: ID and phone numbers are absent
//! from logs at every level): every line a test's server logs, at debug level, is
//! searched for anything that is an ID or phone number.

use std::io::Write;

use gongti_core::id_number::check_character;

/// What in `text` is an ID or phone number, each described by its kind and masked
/// form (never the number itself, which would leak it again in the report).
pub fn personal_numbers(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_alphanumeric() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_alphanumeric() {
            i += 1;
        }
        let token = &text[start..i];
        let before = start.checked_sub(1).map(|k| b[k]);
        let after = b.get(i).copied();
        let hyphened = before == Some(b'-') || after == Some(b'-');
        if let Some(kind) = kind_of(token, hyphened) {
            found.push(format!("{kind} {}…", &token[..3]));
        }
        // A landline written with its area code: 022-23456789.
        if token.len() >= 3
            && token.len() <= 4
            && token.starts_with('0')
            && token.bytes().all(|c| c.is_ascii_digit())
            && after == Some(b'-')
        {
            let rest = &b[i + 1..];
            let n = rest.iter().take_while(|c| c.is_ascii_digit()).count();
            let ends = rest
                .get(n)
                .is_none_or(|c| !c.is_ascii_alphanumeric() && *c != b'-');
            if (7..=8).contains(&n) && ends && before.is_none_or(|c| c != b'-') {
                found.push(format!("landline {token}-…"));
            }
        }
    }
    found
}

fn kind_of(token: &str, hyphened: bool) -> Option<&'static str> {
    let b = token.as_bytes();
    let digits = |s: &[u8]| s.iter().all(|c| c.is_ascii_digit());
    match b.len() {
        18 if digits(&b[..17])
            && plausible_date(&b[6..14])
            && check_character(&b[..17]) == (b[17] as char).to_ascii_uppercase() =>
        {
            Some("ID number")
        }
        15 if digits(b) && plausible_date(&[b"19", &b[6..12]].concat()) => Some("legacy ID number"),
        11 if digits(b) && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]) => Some("mobile number"),
        10..=12 if digits(b) && b[0] == b'0' && !hyphened => Some("landline number"),
        _ => None,
    }
}

/// `yyyymmdd` of a date a resident could be born on.
fn plausible_date(d: &[u8]) -> bool {
    let n = |s: &[u8]| std::str::from_utf8(s).ok()?.parse::<u32>().ok();
    match (n(&d[..4]), n(&d[4..6]), n(&d[6..8])) {
        (Some(y), Some(m), Some(day)) => {
            (1880..=2100).contains(&y) && (1..=12).contains(&m) && (1..=31).contains(&day)
        }
        _ => None::<()>.is_some(),
    }
}

/// Installs (once per process) a subscriber at debug level, every crate included,
/// whose every line is scanned: a line with an ID or phone number stops the process
/// with the line's masked form on standard error, so the test that logged it fails
/// however the line was reached. `TEST_LOG=1` also prints the lines.
pub fn install_scanning_subscriber() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
        .with_writer(|| Scanner)
        .try_init();
}

static LINES_SCANNED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many log lines this process has scanned (a test shows the scan is live).
pub fn lines_scanned() -> u64 {
    LINES_SCANNED.load(std::sync::atomic::Ordering::Relaxed)
}

struct Scanner;

impl Write for Scanner {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LINES_SCANNED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let line = String::from_utf8_lossy(buf);
        let found = personal_numbers(&line);
        if !found.is_empty() {
            eprintln!(
                "A log line carries personal numbers ({}):\n{}",
                found.join(", "),
                gongti_core::text::redact_numbers(&line)
            );
            std::process::abort();
        }
        if std::env::var_os("TEST_LOG").is_some() {
            std::io::stderr().write_all(buf)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_is_personal_and_only_that() {
        for (text, want) in [
            ("path=/api/v1/residents/110101199003077774 x", 1),
            ("id 11010119900307109x.", 1),
            ("id=110101199003077770", 0),
            ("id=110101199013077774", 0),
            ("legacy 110101900307777 end", 1),
            ("phone 13812345678", 1),
            ("phone=022-23456789;", 1),
            ("phone 0222345678", 1),
            ("request_id=0e9b4a7c-1d2f-4c3b-9a8e-012345678901", 0),
            ("took 13812345678ns", 0),
            ("at_us=1764600000000000 seq=12345", 0),
            ("hash=ab13812345678cd", 0),
            ("", 0),
        ] {
            assert_eq!(personal_numbers(text).len(), want, "{text}");
        }
    }
}
