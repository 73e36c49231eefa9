//! What someone with the database (not the signing key, not the anchor file) does to
//! the trail, and how it is found, on SQLite and PostgreSQL: the newest records cut
//! off, the whole trail rewritten with its hashes recomputed, the patient index
//! thinned (SQLite). `audit verify` fails naming the last good checkpoint; the server
//! refuses to start until told why, and that is recorded.

use gongti_core::audit::{ChainedEntry, link};
use gongti_store::Store;
use gongti_store::crypto::DataKeys;
use sqlx::Connection;

use crate::server::{CREATE_OPS, Place, free_port, run, seed, start, stop, verified};
use crate::text;

/// The trail's records, read as `audit verify` reads them.
async fn trail(place: &Place) -> Vec<ChainedEntry> {
    let store = match place {
        Place::Dir(d) => {
            let dir = std::path::Path::new(d);
            Store::open_sqlite_read_only(dir, DataKeys::load(&dir.join("data.key")).unwrap())
                .await
                .unwrap()
        }
        Place::Url(u, d) => {
            let keys = DataKeys::load(&std::path::Path::new(d).join("data.key")).unwrap();
            Store::connect_postgres(u, keys).await.unwrap()
        }
    };
    let records = store.audit_records(0, 1_000_000).await.unwrap().records;
    store.close().await;
    records
}

/// Runs statements on the database that holds the trail.
async fn execute(place: &Place, statements: &[(String, Vec<Vec<u8>>)]) {
    // The same on a connection of either engine.
    macro_rules! run_on {
        ($db:expr) => {{
            let mut db = $db;
            for (sql, blobs) in statements {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
                for b in blobs {
                    q = q.bind(b.as_slice());
                }
                q.execute(&mut db).await.unwrap();
            }
            db.close().await.unwrap();
        }};
    }
    match place {
        Place::Dir(d) => run_on!(
            sqlx::SqliteConnection::connect(&format!("sqlite://{d}/audit.db"))
                .await
                .unwrap()
        ),
        Place::Url(u, _) => run_on!(sqlx::PgConnection::connect(u).await.unwrap()),
    }
}

/// A region with checkpoints in the anchor file: the demo's (at its end) and a later
/// command's. Returns the records the last two cover.
async fn region_with_two_checkpoints(place: &Place) -> (i64, i64) {
    seed(place);
    let created = run(place, CREATE_OPS);
    assert!(created.status.success(), "{}", text(&created));
    verified(place);
    let checkpoints: Vec<i64> = trail(place)
        .await
        .iter()
        .filter(|r| r.entry.action == "audit.checkpoint")
        .map(|r| r.entry.resource_id.as_deref().unwrap().parse().unwrap())
        .collect();
    // One when each command stopped (a slow machine may add one on the way).
    assert!(checkpoints.len() >= 2, "{checkpoints:?}");
    let n = checkpoints.len();
    (checkpoints[n - 2], checkpoints[n - 1])
}

