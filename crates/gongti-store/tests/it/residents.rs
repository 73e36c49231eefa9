use gongti_core::region::InstitutionKind;
use gongti_store::{ResidentFilter, StoreError};

use crate::support::{NOW_US, engines, institution, resident};

#[tokio::test]
async fn the_id_number_is_unique() {
    for store in engines().await {
        let chc = institution(&store, "C1", InstitutionKind::CommunityHealthCentre).await;
        let first = store
            .insert_resident(&resident("张三", 11), chc.id, NOW_US, &[])
            .await
            .unwrap();
        assert_eq!(first.name, "张三");
        assert_eq!(first.home_district_code, "120101");
        let again = store
            .insert_resident(&resident("张三丰", 11), chc.id, NOW_US, &[])
            .await;
        assert!(
            matches!(again, Err(StoreError::Duplicate(_))),
            "{:?}",
            store.kind()
        );
    }
}

#[tokio::test]
async fn a_failing_batch_leaves_nothing_behind() {
    for store in engines().await {
        let chc = institution(&store, "C1", InstitutionKind::CommunityHealthCentre).await;
        let batch = vec![
            (resident("甲", 1), chc.id),
            (resident("乙", 3), chc.id),
            (resident("丙", 1), chc.id),
        ];
        assert!(
            store
                .insert_residents(&batch, NOW_US, &|_: &[i64]| Vec::new())
                .await
                .is_err()
        );
        assert_eq!(
            store.resident_count().await.unwrap(),
            0,
            "{:?}",
            store.kind()
        );
        let ids = store
            .insert_residents(&batch[..2], NOW_US, &|_: &[i64]| Vec::new())
            .await
            .unwrap();
        assert_eq!(ids.len(), 2);
    }
}

#[tokio::test]
async fn search_by_name_id_number_and_birth_date() {
    for store in engines().await {
        let chc = institution(&store, "C1", InstitutionKind::CommunityHealthCentre).await;
        for (i, name) in ["张伟", "张秀英", "王芳", "李娜"].iter().enumerate() {
            store
                .insert_resident(&resident(name, i as u32 * 2 + 1), chc.id, NOW_US, &[])
                .await
                .unwrap();
        }
        let zhang = ResidentFilter {
            name_prefixes: vec!["张".into()],
            ..Default::default()
        };
        let page = store.residents(&zhang, None, 1).await.unwrap();
        assert_eq!(page.items[0].name, "张伟");
        let rest = store.residents(&zhang, page.next_after, 1).await.unwrap();
        assert_eq!(rest.items[0].name, "张秀英");
        assert_eq!(rest.next_after, None);

        let target = resident("王芳", 5);
        let by_id = ResidentFilter {
            id_numbers: vec![target.id_number.as_str().into()],
            ..Default::default()
        };
        let found = store.residents(&by_id, None, 10).await.unwrap().items;
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].id_number, target.id_number);
        assert_eq!(found[0].phone.as_ref().unwrap().masked(), "138****1234");

        let born = ResidentFilter {
            birth_date: Some(target.birth_date),
            ..Default::default()
        };
        assert_eq!(
            store.residents(&born, None, 10).await.unwrap().items.len(),
            4
        );
    }
}

#[tokio::test]
async fn merging_moves_care_and_hides_the_merged_record() {
    for store in engines().await {
        let chc = institution(&store, "C1", InstitutionKind::CommunityHealthCentre).await;
        let upper = institution(&store, "H1", InstitutionKind::TertiaryHospital).await;
        let a = store
            .insert_resident(&resident("刘洋", 1), chc.id, NOW_US, &[])
            .await
            .unwrap();
        let b = store
            .insert_resident(&resident("刘洋", 3), chc.id, NOW_US, &[])
            .await
            .unwrap();
        store
            .open_care_relationship(b.id, upper.id, "referral", NOW_US)
            .await
            .unwrap();
        store
            .merge_residents(a.id, b.id, NOW_US + 1, &[])
            .await
            .unwrap();

        assert_eq!(
            store.care_institutions(a.id, NOW_US).await.unwrap(),
            vec![upper.id]
        );
        assert_eq!(
            store.resident(b.id).await.unwrap().merged_into_id,
            Some(a.id)
        );
        let all = store
            .residents(&ResidentFilter::default(), None, 10)
            .await
            .unwrap()
            .items;
        assert_eq!(all.iter().map(|r| r.id).collect::<Vec<_>>(), vec![a.id]);
        // Merging again, or into a merged record, finds nothing to merge.
        assert!(matches!(
            store.merge_residents(a.id, b.id, NOW_US, &[]).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.merge_residents(b.id, a.id, NOW_US, &[]).await,
            Err(StoreError::NotFound)
        ));
    }
}

