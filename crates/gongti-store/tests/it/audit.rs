use gongti_core::audit::{AuditEntry, ChainVerifier, ChainedEntry, GENESIS_HASH, Outcome, link};

use crate::support::{NOW_US, engines};

fn entry(n: i64) -> AuditEntry {
    AuditEntry {
        at_us: NOW_US + n,
        actor_user_id: Some(1),
        actor_username: "doctor".into(),
        role: Some("family_doctor".into()),
        institution_id: Some(1),
        action: "resident.read".into(),
        resource_type: "Resident".into(),
        resource_id: Some(n.to_string()),
        patient_id: Some(n % 3),
        reason: None,
        outcome: Outcome::Ok,
        detail: None,
        request_id: Some(format!("req-{n}")),
    }
}

/// Records 1..=n linked into a chain, and the last one's hash.
fn chain_of(n: i64) -> (Vec<ChainedEntry>, [u8; 32]) {
    let mut prev = GENESIS_HASH;
    let records = (1..=n)
        .map(|seq| {
            let r = link(seq, prev, entry(seq));
            prev = r.hash;
            r
        })
        .collect();
    (records, prev)
}

#[tokio::test]
async fn an_appended_chain_reads_back_intact() {
    for store in engines().await {
        assert_eq!(store.audit_head().await.unwrap(), None);
        let (records, prev) = chain_of(150);
        store.append_audit(&records[..100]).await.unwrap();
        store.append_audit(&records[100..]).await.unwrap();
        assert_eq!(store.audit_head().await.unwrap(), Some((150, prev)));

        let mut verifier = ChainVerifier::default();
        let mut after = 0;
        loop {
            let page = store.audit_records(after, 40).await.unwrap();
            let Some(last) = page.records.last() else {
                break;
            };
            after = last.seq;
            for r in &page.records {
                verifier.push(r).unwrap();
            }
        }
        assert_eq!(verifier.verified(), 150);
        assert_eq!(store.audit_records(0, 200).await.unwrap().records, records);

        let patient = store.audit_for_patient(1, None, 5).await.unwrap().records;
        assert_eq!(
            patient.iter().map(|r| r.seq).collect::<Vec<_>>(),
            vec![148, 145, 142, 139, 136]
        );
    }
}

#[tokio::test]
async fn a_taken_sequence_number_is_refused() {
    for store in engines().await {
        let r = link(1, GENESIS_HASH, entry(1));
        store.append_audit(std::slice::from_ref(&r)).await.unwrap();
        assert!(store.append_audit(&[r]).await.is_err());
        assert_eq!(store.audit_count().await.unwrap(), 1);
    }
}

/// A trail written before the SQLite engine kept it in `audit.db` lives in
/// `gongti.db`'s `audit_log`: migrating moves it over once, intact, and empties the old
/// table; a later record continues the same chain.
#[tokio::test]
async fn a_trail_from_before_the_split_moves_into_its_own_file() {
    use sqlx::Connection;
    let dir = gongti_testdb::temp_dir("gongti-audit-move");
    let (records, prev) = chain_of(30);
    {
        let store =
            gongti_store::Store::open_sqlite(&dir, gongti_store::crypto::DataKeys::generate())
                .await
                .unwrap();
        store.migrate().await.unwrap();
        store.close().await;
    }
    // Write the trail where the old release kept it, and take the new file away.
    let mut db =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}", dir.join("gongti.db").display()))
            .await
            .unwrap();
    for r in &records {
        let e = &r.entry;
        sqlx::query(
            "INSERT INTO audit_log (seq, at_us, actor_user_id, actor_username, role, institution_id, action, resource_type, \
             resource_id, patient_id, reason, outcome, detail, request_id, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(r.seq)
        .bind(e.at_us)
        .bind(e.actor_user_id)
        .bind(&e.actor_username)
        .bind(&e.role)
        .bind(e.institution_id)
        .bind(&e.action)
        .bind(&e.resource_type)
        .bind(&e.resource_id)
        .bind(e.patient_id)
        .bind(&e.reason)
        .bind(e.outcome.code())
        .bind(&e.detail)
        .bind(&e.request_id)
        .bind(&r.prev_hash[..])
        .bind(&r.hash[..])
        .execute(&mut db)
        .await
        .unwrap();
    }
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.join(format!("audit.db{suffix}")));
    }

    let store = gongti_store::Store::open_sqlite(&dir, gongti_store::crypto::DataKeys::generate())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    assert_eq!(store.audit_records(0, 100).await.unwrap().records, records);
    assert_eq!(store.audit_head().await.unwrap(), Some((30, prev)));
    let (left,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_log")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(
        left, 0,
        "the old table is emptied once the copy is in place"
    );

    let next = link(31, prev, entry(31));
    store
        .append_audit(std::slice::from_ref(&next))
        .await
        .unwrap();
    // Migrating again moves nothing and keeps the chain.
    store.migrate().await.unwrap();
    assert_eq!(store.audit_count().await.unwrap(), 31);
    let mut verifier = ChainVerifier::default();
    for r in &store.audit_records(0, 100).await.unwrap().records {
        verifier.push(r).unwrap();
    }
    assert_eq!(verifier.verified(), 31);
}

