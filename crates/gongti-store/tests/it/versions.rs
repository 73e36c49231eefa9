//! Versions of kept records: an update keeps the superseded row and counts a new
//! version; an insert or an update that changes nothing does not.

use gongti_core::region::InstitutionKind;
use gongti_store::Kept;

use crate::support::{NOW_US, engines, institution, resident};

#[tokio::test]
async fn an_update_keeps_the_version_it_supersedes() {
    for store in engines().await {
        let kind = store.kind();
        let chc = institution(&store, "C1", InstitutionKind::CommunityHealthCentre).await;
        let first = store
            .insert_resident(&resident("张三", 11), chc.id, NOW_US, &[])
            .await
            .unwrap();
        assert_eq!(first.version.number, 1, "{kind:?}");
        let read = store.resident(first.id).await.unwrap();
        assert_eq!(read.version.number, 1, "{kind:?}");
        assert_eq!(read.version.since_us, NOW_US, "{kind:?}");

        let second = store
            .update_resident(first.id, &resident("张三丰", 11), NOW_US + 10, None, &[])
            .await
            .unwrap();
        let third = store
            .update_resident(first.id, &resident("张无忌", 11), NOW_US + 20, Some(2), &[])
            .await
            .unwrap();
        assert_eq!(
            (second.version.number, third.version.number),
            (2, 3),
            "{kind:?}"
        );
        assert!(third.version.since_us > second.version.since_us, "{kind:?}");

        let marks = store
            .version_marks(Kept::Residents, first.id, third.version)
            .await
            .unwrap();
        let numbers: Vec<i64> = marks.iter().map(|m| m.number).collect();
        assert_eq!(numbers, [3, 2, 1], "{kind:?}");
        assert_eq!(marks[0].until_us, None);
        assert_eq!(marks[2].since_us, NOW_US, "{kind:?}");
        // Each superseded version ended when the next began.
        assert_eq!(marks[1].until_us, Some(marks[0].since_us), "{kind:?}");
        assert_eq!(marks[2].until_us, Some(marks[1].since_us), "{kind:?}");

        let one = store.resident_version(first.id, 1).await.unwrap().unwrap();
        assert_eq!(one.name, "张三", "{kind:?}");
        assert_eq!(one.version.number, 1, "{kind:?}");
        assert_eq!(one.version.since_us, NOW_US, "{kind:?}");
        // Sealed numbers open from the kept row as from the current one.
        assert_eq!(one.id_number, first.id_number, "{kind:?}");
        assert_eq!(one.home_district_code, "120101", "{kind:?}");
        let two = store.resident_version(first.id, 2).await.unwrap().unwrap();
        assert_eq!(
            (two.name.as_str(), two.version),
            ("张三丰", second.version),
            "{kind:?}"
        );
        // The current version is the row itself, not a kept one; no version 4.
        assert!(store.resident_version(first.id, 3).await.unwrap().is_none());
        assert!(store.resident_version(first.id, 4).await.unwrap().is_none());
        // An update that expects a version the record has left is refused, unwritten.
        let stale = store
            .update_resident(first.id, &resident("张翠山", 11), NOW_US + 30, Some(2), &[])
            .await;
        assert!(
            matches!(stale, Err(gongti_store::StoreError::Changed(_))),
            "{kind:?}"
        );
        assert_eq!(
            store.resident(first.id).await.unwrap().name,
            "张无忌",
            "{kind:?}"
        );
    }
}