#[tokio::test]
async fn closed_care_relationships_do_not_count() {
    for store in engines().await {
        let chc = institution(&store, "C1", InstitutionKind::CommunityHealthCentre).await;
        let upper = institution(&store, "H1", InstitutionKind::TertiaryHospital).await;
        let a = store
            .insert_resident(&resident("陈静", 1), chc.id, NOW_US, &[])
            .await
            .unwrap();
        let rel = store
            .open_care_relationship(a.id, upper.id, "consultation", NOW_US)
            .await
            .unwrap();
        assert_eq!(
            store.care_institutions(a.id, NOW_US).await.unwrap(),
            vec![upper.id]
        );
        store
            .close_care_relationship(rel, NOW_US + 1)
            .await
            .unwrap();
        assert!(
            store
                .care_institutions(a.id, NOW_US)
                .await
                .unwrap()
                .is_empty()
        );
    }
}

#[tokio::test]
async fn a_shared_registration_commit_isolates_the_failing_row() {
    for store in engines().await {
        let chc = institution(&store, "C1", InstitutionKind::CommunityHealthCentre).await;
        store
            .insert_resident(&resident("已有", 5), chc.id, NOW_US, &[])
            .await
            .unwrap();
        let registered = crate::support::write_entry("resident.create");
        let batch = vec![
            (resident("甲", 1), chc.id, registered.clone()),
            (resident("重复", 5), chc.id, registered.clone()),
            (resident("乙", 3), chc.id, registered.clone()),
            (resident("无机构", 7), 9999, registered.clone()),
            // The same ID number as the first row, in the same batch.
            (resident("甲二", 1), chc.id, registered.clone()),
        ];
        let results = store
            .insert_residents_each(batch.clone(), NOW_US)
            .await
            .unwrap();
        // The two rows that committed staged their audit records, naming each
        // resident; the failed rows staged nothing.
        assert_eq!(store.audit_outbox_waiting().await.unwrap(), 2);
        let moved = store.append_entries(&[], 10).await.unwrap();
        assert_eq!(moved.moved, 2);
        let trail = store.audit_records(0, 10).await.unwrap().records;
        let named: Vec<_> = trail
            .iter()
            .map(|r| (r.entry.resource_id.clone(), r.entry.patient_id))
            .collect();
        let (first, third) = (
            results[0].as_ref().unwrap().id,
            results[2].as_ref().unwrap().id,
        );
        assert_eq!(
            named,
            vec![
                (Some(first.to_string()), Some(first)),
                (Some(third.to_string()), Some(third))
            ]
        );
        assert!(
            results[0]
                .as_ref()
                .is_ok_and(|r| r.name == "甲" && r.home_district_code == "120101")
        );
        assert!(
            matches!(results[1], Err(StoreError::Duplicate(_))),
            "{:?}: {:?}",
            store.kind(),
            results[1]
        );
        assert!(results[2].is_ok());
        assert!(matches!(results[3], Err(StoreError::MissingReference(_))));
        assert!(matches!(results[4], Err(StoreError::Duplicate(_))));
        assert_eq!(store.resident_count().await.unwrap(), 3);
        let stored = store
            .resident(results[0].as_ref().unwrap().id)
            .await
            .unwrap();
        assert_eq!(&stored, results[0].as_ref().unwrap());
    }
}

#[tokio::test]
async fn a_resident_comes_with_its_open_care_relationships() {
    for store in engines().await {
        let chc = institution(&store, "C1", InstitutionKind::CommunityHealthCentre).await;
        let upper = institution(&store, "H1", InstitutionKind::TertiaryHospital).await;
        let a = store
            .insert_resident(&resident("陈静", 1), chc.id, NOW_US, &[])
            .await
            .unwrap();
        assert_eq!(
            store.resident_with_care(a.id, NOW_US).await.unwrap(),
            (a.clone(), vec![])
        );
        store
            .open_care_relationship(a.id, upper.id, "referral", NOW_US)
            .await
            .unwrap();
        store
            .open_care_relationship(a.id, upper.id, "consultation", NOW_US)
            .await
            .unwrap();
        let closed = store
            .open_care_relationship(a.id, chc.id, "contract", NOW_US)
            .await
            .unwrap();
        store.close_care_relationship(closed, NOW_US).await.unwrap();
        assert_eq!(
            store.resident_with_care(a.id, NOW_US).await.unwrap().1,
            vec![upper.id]
        );
        assert!(matches!(
            store.resident_with_care(a.id + 100, NOW_US).await,
            Err(StoreError::NotFound)
        ));
    }
}

/// Runs statements on a test database past the store.
async fn raw(url: &str, statements: &[&str]) -> Vec<Vec<String>> {
    use sqlx::{Connection, Row};
    let mut out = Vec::new();
    macro_rules! run {
        ($conn:expr) => {{
            let mut conn = $conn;
            for sql in statements {
                let rows = sqlx::query(sqlx::AssertSqlSafe(*sql))
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
                for row in rows {
                    out.push(
                        (0..row.len())
                            .map(|i| {
                                row.try_get::<Option<String>, _>(i)
                                    .ok()
                                    .flatten()
                                    .unwrap_or_default()
                            })
                            .collect(),
                    );
                }
            }
        }};
    }
    if url.starts_with("sqlite:") {
        run!(sqlx::SqliteConnection::connect(url).await.unwrap());
    } else {
        run!(sqlx::PgConnection::connect(url).await.unwrap());
    }
    out
}

