//! The crash test: `gongti serve` killed with SIGKILL at random points under a mixed
//! write load (registrations, home readings, sign-ins), on SQLite and PostgreSQL.
//! After every kill `audit verify` finds every record row named by an audit record
//! (in the chain or staged in the outbox) and the chain intact; after the last restart
//! every acknowledged write is there.
//!
//! `GONGTI_CRASH_KILLS` sets the number of kills per engine (10 by default); the
//! figures it prints (writes acknowledged, kills, rows without an audit record,
//! restart time) are what BENCHMARKS.md reports for longer runs.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::server::{
    DEMO_PASSWORD, Place, free_port, id_number, json_field, request, sign_in, start,
};
use gongti_app::demo::DemoRng as Rng;

use crate::{gongti_env, text};

/// Writers sending at once.
const WRITERS: usize = 4;
/// Acknowledged readings at most (the list the check reads holds 1,000).
const READINGS_MAX: usize = 900;

/// What the writers were told was saved.
#[derive(Default)]
struct Acknowledged {
    residents: Vec<i64>,
    readings: Vec<String>,
    sign_ins: u64,
}

/// Sends mixed writes until `stop`; records what was acknowledged.
fn writer(
    port: u16,
    token: String,
    reader: i64,
    mut rng: Rng,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Acknowledged>>,
) {
    let taken_at = (time::OffsetDateTime::now_utc() - time::Duration::hours(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    while !stop.load(Ordering::Relaxed) {
        let n = rng.next_u64();
        let readings_left = acked.lock().unwrap().readings.len() < READINGS_MAX;
        match n % 10 {
            // The readings list answers up to 1,000: stay below, to check them all.
            5..=7 if readings_left => {
                let client = format!("crash-{n:016x}");
                let body = format!(
                    r#"{{"readings":[{{"resident_id":{reader},"client_reading_id":"{client}","kind":"bp","taken_at":"{taken_at}","sbp_mmhg":{},"dbp_mmhg":80}}]}}"#,
                    110 + n % 60
                );
                if let Some((200, _)) =
                    request(port, "POST", "/api/v1/readings/batch", &token, &body)
                {
                    acked.lock().unwrap().readings.push(client);
                }
            }
            8..=9 => {
                let body = format!(r#"{{"username":"doctor","password":"{DEMO_PASSWORD}"}}"#);
                if let Some((200, _)) = request(port, "POST", "/api/v1/auth/token", "", &body) {
                    acked.lock().unwrap().sign_ins += 1;
                }
            }
            _ => {
                let body = format!(
                    r#"{{"name":"压测{}","id_number":"{}"}}"#,
                    n % 10_000,
                    id_number(n % 10_000_000)
                );
                if let Some((201, answer)) =
                    request(port, "POST", "/api/v1/residents", &token, &body)
                    && let Some(id) = json_field(&answer, "id").and_then(|v| v.parse().ok())
                {
                    acked.lock().unwrap().residents.push(id);
                }
            }
        }
    }
}

fn verify(place: &Place) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_gongti"))
        .args(["audit", "verify"])
        .args(place.args())
        .envs(gongti_env())
        .output()
        .unwrap();
    let said = text(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "audit verify after a kill:\n{said}"
    );
    assert!(
        said.contains("every record row has its audit record"),
        "{said}"
    );
    said
}

fn crash_run(place: &Place, kills: u32, seed: u64) {
    let seeded = Command::new(env!("CARGO_BIN_EXE_gongti"))
        .args(["demo", "--residents", "200", "--no-serve"])
        .args(place.args())
        .envs(gongti_env())
        .output()
        .unwrap();
    assert!(seeded.status.success(), "{}", text(&seeded));
    let mut rng = Rng::new(seed);
    let acked = Arc::new(Mutex::new(Acknowledged::default()));
    let mut restarts = Vec::new();
    let mut reader = 0;
    for kill in 0..kills {
        let port = free_port();
        let (mut server, took) = start(place, port);
        restarts.push(took);
        let token = sign_in(port);
        if reader == 0 {
            let body = format!(r#"{{"name":"读数","id_number":"{}"}}"#, id_number(999_999));
            let (status, answer) =
                request(port, "POST", "/api/v1/residents", &token, &body).unwrap();
            assert_eq!(status, 201, "{answer}");
            reader = json_field(&answer, "id").unwrap().parse().unwrap();
        }
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (token, stop, acked) = (token.clone(), stop.clone(), acked.clone());
                let rng = Rng::new(seed ^ (u64::from(kill) << 8) ^ w as u64);
                std::thread::spawn(move || writer(port, token, reader, rng, stop, acked))
            })
            .collect();
        // Kill at a random point of the load.
        std::thread::sleep(Duration::from_millis(100 + rng.below(700)));
        server.kill().unwrap();
        server.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            w.join().unwrap();
        }
        verify(place);
    }
    // The last restart moves what the outbox held; every acknowledged write is there.
    let port = free_port();
    let (mut server, took) = start(place, port);
    restarts.push(took);
    let token = sign_in(port);
    let acked = acked.lock().unwrap();
    for id in &acked.residents {
        let (status, answer) =
            request(port, "GET", &format!("/api/v1/residents/{id}"), &token, "").unwrap();
        assert_eq!(status, 200, "acknowledged resident {id} lost: {answer}");
    }
    let (status, stored) = request(
        port,
        "GET",
        &format!("/api/v1/residents/{reader}/readings?limit=1000"),
        &token,
        "",
    )
    .unwrap();
    assert_eq!(status, 200, "{stored}");
    for client in &acked.readings {
        assert!(
            stored.contains(client.as_str()),
            "acknowledged reading {client} lost"
        );
    }
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    assert!(server.wait().unwrap().success());
    let said = verify(place);
    let slowest = restarts.iter().max().unwrap();
    let mean = restarts.iter().sum::<Duration>() / restarts.len() as u32;
    eprintln!(
        "crash test ({}): {kills} kills, {} registrations + {} readings + {} sign-ins acknowledged, 0 lost, 0 rows without an audit record; restart to /healthz mean {mean:?}, slowest {slowest:?}; seed {seed}\n{said}",
        match place {
            Place::Dir(_) => "SQLite",
            Place::Url(..) => "PostgreSQL",
        },
        acked.residents.len(),
        acked.readings.len(),
        acked.sign_ins
    );
}

fn kills() -> u32 {
    std::env::var("GONGTI_CRASH_KILLS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(10)
}

fn seed() -> u64 {
    std::env::var("GONGTI_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
}

#[test]
fn killed_under_write_load_nothing_is_stored_without_its_audit_record_sqlite() {
    let dir = gongti_testdb::temp_dir("gongti-crash");
    crash_run(
        &Place::Dir(dir.to_str().unwrap().to_owned()),
        kills(),
        seed(),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_under_write_load_nothing_is_stored_without_its_audit_record_postgres() {
    let Some(place) = Place::postgres().await else {
        return;
    };
    tokio::task::spawn_blocking(move || crash_run(&place, kills(), seed()))
        .await
        .unwrap();
}
