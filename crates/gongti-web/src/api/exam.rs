//! The cloud examination over the JSON API: the signed-in clinician's open critical
//! values (危急值, DOMAIN.md §8) — laboratory values past their limits and readers'
//! critical findings — escalated ones marked.

use axum::Json;
use axum::extract::State;
use axum::routing::get;
use gongti_app::Ctx;
use gongti_app::exam::CriticalView;
use serde_json::{Value, json};

use crate::error::ApiResult;
use crate::{AppState, views};

pub(super) fn routes() -> axum::Router<AppState> {
    axum::Router::new().route("/worklists/critical-values", get(critical_values))
}

pub(crate) fn critical_value(c: &CriticalView) -> Value {
    let r = &c.record;
    json!({
        "id": r.id,
        "resident_id": r.resident_id,
        "resident_name": c.resident_name,
        "institution_id": r.institution_id,
        "lab_result_id": r.lab_result_id,
        "exam_order_id": r.exam_order_id,
        "code": r.code,
        "display": r.display,
        "value": r.value_text,
        "unit": r.unit,
        "side": r.side.map_or("finding", |s| s.code()),
        "status": r.status.code(),
        "detected_at": views::utc(r.detected_at_us),
        "confirm_by": views::utc(r.due_at_us),
        "escalated_at": r.escalated_at_us.map(views::utc),
        "confirmed_at": r.confirmed_at_us.map(views::utc),
        "read_back": r.read_back,
        "ordering_doctor": c.ordering_doctor.as_ref().map(|(id, name)| json!({"staff_id": id, "name": name})),
        "family_doctor": c.family_doctor.as_ref().map(|(id, name)| json!({"staff_id": id, "name": name})),
    })
}

async fn critical_values(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
) -> ApiResult<Json<Value>> {
    let list = state.app.critical_values(&ctx).await?;
    Ok(Json(
        json!({"items": list.iter().map(critical_value).collect::<Vec<_>>()}),
    ))
}