/// Two trails that disagree are never merged silently.
#[tokio::test]
async fn two_disagreeing_trails_stop_the_migration() {
    use sqlx::Connection;
    let dir = gongti_testdb::temp_dir("gongti-audit-clash");
    let store = gongti_store::Store::open_sqlite(&dir, gongti_store::crypto::DataKeys::generate())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let kept = link(1, GENESIS_HASH, entry(1));
    store
        .append_audit(std::slice::from_ref(&kept))
        .await
        .unwrap();
    let mut db =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}", dir.join("gongti.db").display()))
            .await
            .unwrap();
    sqlx::query(
        "INSERT INTO audit_log (seq, at_us, actor_username, action, resource_type, outcome, prev_hash, hash) \
         VALUES (1, 1, 'other', 'resident.read', 'Resident', 'ok', zeroblob(32), zeroblob(32))",
    )
    .execute(&mut db)
    .await
    .unwrap();
    let err = store.migrate().await.unwrap_err();
    assert!(err.to_string().contains("disagree"), "{err}");
    assert_eq!(
        store.audit_records(0, 10).await.unwrap().records,
        vec![kept]
    );
}

/// On SQLite a patient's records are found through an index kept in batches plus the
/// tail of the trail after the index's mark: wherever the mark stands, every page of a
/// patient's history is the same, newest first.
#[tokio::test]
async fn a_patients_history_reads_the_same_wherever_the_index_stands() {
    let dir = gongti_testdb::temp_dir("gongti-audit-index");
    let store = gongti_store::Store::open_sqlite(&dir, gongti_store::crypto::DataKeys::generate())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let (records, _) = chain_of(150);
    store.append_audit(&records).await.unwrap();
    let want: Vec<i64> = (1..=150).rev().filter(|seq| seq % 3 == 1).collect();
    let file = rusqlite::Connection::open(dir.join("audit.db")).unwrap();
    file.busy_timeout(std::time::Duration::from_secs(5))
        .unwrap();
    for mark in [0, 40, 100, 149, 150] {
        file.execute_batch(&format!(
            "BEGIN; DELETE FROM audit_patient;
             INSERT INTO audit_patient SELECT patient_id, seq FROM audit_log WHERE seq <= {mark};
             UPDATE audit_index_state SET indexed_through = {mark}; COMMIT;"
        ))
        .unwrap();
        for page_size in [1, 7, 50, 100] {
            let mut got = Vec::new();
            let mut before = None;
            loop {
                let page = store
                    .audit_for_patient(1, before, page_size)
                    .await
                    .unwrap()
                    .records;
                assert!(page.len() <= page_size as usize);
                let Some(last) = page.last() else { break };
                before = Some(last.seq);
                got.extend(page.iter().map(|r| r.seq));
            }
            assert_eq!(got, want, "mark {mark}, pages of {page_size}");
        }
    }
}

/// Appending keeps the batched index close behind: once a batch's worth of records
/// waits, the next append indexes them all.
#[tokio::test]
async fn the_patient_index_follows_the_trail_in_batches() {
    let dir = gongti_testdb::temp_dir("gongti-audit-batches");
    let store = gongti_store::Store::open_sqlite(&dir, gongti_store::crypto::DataKeys::generate())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let (records, _) = chain_of(9_000);
    for chunk in records.chunks(1_000) {
        store.append_audit(chunk).await.unwrap();
    }
    let file = rusqlite::Connection::open(dir.join("audit.db")).unwrap();
    let (mark, indexed): (i64, i64) = file
        .query_row(
            "SELECT (SELECT indexed_through FROM audit_index_state), (SELECT COUNT(*) FROM audit_patient)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    // 8,192 records waited after the ninth append at the latest (sooner if a second
    // passed), so the index reached at least the ninth append's end.
    assert!(mark > 9_000 - 1_000, "mark {mark}");
    assert_eq!(
        indexed, mark,
        "every record up to the mark has its patient entry"
    );
}
