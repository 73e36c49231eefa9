//! Contracts: plans are written whole or not at all, one active contract per
//! resident holds under the database's own constraint, and the renewal worklist pages.

use gongti_core::contract::{Close, ContractStatus, FeeSplit, NewTerm, term_end};
use gongti_core::region::InstitutionKind;
use gongti_core::role::Role;
use gongti_store::{
    ContractWrite, NewPackage, NewStaff, NewTeam, OpenContract, PackageRecord, Store, StoreError,
};
use time::Date;
use time::macros::date;

use crate::support::{NOW_US, engines, institution, resident};

const BASIC: FeeSplit = FeeSplit {
    insurance_fen: 6_000,
    public_health_fen: 4_000,
    resident_fen: 2_000,
};

async fn team(store: &Store, institution_id: i64, name: &str) -> i64 {
    let mut ids = Vec::new();
    for role in [Role::FamilyDoctor, Role::Nurse, Role::PublicHealthDoctor] {
        let s = store
            .insert_staff(
                &NewStaff {
                    name: format!("{name}{}", role.code()),
                    role,
                    institution_id: Some(institution_id),
                    district_code: None,
                    department_id: None,
                    licence_number: None,
                    title: None,
                    practice_years: 5,
                },
                NOW_US,
                &[],
            )
            .await
            .unwrap();
        ids.push(s.id);
    }
    store
        .insert_team(
            &NewTeam {
                institution_id,
                name: name.into(),
                doctor_staff_id: ids[0],
                nurse_staff_id: ids[1],
                public_health_staff_id: ids[2],
            },
            NOW_US,
            &[],
        )
        .await
        .unwrap()
        .id
}

async fn basic_package(store: &Store) -> PackageRecord {
    store
        .insert_package(
            &NewPackage {
                code: "basic".into(),
                name: "基础包".into(),
                basic: true,
                split: BASIC,
            },
            NOW_US,
        )
        .await
        .unwrap()
}

fn open(team_id: i64, institution_id: i64, start_on: Date, package_id: i64) -> OpenContract {
    OpenContract {
        term: NewTerm {
            team_id,
            start_on,
            end_on: term_end(start_on),
            previous_id: None,
        },
        institution_id,
        packages: vec![(package_id, BASIC)],
        signed_by_staff_id: 1,
        care_until_us: NOW_US + 1_000_000,
    }
}

fn sign(resident_id: i64, o: OpenContract) -> ContractWrite {
    ContractWrite {
        resident_id,
        close: Vec::new(),
        end_reason: None,
        open: Some(o),
        now_us: NOW_US,
    }
}

