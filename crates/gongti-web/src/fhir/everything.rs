//! The shared longitudinal record (MISSION: one record across institutions):
//! `Patient/{id}/$everything` — the patient and every record of theirs the caller may
//! see, from every institution (chronic care, contracts, tasks, alerts, bookings,
//! referrals, consultations, prescriptions with their findings, review, fill and
//! settlements, insurance), paged like a search (`_count`, `_offset`, `_type`).
//! Access is decided and audited as for any read of the patient: the patient's read
//! first, then each list as its search reads it.

use axum::extract::{Path, State};
use gongti_app::Ctx;
use gongti_core::access::may_see_identifiers;
use serde_json::Value;

use super::search::{FhirQuery, Kind, Spec, searchset};
use super::{Fhir, FhirResult, base_url, chronic, fhir_err, id_param, referral};
use crate::AppState;

/// The chronic-care types listed, in the order they appear.
const CHRONIC: [&str; 7] = [
    "Condition",
    "EpisodeOfCare",
    "CareTeam",
    "Encounter",
    "Observation",
    "Task",
    "Flag",
];

pub(super) const EVERYTHING: Spec = Spec {
    params: &[("_type", Kind::Token)],
    sorts: &[],
    includes: &[],
    revincludes: &[],
};

pub(super) async fn everything(
    State(state): State<AppState>,
    Path(id): Path<String>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    q: FhirQuery,
) -> FhirResult {
    let s = q.search(&EVERYTHING)?;
    let id = id_param(&id)?;
    let wanted = |ty: &str| s.tokens_match("_type", &[("", ty)]);
    let view = state
        .app
        .read_resident(&ctx, id, None)
        .await
        .map_err(fhir_err)?;
    let mut all: Vec<Value> = Vec::new();
    if wanted("Patient") {
        all.push(super::patient(
            &view.record,
            may_see_identifiers(view.basis),
        ));
    }
    let none = FhirQuery::empty().search(&chronic::NO_FILTER)?;
    for ty in CHRONIC.into_iter().filter(|t| wanted(t)) {
        let found = chronic::list(ty, &state, &ctx, &none, id).await?;
        all.extend(found.into_iter().map(|(_, v)| v));
    }
    all.extend(
        referral::patient_records(&state, &ctx, id)
            .await?
            .into_iter()
            .filter(|v| wanted(v["resourceType"].as_str().unwrap_or(""))),
    );
    all.extend(
        super::pharmacy::patient_records(&state, &ctx, id)
            .await?
            .into_iter()
            .filter(|v| wanted(v["resourceType"].as_str().unwrap_or(""))),
    );
    let page = s.page_of(all);
    Ok(Fhir(searchset(
        &base_url(&state),
        &format!("Patient/{id}/$everything"),
        &s,
        page,
        Vec::new(),
    )))
}
