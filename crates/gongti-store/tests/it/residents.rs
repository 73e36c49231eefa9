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
            name_prefix: Some("张".into()),
            ..Default::default()
        };
        let page = store.residents(&zhang, None, 1).await.unwrap();
        assert_eq!(page.items[0].name, "张伟");
        let rest = store.residents(&zhang, page.next_after, 1).await.unwrap();
        assert_eq!(rest.items[0].name, "张秀英");
        assert_eq!(rest.next_after, None);

        let target = resident("王芳", 5);
        let by_id = ResidentFilter {
            id_number: Some(target.id_number.as_str().into()),
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
        ];
        let results = store.insert_residents_each(&batch, NOW_US).await.unwrap();
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
