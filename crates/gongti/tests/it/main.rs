//! The `gongti` binary end to end: seeding the demo, migrating, and `audit verify`
//! catching a hand-edited audit row.

use std::path::Path;
use std::process::{Command, Output};

use sqlx::Connection;

mod backup;
mod crash;
mod owner;
mod server;
mod tamper;

/// The environment every `gongti` the tests run gets.
fn gongti_env() -> [(&'static str, &'static str); 3] {
    [
        ("GONGTI_DEMO_PASSWORD", "demo-password-1"),
        ("GONGTI_ADMIN_PASSWORD", "admin-password-1"),
        ("RUST_LOG", "warn"),
    ]
}

fn gongti(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gongti"))
        .args(args)
        .envs(gongti_env())
        .output()
        .expect("run gongti")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

async fn sqlite(dir: &Path) -> sqlx::SqliteConnection {
    sqlx::SqliteConnection::connect(&format!("sqlite://{}", dir.join("gongti.db").display()))
        .await
        .unwrap()
}

/// The first hundred residents of a data directory, their numbers opened with its key.
async fn residents_in(dir: &Path) -> Vec<gongti_store::ResidentRecord> {
    let keys = gongti_store::crypto::DataKeys::load(&dir.join("data.key")).unwrap();
    let store = gongti_store::Store::open_sqlite_read_only(dir, keys)
        .await
        .unwrap();
    store
        .residents(&gongti_store::ResidentFilter::default(), None, 100)
        .await
        .unwrap()
        .items
}

/// The SQLite engine's audit trail, in its own file beside the records.
async fn audit_db(dir: &Path) -> sqlx::SqliteConnection {
    sqlx::SqliteConnection::connect(&format!("sqlite://{}", dir.join("audit.db").display()))
        .await
        .unwrap()
}

#[tokio::test]
async fn editing_one_audit_row_makes_verify_fail_naming_it() {
    let dir = gongti_testdb::temp_dir("gongti-cli");
    let d = dir.to_str().unwrap();
    let seeded = gongti(&[
        "demo",
        "--data-dir",
        d,
        "--residents",
        "300",
        "--seed",
        "7",
        "--no-serve",
    ]);
    assert!(seeded.status.success(), "{}", text(&seeded));
    assert!(
        text(&seeded).contains("266 grassroots institutions"),
        "{}",
        text(&seeded)
    );

    let ok = gongti(&["audit", "verify", "--data-dir", d]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    assert!(text(&ok).contains("intact"));

    let mut db = audit_db(&dir).await;
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_log")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert!(count >= 1);
    sqlx::query("UPDATE audit_log SET actor_username = 'mallory' WHERE seq = 1")
        .execute(&mut db)
        .await
        .unwrap();
    db.close().await.unwrap();

    let broken = gongti(&["audit", "verify", "--data-dir", d]);
    assert_eq!(broken.status.code(), Some(1), "{}", text(&broken));
    assert!(text(&broken).contains("record 1"), "{}", text(&broken));
}

#[tokio::test]
async fn deleting_an_audit_row_is_found_too() {
    let dir = gongti_testdb::temp_dir("gongti-cli");
    let d = dir.to_str().unwrap();
    assert!(
        gongti(&["demo", "--data-dir", d, "--residents", "10", "--no-serve"])
            .status
            .success()
    );
    // A second command adds records (admin creation is audited at first start only; a
    // user creation adds one more).
    let created = server::run(&server::Place::Dir(d.to_owned()), server::CREATE_OPS);
    assert!(created.status.success(), "{}", text(&created));
    let mut db = audit_db(&dir).await;
    let (last,): (i64,) = sqlx::query_as("SELECT MAX(seq) FROM audit_log")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert!(last >= 2, "at least two records, found {last}");
    sqlx::query("DELETE FROM audit_log WHERE seq = 1")
        .execute(&mut db)
        .await
        .unwrap();
    db.close().await.unwrap();
    let broken = gongti(&["audit", "verify", "--data-dir", d]);
    assert_eq!(broken.status.code(), Some(1), "{}", text(&broken));
}

#[tokio::test]
async fn the_demo_is_deterministic_for_a_seed() {
    let mut names = Vec::new();
    for _ in 0..2 {
        let dir = gongti_testdb::temp_dir("gongti-cli");
        let out = gongti(&[
            "demo",
            "--data-dir",
            dir.to_str().unwrap(),
            "--residents",
            "50",
            "--seed",
            "42",
            "--no-serve",
        ]);
        assert!(out.status.success(), "{}", text(&out));
        // ID numbers are sealed with each directory's own key: compare them opened.
        let rows: Vec<(String, String)> = residents_in(&dir)
            .await
            .iter()
            .map(|r| (r.name.clone(), r.id_number.as_str().to_owned()))
            .collect();
        assert_eq!(rows.len(), 50);
        names.push(rows);
    }
    assert_eq!(names[0], names[1]);
}

/// The demo's cloud-examination day (DOMAIN.md §8): the family doctor's HbA1c orders
/// completed by the laboratory's reports that name them, a chest X-ray waiting at the
/// imaging centre and an ECG the reader accepted; every order named in the trail.
#[tokio::test]
async fn the_demo_holds_the_cloud_examination_day() {
    use gongti_core::exam::orders::OrderStatus;
    let dir = gongti_testdb::temp_dir("gongti-cli");
    let d = dir.to_str().unwrap();
    let out = gongti(&["demo", "--data-dir", d, "--residents", "300", "--no-serve"]);
    assert!(out.status.success(), "{}", text(&out));
    let keys = gongti_store::crypto::DataKeys::load(&dir.join("data.key")).unwrap();
    let store = gongti_store::Store::open_sqlite_read_only(&dir, keys)
        .await
        .unwrap();
    let patient = store
        .patient_account_by_username("patient")
        .await
        .unwrap()
        .expect("the demo's patient")
        .resident_id;
    let orders = store.exam_orders_of_resident(patient).await.unwrap();
    let status_of = |item: &str| {
        orders
            .iter()
            .find(|o| o.item_code == item)
            .map(|o| o.status)
    };
    assert_eq!(status_of("HBA1C"), Some(OrderStatus::Completed));
    assert_eq!(status_of("XR-CHEST"), Some(OrderStatus::Received));
    assert_eq!(status_of("ECG-12"), Some(OrderStatus::Accepted));
    assert_eq!(status_of("CT-HEAD"), Some(OrderStatus::Accepted));
    let hba1c = orders.iter().find(|o| o.item_code == "HBA1C").unwrap();
    let results = store.lab_results_of_order(hba1c.id).await.unwrap();
    assert!(
        results.iter().any(|r| r.loinc == "4548-4"),
        "the report answered the order"
    );
    let figures = store.recognition_figures(None, 0).await.unwrap();
    assert_eq!(
        figures.recognised, 1,
        "the doctor took the recognised HbA1c"
    );
    store.close().await;
    drop(store);
    let verified = gongti(&["audit", "verify", "--data-dir", d]);
    assert!(verified.status.success(), "{}", text(&verified));
}

/// Read past the server, the database holds no ID or phone number: they are sealed
/// with the data key, which lives outside it (DOMAIN.md §10).
#[tokio::test]
async fn id_and_phone_numbers_are_sealed_at_rest() {
    let dir = gongti_testdb::temp_dir("gongti-cli");
    let d = dir.to_str().unwrap();
    let out = gongti(&["demo", "--data-dir", d, "--residents", "40", "--no-serve"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("data key created"), "{}", text(&out));
    let mut db = sqlite(&dir).await;
    let rows: Vec<(String, Option<String>, Vec<u8>)> =
        sqlx::query_as("SELECT id_number, phone, id_number_hash FROM residents")
            .fetch_all(&mut db)
            .await
            .unwrap();
    assert_eq!(rows.len(), 40);
    let looks_like_an_id =
        |t: &str| t.len() == 18 && t.bytes().take(17).all(|b| b.is_ascii_digit());
    for (id_number, phone, hash) in &rows {
        assert!(
            id_number.starts_with("v1.") && !looks_like_an_id(id_number),
            "{id_number}"
        );
        assert!(
            phone
                .as_deref()
                .is_none_or(|p| p.starts_with("v1.") && !p.starts_with('1'))
        );
        assert_eq!(hash.len(), 32);
    }
    // None of the residents' ID or phone numbers is anywhere in the database files.
    let residents = residents_in(&dir).await;
    assert_eq!(residents.len(), 40);
    let mut files = Vec::new();
    for name in ["gongti.db", "gongti.db-wal", "audit.db", "audit.db-wal"] {
        files.extend(std::fs::read(dir.join(name)).unwrap_or_default());
    }
    for r in &residents {
        let found = |needle: &str| files.windows(needle.len()).any(|w| w == needle.as_bytes());
        assert!(
            !found(r.id_number.as_str()),
            "resident {}'s ID number is in the files",
            r.id
        );
        if let Some(p) = &r.phone {
            assert!(
                !found(p.as_str()),
                "resident {}'s phone is in the files",
                r.id
            );
        }
    }
}

/// A rotated data key seals everything again: afterwards the old key can go.
#[tokio::test]
async fn a_data_key_is_rotated_and_the_old_one_retired() {
    let dir = gongti_testdb::temp_dir("gongti-cli");
    let d = dir.to_str().unwrap();
    let out = gongti(&["demo", "--data-dir", d, "--residents", "30", "--no-serve"]);
    assert!(out.status.success(), "{}", text(&out));
    // An earlier version of a resident keeps its numbers sealed as they were.
    let keys = gongti_store::crypto::DataKeys::load(&dir.join("data.key")).unwrap();
    let store = gongti_store::Store::open_sqlite(&dir, keys).await.unwrap();
    let first = store.resident(1).await.unwrap();
    let renamed = gongti_core::resident::validate(
        &gongti_core::resident::ResidentForm {
            name: format!("{}改", first.name),
            sex: None,
            birth_date: None,
            id_number: first.id_number.as_str().to_owned(),
            phone: first.phone.as_ref().map(|p| p.as_str().to_owned()),
            address: first.address.clone(),
            household: first.household.clone(),
        },
        time::OffsetDateTime::now_utc().date(),
    )
    .unwrap();
    let now = store
        .update_resident(1, &renamed, first.updated_at_us + 1, None, &[])
        .await
        .unwrap();
    store.close().await;
    // The data directory's lock goes with the last handle.
    drop(store);
    let rotated = gongti(&["data", "rotate-key", "--data-dir", d]);
    assert!(rotated.status.success(), "{}", text(&rotated));
    // 30 residents' numbers, the delivery code of the demo's cloud-pharmacy story (a
    // sealed column too), and the laboratory's messages as they arrived.
    let keys = gongti_store::crypto::DataKeys::load(&dir.join("data.key")).unwrap();
    let store = gongti_store::Store::open_sqlite_read_only(&dir, keys)
        .await
        .unwrap();
    let mut messages = Vec::new();
    for ack in ["AA", "AE", "AR"] {
        messages.extend(store.hl7_messages(ack, None, 100).await.unwrap());
    }
    store.close().await;
    drop(store);
    assert!(!messages.is_empty(), "the demo's laboratory day");
    assert!(
        text(&rotated).contains(&format!(
            "data key 2 now seals; {} records",
            31 + messages.len()
        )),
        "{}",
        text(&rotated)
    );
    // Retire key 1: every value still opens.
    let path = dir.join("data.key");
    let kept: String = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("key 1 "))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&path, kept).unwrap();
    let keys = gongti_store::crypto::DataKeys::load(&path).unwrap();
    let store = gongti_store::Store::open_sqlite_read_only(&dir, keys)
        .await
        .unwrap();
    let residents = store
        .residents(&gongti_store::ResidentFilter::default(), None, 100)
        .await
        .unwrap();
    assert_eq!(residents.items.len(), 30);
    // The earlier version opens without the retired key too.
    let was = store
        .resident_version(1, now.version.number - 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(was.name, first.name);
    assert_eq!(was.id_number, first.id_number);
    assert_eq!(was.phone, first.phone);
    // and so do the laboratory's messages
    for m in &messages {
        assert!(store.hl7_message_raw(m.id).await.unwrap().is_some());
    }
    store.close().await;
    let verify = gongti(&["audit", "verify", "--data-dir", d]);
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify));
}

