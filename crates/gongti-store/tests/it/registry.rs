use gongti_core::region::InstitutionKind;
use gongti_core::role::Role;
use gongti_store::{InstitutionFilter, NewStaff, NewTeam, StaffFilter, StoreError};

use crate::support::{NOW_US, engines, institution};

#[tokio::test]
async fn institutions_list_in_pages_and_filter() {
    for store in engines().await {
        let upper = institution(&store, "H1", InstitutionKind::TertiaryHospital).await;
        for n in 0..5 {
            let chc = institution(
                &store,
                &format!("C{n}"),
                InstitutionKind::CommunityHealthCentre,
            )
            .await;
            store
                .set_upper_institution(chc.id, Some(upper.id))
                .await
                .unwrap();
        }
        let first = store
            .institutions(&InstitutionFilter::default(), None, 4)
            .await
            .unwrap();
        assert_eq!(first.items.len(), 4);
        let second = store
            .institutions(&InstitutionFilter::default(), first.next_after, 4)
            .await
            .unwrap();
        assert_eq!(second.items.len(), 2);
        assert_eq!(second.next_after, None);

        let tied = InstitutionFilter {
            upper_institution_id: Some(upper.id),
            ..Default::default()
        };
        assert_eq!(
            store
                .institutions(&tied, None, 50)
                .await
                .unwrap()
                .items
                .len(),
            5
        );
        let by_kind = InstitutionFilter {
            kinds: vec![InstitutionKind::TertiaryHospital],
            ..Default::default()
        };
        assert_eq!(
            store.institutions(&by_kind, None, 50).await.unwrap().items,
            vec![upper.clone()]
        );
        let by_name = InstitutionFilter {
            name_prefixes: vec!["机构C".into()],
            ..Default::default()
        };
        assert_eq!(
            store
                .institutions(&by_name, None, 50)
                .await
                .unwrap()
                .items
                .len(),
            5
        );

        let dup = institution_dup(&store).await;
        assert!(
            matches!(dup, Err(StoreError::Duplicate(_))),
            "{:?}",
            store.kind()
        );
    }
}

async fn institution_dup(
    store: &gongti_store::Store,
) -> Result<gongti_store::InstitutionRecord, StoreError> {
    store
        .insert_institution(
            &gongti_store::NewInstitution {
                code: "H1".into(),
                name: "again".into(),
                kind: InstitutionKind::TertiaryHospital,
                district_code: "120101".into(),
                upper_institution_id: None,
            },
            NOW_US,
            &[],
        )
        .await
}

#[tokio::test]
async fn a_missing_district_is_a_missing_reference() {
    for store in engines().await {
        let result = store
            .insert_institution(
                &gongti_store::NewInstitution {
                    code: "X".into(),
                    name: "x".into(),
                    kind: InstitutionKind::HealthStation,
                    district_code: "999999".into(),
                    upper_institution_id: None,
                },
                NOW_US,
                &[],
            )
            .await;
        assert!(
            matches!(result, Err(StoreError::MissingReference(_))),
            "{:?}: {result:?}",
            store.kind()
        );
    }
}

#[tokio::test]
async fn staff_and_teams() {
    for store in engines().await {
        let chc = institution(&store, "C1", InstitutionKind::CommunityHealthCentre).await;
        let mut ids = vec![];
        for (name, role) in [
            ("王医生", Role::FamilyDoctor),
            ("李护士", Role::Nurse),
            ("赵公卫", Role::PublicHealthDoctor),
        ] {
            let s = store
                .insert_staff(
                    &NewStaff {
                        name: name.into(),
                        role,
                        institution_id: Some(chc.id),
                        district_code: Some("120101".into()),
                        department_id: None,
                        licence_number: Some("110120000000001".into()),
                        title: Some("主治医师".into()),
                        practice_years: 8,
                    },
                    NOW_US,
                    &[],
                )
                .await
                .unwrap();
            assert_eq!(s.role, role);
            ids.push(s.id);
        }
        let team = store
            .insert_team(
                &NewTeam {
                    institution_id: chc.id,
                    name: "王医生团队".into(),
                    doctor_staff_id: ids[0],
                    nurse_staff_id: ids[1],
                    public_health_staff_id: ids[2],
                },
                NOW_US,
                &[],
            )
            .await
            .unwrap();
        assert_eq!(store.teams(chc.id).await.unwrap(), vec![team]);
        let doctors = StaffFilter {
            roles: vec![Role::FamilyDoctor],
            ..Default::default()
        };
        assert_eq!(
            store.staff(&doctors, None, 10).await.unwrap().items.len(),
            1
        );
        let by_name = StaffFilter {
            name_prefixes: vec!["李".into()],
            ..Default::default()
        };
        assert_eq!(
            store.staff(&by_name, None, 10).await.unwrap().items[0].name,
            "李护士"
        );
    }
}

/// An institution read by id (SQLite's direct lane, PostgreSQL's pool) is the one the
/// list gives, every field with it — its upper institution and version after a change
/// included — and an id that names none is not found.
#[tokio::test]
async fn an_institution_read_by_id_is_the_one_listed() {
    for store in engines().await {
        let upper = institution(&store, "H1", InstitutionKind::TertiaryHospital).await;
        let chc = institution(&store, "C1", InstitutionKind::CommunityHealthCentre).await;
        store
            .set_upper_institution(chc.id, Some(upper.id))
            .await
            .unwrap();
        let listed = store
            .institutions(&InstitutionFilter::default(), None, 10)
            .await
            .unwrap()
            .items;
        assert_eq!(listed.len(), 2);
        for one in &listed {
            assert_eq!(&store.institution(one.id).await.unwrap(), one);
        }
        let read = store.institution(chc.id).await.unwrap();
        assert_eq!(read.upper_institution_id, Some(upper.id));
        assert_eq!(read.kind, InstitutionKind::CommunityHealthCentre);
        assert!(read.version.number > 1, "{read:?}");
        let missing = store.institution(chc.id + 1_000).await;
        assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
    }
}
