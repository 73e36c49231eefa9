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