#[test]
fn migrate_reports_the_schema() {
    let dir = gongti_testdb::temp_dir("gongti-cli");
    let out = gongti(&["migrate", "--data-dir", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("schema up to date"));
}

/// The domain core knows nothing of HTTP, SQL, JSON or the runtime (ARCHITECTURE.md).
#[test]
fn the_core_depends_on_no_io_or_wire_format_crate() {
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--offline",
            "-p",
            "gongti-core",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(tree.contains("gongti-core"), "{tree}");
    for forbidden in ["axum", "sqlx", "serde_json", "tokio", "hyper", "serde "] {
        assert!(
            !tree.lines().any(|l| l.starts_with(forbidden)),
            "gongti-core depends on {forbidden}:\n{tree}"
        );
    }
}

fn http(port: u16, request: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    Some(answer)
}

/// SIGTERM stops the server cleanly, and every audit record a response was sent for is
/// in the chain afterwards.
#[test]
fn sigterm_shuts_down_gracefully_with_the_audit_flushed() {
    let dir = gongti_testdb::temp_dir("gongti-cli");
    let d = dir.to_str().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_gongti"))
        .args([
            "serve",
            "--data-dir",
            d,
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .env("GONGTI_ADMIN_PASSWORD", "admin-password-1")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut up = false;
    for _ in 0..100 {
        if http(
            port,
            "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        )
        .is_some_and(|a| a.ends_with("ok"))
        {
            up = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(up, "the server did not come up");
    for _ in 0..3 {
        let answer = http(port, "GET /api/v1/me HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer nope\r\nConnection: close\r\n\r\n").unwrap();
        assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    }
    let killed = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = server.wait().unwrap();
    assert!(status.success(), "exit after SIGTERM: {status:?}");
    let verify = gongti(&["audit", "verify", "--data-dir", d]);
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify));
    // The schema's creation, the admin's staff record and sign-in, the first build
    // of the indicator counters, the three refused tokens, and the checkpoint made
    // as it stopped.
    assert!(
        text(&verify).contains("intact: 8 records")
            && text(&verify).contains("last good checkpoint: record 7"),
        "{}",
        text(&verify)
    );
}
