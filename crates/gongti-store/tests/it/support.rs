//! Shared fixtures for the contract suite.

use gongti_core::region::InstitutionKind;
use gongti_core::resident::{ResidentForm, ValidResident, validate};
use gongti_store::{InstitutionRecord, NewInstitution, Store};
use time::macros::date;

pub use gongti_testdb::engines;

pub const NOW_US: i64 = 1_795_000_000_000_000;

pub async fn institution(store: &Store, code: &str, kind: InstitutionKind) -> InstitutionRecord {
    store
        .upsert_district("120101", "和平区", "120100")
        .await
        .unwrap();
    store
        .insert_institution(
            &NewInstitution {
                code: code.into(),
                name: format!("机构{code}"),
                kind,
                district_code: "120101".into(),
                upper_institution_id: None,
            },
            NOW_US,
            &[],
        )
        .await
        .unwrap()
}

/// The audit record of a write, as a use case hands it to the store (the store names
/// the row it creates).
pub fn write_entry(action: &str) -> gongti_core::audit::AuditEntry {
    gongti_core::audit::AuditEntry {
        at_us: NOW_US,
        actor_user_id: Some(1),
        actor_username: "doctor".into(),
        role: Some("family_doctor".into()),
        institution_id: Some(1),
        action: action.into(),
        resource_type: "Resident".into(),
        resource_id: None,
        patient_id: None,
        reason: None,
        outcome: gongti_core::audit::Outcome::Ok,
        detail: None,
        request_id: None,
    }
}

/// A valid resident with the given sequence number in the ID number.
pub fn resident(name: &str, sequence: u32) -> ValidResident {
    let body = format!("12010119800101{sequence:03}");
    let id = format!(
        "{body}{}",
        gongti_core::id_number::check_character(body.as_bytes())
    );
    validate(
        &ResidentForm {
            name: name.into(),
            id_number: id,
            phone: Some("13812341234".into()),
            ..Default::default()
        },
        date!(2026 - 11 - 22),
    )
    .unwrap()
}
