use gongti_core::audit::{AuditEntry, ChainVerifier, GENESIS_HASH, Outcome, link};

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

#[tokio::test]
async fn an_appended_chain_reads_back_intact() {
    for store in engines().await {
        assert_eq!(store.audit_head().await.unwrap(), None);
        let mut prev = GENESIS_HASH;
        let records: Vec<_> = (1..=150)
            .map(|seq| {
                let r = link(seq, prev, entry(seq));
                prev = r.hash;
                r
            })
            .collect();
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
    let mut prev = GENESIS_HASH;
    let records: Vec<_> = (1..=30)
        .map(|seq| {
            let r = link(seq, prev, entry(seq));
            prev = r.hash;
            r
        })
        .collect();
    {
        let store = gongti_store::Store::open_sqlite(&dir).await.unwrap();
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

    let store = gongti_store::Store::open_sqlite(&dir).await.unwrap();
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
    let store = gongti_store::Store::open_sqlite(&dir).await.unwrap();
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