#[tokio::test]
async fn a_contract_plan_is_written_whole_with_its_care_relationship() {
    for store in engines().await {
        let chc = institution(&store, "C1", InstitutionKind::CommunityHealthCentre).await;
        let team_a = team(&store, chc.id, "一组").await;
        let team_b = team(&store, chc.id, "二组").await;
        let pkg = basic_package(&store).await;
        assert_eq!(store.packages().await.unwrap(), vec![pkg.clone()]);
        let r = store
            .insert_resident(&resident("王芳", 1), chc.id, NOW_US, &[])
            .await
            .unwrap();

        let id = store
            .apply_contract_plan(
                &sign(r.id, open(team_a, chc.id, date!(2026 - 01 - 10), pkg.id)),
                &[],
            )
            .await
            .unwrap()
            .unwrap();
        let c = store.contract(id).await.unwrap();
        assert_eq!(
            (
                c.status,
                c.team_name.as_str(),
                c.end_on,
                c.split.total_fen()
            ),
            (
                ContractStatus::Active,
                "一组",
                date!(2027 - 01 - 09),
                12_000
            )
        );
        assert_eq!(c.package_codes, ["basic"]);
        assert_eq!(
            store.care_institutions(r.id, NOW_US).await.unwrap(),
            [chc.id]
        );
        // The relationship ends with the term.
        assert!(
            store
                .care_institutions(r.id, NOW_US + 1_000_000)
                .await
                .unwrap()
                .is_empty()
        );

        // A second active contract is refused by the database, and nothing of the
        // failed plan stays (its care relationship is rolled back too).
        let again = store
            .apply_contract_plan(
                &sign(r.id, open(team_b, chc.id, date!(2026 - 02 - 01), pkg.id)),
                &[],
            )
            .await;
        assert!(matches!(again, Err(StoreError::Duplicate(_))), "{again:?}");
        assert_eq!(
            store.contracts_of_resident(r.id, 10).await.unwrap().len(),
            1
        );

        // A plan decided on a stale status changes nothing.
        let stale = ContractWrite {
            close: vec![Close {
                contract_id: id,
                from: ContractStatus::Renewed,
                to: ContractStatus::Terminated,
                ended_on: Some(date!(2026 - 03 - 01)),
            }],
            ..sign(r.id, open(team_b, chc.id, date!(2026 - 03 - 01), pkg.id))
        };
        assert!(matches!(
            store.apply_contract_plan(&stale, &[]).await,
            Err(StoreError::Changed(_))
        ));
        assert_eq!(
            store.contract(id).await.unwrap().status,
            ContractStatus::Active
        );

        // Terminating closes the care relationship at once.
        let end = ContractWrite {
            resident_id: r.id,
            close: vec![Close {
                contract_id: id,
                from: ContractStatus::Active,
                to: ContractStatus::Terminated,
                ended_on: Some(date!(2026 - 03 - 01)),
            }],
            end_reason: Some("moved".into()),
            open: None,
            now_us: NOW_US,
        };
        assert_eq!(store.apply_contract_plan(&end, &[]).await.unwrap(), None);
        let ended = store.contract(id).await.unwrap();
        assert_eq!(
            (ended.status, ended.ended_on, ended.end_reason.as_deref()),
            (
                ContractStatus::Terminated,
                Some(date!(2026 - 03 - 01)),
                Some("moved")
            )
        );
        assert!(
            store
                .care_institutions(r.id, NOW_US)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(store.contracts_in_play(r.id).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn the_expiring_worklist_is_ordered_by_last_day_and_pages() {
    for store in engines().await {
        let chc = institution(&store, "C1", InstitutionKind::CommunityHealthCentre).await;
        let team_a = team(&store, chc.id, "一组").await;
        let team_b = team(&store, chc.id, "二组").await;
        let pkg = basic_package(&store).await;
        // Terms starting on these days end the day before, a year later.
        let starts = [
            date!(2026 - 01 - 20),
            date!(2026 - 01 - 05),
            date!(2026 - 01 - 05),
            date!(2026 - 03 - 01),
            date!(2026 - 01 - 12),
        ];
        for (i, start) in starts.iter().enumerate() {
            let r = store
                .insert_resident(
                    &resident(&format!("居民{i}"), i as u32 + 1),
                    chc.id,
                    NOW_US,
                    &[],
                )
                .await
                .unwrap();
            let t = if i == 4 { team_b } else { team_a };
            store
                .apply_contract_plan(&sign(r.id, open(t, chc.id, *start, pkg.id)), &[])
                .await
                .unwrap();
        }
        let through = date!(2027 - 01 - 31);
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = store
                .expiring_contracts(chc.id, None, through, after, 2)
                .await
                .unwrap();
            seen.extend(
                page.items
                    .iter()
                    .map(|c| (c.end_on, c.resident_name.clone())),
            );
            match page.next_after {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(
            seen,
            [
                (date!(2027 - 01 - 04), "居民1".to_owned()),
                (date!(2027 - 01 - 04), "居民2".into()),
                (date!(2027 - 01 - 11), "居民4".into()),
                (date!(2027 - 01 - 19), "居民0".into()),
            ]
        );
        let team_only = store
            .expiring_contracts(chc.id, Some(team_b), through, None, 10)
            .await
            .unwrap();
        assert_eq!(team_only.items.len(), 1);
    }
}