fn fails(place: &Place, wants: &[&str]) -> String {
    let out = run(place, &["audit", "verify"]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    for want in wants {
        assert!(said.contains(want), "wanted {want:?} in:\n{said}");
    }
    said
}

async fn cutting_off_the_newest_records_is_found(place: Place) {
    let (first, second) = region_with_two_checkpoints(&place).await;
    // Every record after the first checkpoint's own, the second checkpoint's included.
    execute(
        &place,
        &[(
            format!("DELETE FROM audit_log WHERE seq > {}", first + 1),
            vec![],
        )],
    )
    .await;
    fails(
        &place,
        &[
            &format!("ends at record {}", first + 1),
            &format!("but record {second} was signed"),
            &format!("last good checkpoint: record {first}"),
        ],
    );
    // The server will not serve it...
    let refused = run(
        &place,
        &["serve", "--listen", &format!("127.0.0.1:{}", free_port())],
    );
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).contains("newest records were removed")
            && text(&refused).contains("--accept-broken-audit-chain"),
        "{}",
        text(&refused)
    );
    // ...unless told why, which the trail keeps.
    let (server, _) = crate::server::start_with(
        &place,
        free_port(),
        &["--accept-broken-audit-chain", "恢复演练 restore drill"],
    );
    stop(server);
    let accepted: Vec<_> = trail(&place)
        .await
        .into_iter()
        .filter(|r| r.entry.action == "audit.accept_broken")
        .collect();
    assert_eq!(accepted.len(), 1);
    assert_eq!(
        accepted[0].entry.reason.as_deref(),
        Some("恢复演练 restore drill")
    );
    assert!(
        accepted[0]
            .entry
            .detail
            .as_deref()
            .unwrap()
            .contains("newest records were removed")
    );
    // The next start passes: a checkpoint after the acceptance anchors the trail again.
    let server = start(&place, free_port()).0;
    stop(server);
    // And verify still tells the story: the chain has grown again past the record
    // number the lost checkpoint named, which now holds another record.
    fails(
        &place,
        &[&format!("record {second} does not match the checkpoint")],
    );
}

async fn a_rehashed_trail_is_found(place: Place) {
    let (first, _) = region_with_two_checkpoints(&place).await;
    // Someone edits record 3 and recomputes every hash after it: every link holds.
    let records = trail(&place).await;
    let mut prev = records[1].hash;
    let mut statements = Vec::new();
    for r in &records[2..] {
        let mut entry = r.entry.clone();
        if r.seq == 3 {
            entry.actor_username = "mallory".into();
        }
        let relinked = link(r.seq, prev, entry);
        prev = relinked.hash;
        statements.push((
            format!(
                "UPDATE audit_log SET actor_username = '{}', prev_hash = $1, hash = $2 WHERE seq = {}",
                relinked.entry.actor_username, r.seq
            ),
            vec![relinked.prev_hash.to_vec(), relinked.hash.to_vec()],
        ));
    }
    execute(&place, &statements).await;
    let said = fails(
        &place,
        &[
            &format!("record {first} does not match the checkpoint"),
            "rewritten or rehashed",
            "no checkpoint holds",
        ],
    );
    assert!(
        said.contains("audit chain intact"),
        "the links hold: {said}"
    );
    let refused = run(
        &place,
        &["serve", "--listen", &format!("127.0.0.1:{}", free_port())],
    );
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).contains("was rewritten"),
        "{}",
        text(&refused)
    );
}

/// A test on each engine of each scenario `async fn(Place)`.
macro_rules! on_both_engines {
    ($($scenario:ident => $sqlite:ident, $postgres:ident;)*) => {$(
        #[tokio::test]
        async fn $sqlite() {
            $scenario(Place::sqlite()).await;
        }

        #[tokio::test]
        async fn $postgres() {
            if let Some(place) = Place::postgres().await {
                $scenario(place).await;
            }
        }
    )*};
}

on_both_engines! {
    cutting_off_the_newest_records_is_found =>
        cutting_off_the_newest_records_is_found_sqlite,
        cutting_off_the_newest_records_is_found_postgres;
    a_rehashed_trail_is_found => a_rehashed_trail_is_found_sqlite, a_rehashed_trail_is_found_postgres;
}

/// Removing a patient's entries from the index would hide records from their access
/// log; verify compares the index with the trail (SQLite keeps it in batches).
#[tokio::test]
async fn a_thinned_patient_index_is_found() {
    let place = Place::sqlite();
    region_with_two_checkpoints(&place).await;
    let said = verified(&place);
    assert!(
        said.contains("the patient index matches the trail"),
        "{said}"
    );
    execute(
        &place,
        &[(
            "DELETE FROM audit_patient WHERE patient_id = (SELECT MIN(patient_id) FROM audit_patient)"
                .into(),
            vec![],
        )],
    )
    .await;
    fails(&place, &["the patient index DIFFERS from the trail"]);
}