#[tokio::test]
async fn id_and_phone_numbers_are_stored_sealed_and_found_by_their_hash() {
    for (store, url) in gongti_testdb::engines_with_urls().await {
        let chc = institution(&store, "C1", InstitutionKind::CommunityHealthCentre).await;
        let r = store
            .insert_resident(&resident("封存", 9), chc.id, NOW_US, &[])
            .await
            .unwrap();
        let stored = raw(&url, &["SELECT id_number, phone FROM residents"]).await;
        assert_eq!(stored.len(), 1);
        assert!(stored[0][0].starts_with("v1.") && !stored[0][0].contains(r.id_number.as_str()));
        assert!(stored[0][1].starts_with("v1.") && !stored[0][1].contains("13812341234"));
        // Read back whole, found by the number, and kept unique by it.
        assert_eq!(store.resident(r.id).await.unwrap(), r);
        let found = store
            .residents(
                &gongti_store::ResidentFilter {
                    id_numbers: vec![r.id_number.as_str().to_owned()],
                    ..Default::default()
                },
                None,
                10,
            )
            .await
            .unwrap();
        assert_eq!(found.items, vec![r.clone()]);
        assert!(matches!(
            store
                .insert_resident(&resident("重号", 9), chc.id, NOW_US, &[])
                .await,
            Err(StoreError::Duplicate(_))
        ));
    }
}

#[tokio::test]
async fn numbers_stored_before_encryption_are_sealed_by_the_next_migration() {
    for (store, url) in gongti_testdb::engines_with_urls().await {
        let chc = institution(&store, "C1", InstitutionKind::CommunityHealthCentre).await;
        let old = resident("旧档", 13);
        raw(
            &url,
            &[&format!(
                "INSERT INTO residents (id_number, name, sex, birth_date, phone, home_institution_id, created_at_us, updated_at_us)
                 VALUES ('{}', '旧档', '{}', '1980-01-01', '13812341234', {}, 1, 1)",
                old.id_number.as_str(),
                old.sex.code(),
                chc.id
            )],
        )
        .await;
        store.migrate().await.unwrap();
        let stored = raw(&url, &["SELECT id_number, phone FROM residents"]).await;
        assert!(
            stored[0][0].starts_with("v1.") && stored[0][1].starts_with("v1."),
            "{stored:?}"
        );
        let found = store
            .residents(
                &gongti_store::ResidentFilter {
                    id_numbers: vec![old.id_number.as_str().to_owned()],
                    ..Default::default()
                },
                None,
                10,
            )
            .await
            .unwrap();
        assert_eq!(found.items.len(), 1);
        assert_eq!(
            found.items[0].phone.as_ref().unwrap().as_str(),
            "13812341234"
        );
    }
}

#[tokio::test]
async fn a_batch_of_residents_is_stored_whole_or_not_at_all() {
    for store in engines().await {
        let chc = institution(&store, "C1", InstitutionKind::CommunityHealthCentre).await;
        let none = |_: &[i64]| Vec::new();
        // Past one statement's worth of rows: the ids come back in the batch's order.
        let batch: Vec<_> = (1..=300).map(|n| (resident("批量", n), chc.id)).collect();
        let ids = store.insert_residents(&batch, NOW_US, &none).await.unwrap();
        assert_eq!(ids.len(), 300);
        for (n, id) in [(1, ids[0]), (150, ids[149]), (300, ids[299])] {
            assert_eq!(
                store.resident(id).await.unwrap().id_number,
                resident("批量", n).id_number
            );
        }
        for again in [
            // An ID number taken before, past the first statement's rows...
            vec![(resident("新", 301), chc.id), (resident("旧", 200), chc.id)],
            // ...or twice in the batch.
            vec![(resident("新", 302), chc.id), (resident("新", 302), chc.id)],
        ] {
            assert!(matches!(
                store.insert_residents(&again, NOW_US, &none).await,
                Err(StoreError::Duplicate(_))
            ));
        }
        assert_eq!(store.resident_count().await.unwrap(), 300);
    }
}

#[tokio::test]
async fn a_registration_batch_takes_moved_audit_records_out_of_the_outbox() {
    for store in engines().await {
        let chc = institution(&store, "C1", InstitutionKind::CommunityHealthCentre).await;
        let registered = crate::support::write_entry("resident.create");
        let first = vec![
            (resident("甲", 1), chc.id, registered.clone()),
            (resident("乙", 2), chc.id, registered.clone()),
        ];
        store.insert_residents_each(first, NOW_US).await.unwrap();
        assert_eq!(store.append_entries(&[], 10).await.unwrap().moved, 2);
        let second = vec![(resident("丙", 3), chc.id, registered.clone())];
        store.insert_residents_each(second, NOW_US).await.unwrap();
        // The two moved records left with the second batch's commit; its own record
        // waits for the writer.
        assert_eq!(
            store.audit_outbox_rows().await.unwrap(),
            1,
            "{:?}",
            store.kind()
        );
        assert_eq!(store.audit_outbox_waiting().await.unwrap(), 1);
        assert_eq!(store.append_entries(&[], 10).await.unwrap().moved, 1);
        assert_eq!(store.audit_records(0, 10).await.unwrap().records.len(), 3);
    }
}
