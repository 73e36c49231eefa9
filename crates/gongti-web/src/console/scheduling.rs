//! Schedules and bookings in the console (DOMAIN.md §3): the hospital's schedule
//! management (publish, capacity, reserved share), the slots of a schedule, and a
//! resident's booking page — upcoming clinics with free places, one tap to book,
//! cancel — laid out for a phone. Forms carry the session's CSRF token.

use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use gongti_app::AppError;
use gongti_app::scheduling::{BookRequest, PublishSchedule};
use gongti_core::resident::{FieldProblem, Problem};
use gongti_core::role::Role;
use gongti_core::scheduling::{BookingAction, Pool, ReserveParams, Session};
use gongti_store::{ScheduleFilter, ScheduleRecord};
use maud::{Markup, html};
use serde::Deserialize;
use time::Duration;

use super::{Console, Lang, csrf_ok, error_box, error_page, layout};
use crate::views::local;
use crate::{AppState, PAGE_SIZE_DEFAULT};

pub(super) fn routes() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/schedules", get(schedules_page).post(publish))
        .route("/schedules/policy", post(set_policy))
        .route("/schedules/{id}", get(schedule_page))
        .route("/schedules/{id}/capacity", post(capacity))
        .route("/schedules/{id}/cancel", post(cancel_clinic))
        .route("/residents/{id}/bookings", get(booking_page).post(book))
        .route("/bookings/{id}/cancel", post(cancel))
}

fn session_label(l: Lang, s: Session) -> &'static str {
    match s {
        Session::Morning => l.t("上午", "Morning"),
        Session::Afternoon => l.t("下午", "Afternoon"),
    }
}

/// Where a form goes next: on to `to` when the change was made, or the error shown.
fn after<T>(c: &Console, done: Result<T, AppError>, to: impl FnOnce(T) -> String) -> Response {
    let l = c.lang;
    match done {
        Ok(v) => Redirect::to(&to(v)).into_response(),
        Err(e) => error_page(c, l.t("排班", "Schedules"), &e),
    }
}

fn schedule_rows(l: Lang, items: &[ScheduleRecord]) -> Markup {
    html! {
        table #schedules {
            tr {
                th { (l.t("日期", "Day")) } th { (l.t("时段", "Session")) } th { (l.t("医院 · 科室", "Hospital · department")) }
                th { (l.t("医生/门诊", "Doctor / clinic")) } th { (l.t("家庭医生预留（余/总）", "Reserved (free/all)")) } th { (l.t("公众号源（余/总）", "Public (free/all)")) }
            }
            @for s in items {
                tr {
                    td { a href=(format!("/schedules/{}", s.id)) { (s.day) } }
                    td { (session_label(l, s.session)) }
                    td { (s.institution_name) " · " (s.department_name) }
                    td { (s.doctor_name.as_deref().or(s.clinic_name.as_deref()).unwrap_or("")) }
                    td { (s.reserved_free) " / " (s.reserved_slots) }
                    td { (s.public_free) " / " (s.public_slots) }
                }
            }
        }
    }
}

async fn schedules_page(State(state): State<AppState>, c: Console) -> Response {
    render_schedules(&state, &c, None).await
}

/// A form as it was sent, to show again with its error: which form, and its fields.
struct Entered<'a> {
    form: &'a str,
    error: AppError,
    values: &'a [(String, String)],
}

/// The schedules page; after a refused form, that form again as it was filled in,
/// with what was wrong above it, and the answer's status the error's own.
async fn render_schedules(state: &AppState, c: &Console, entered: Option<Entered<'_>>) -> Response {
    let l = c.lang;
    let today = state.app.today();
    let admin = c.session.principal.role == Role::InstitutionAdmin;
    let own = c.session.principal.institution_id;
    let filter = ScheduleFilter {
        institution_id: if admin { own } else { None },
        department_id: None,
        from_day: today,
        to_day: today + Duration::days(14),
    };
    let page = state.app.schedules(filter, None, 200).await;
    let departments = match (admin, own) {
        (true, Some(id)) => state.app.store().departments(id).await.unwrap_or_default(),
        _ => Vec::new(),
    };
    let csrf = c.session.csrf.clone().unwrap_or_default();
    // A field's value: as sent when this form was refused, else its default.
    let v = |form: &str, name: &str, default: String| match &entered {
        Some(e) if e.form == form => e
            .values
            .iter()
            .find(|(k, _)| k == name)
            .map_or(default, |(_, v)| v.clone()),
        _ => default,
    };
    let error_of = |form: &str| match &entered {
        Some(e) if e.form == form => Some(error_box(l, &e.error)),
        _ => None,
    };
    let chosen_department = |form: &str| v(form, "department_id", String::new());
    let body = html! {
        h1 { (l.t("排班与号源", "Schedules and slots")) }
        @if admin && !departments.is_empty() {
            div.card {
                h2 { (l.t("发布排班", "Publish a schedule")) }
                @if let Some(e) = error_of("publish") { (e) }
                form.search #publish method="post" action="/schedules" {
                    (crate::console::form_tokens(&csrf))
                    select name="department_id" aria-label=(l.t("科室", "Department")) { @for d in &departments { option value=(d.id) selected[chosen_department("publish") == d.id.to_string()] { (d.name) } } }
                    input name="clinic_name" aria-label=(l.t("门诊名称", "Clinic name")) placeholder=(l.t("门诊名称", "Clinic name")) value=(v("publish", "clinic_name", String::new())) required;
                    input type="date" name="day" aria-label=(l.t("日期", "Day")) value=(v("publish", "day", (today + Duration::days(1)).to_string())) required;
                    @let session = v("publish", "session", "am".into());
                    select name="session" aria-label=(l.t("时段", "Session")) { option value="am" selected[session == "am"] { (l.t("上午", "Morning")) } option value="pm" selected[session == "pm"] { (l.t("下午", "Afternoon")) } }
                    input type="number" name="slot_count" aria-label=(l.t("号源数", "Slots")) min="1" max="200" value=(v("publish", "slot_count", "30".into())) required;
                    button.primary type="submit" { (l.t("发布", "Publish")) }
                }
                h2 { (l.t("家庭医生预留比例", "Share held back for family doctors")) }
                @if let Some(e) = error_of("policy") { (e) }
                form.search #policy method="post" action="/schedules/policy" {
                    (crate::console::form_tokens(&csrf))
                    select name="department_id" aria-label=(l.t("科室", "Department")) { option value="" { (l.t("全院", "Whole hospital")) } @for d in &departments { option value=(d.id) selected[chosen_department("policy") == d.id.to_string()] { (d.name) } } }
                    label { input type="number" name="reserved_percent" min="0" max="100" step="0.1" value=(v("policy", "reserved_percent", "10".into())); " %" }
                    label { (l.t("就诊前 ", "release ")) input type="number" name="release_days" min="0" max="60" value=(v("policy", "release_days", "2".into())); (l.t(" 天释放给公众", " days before the visit")) }
                    button type="submit" { (l.t("保存", "Save")) }
                }
            }
        }
        @match page {
            Ok(p) => {
                (schedule_rows(l, &p.items))
                @if p.items.is_empty() { p.muted { (l.t("未来两周暂无排班", "No schedules in the next two weeks")) } }
            }
            Err(e) => (error_box(l, &e)),
        }
    };
    let status = entered
        .as_ref()
        .map_or(StatusCode::OK, |e| super::status_of(&e.error));
    (status, layout(c, l.t("排班", "Schedules"), body)).into_response()
}

/// A form's fields by name.
fn field<'a>(values: &'a [(String, String)], name: &str) -> &'a str {
    values
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.trim())
}

/// A number field, or the problem with it.
fn number<T: std::str::FromStr>(
    values: &[(String, String)],
    name: &'static str,
    problems: &mut Vec<FieldProblem>,
) -> Option<T> {
    match field(values, name) {
        "" => {
            problems.push(FieldProblem::new(name, Problem::Required));
            None
        }
        text => {
            let n = text.parse().ok();
            if n.is_none() {
                problems.push(FieldProblem::new(name, Problem::Malformed));
            }
            n
        }
    }
}

async fn publish(
    State(state): State<AppState>,
    c: Console,
    Form(values): Form<Vec<(String, String)>>,
) -> Response {
    if !csrf_ok(&c, field(&values, "csrf")) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let mut problems = Vec::new();
    let department_id = number::<i64>(&values, "department_id", &mut problems);
    let slot_count = number::<u32>(&values, "slot_count", &mut problems);
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let day = match time::Date::parse(field(&values, "day"), &fmt) {
        Ok(d) => Some(d),
        Err(_) => {
            problems.push(FieldProblem::new("day", Problem::Malformed));
            None
        }
    };
    let done = match (department_id, slot_count, day) {
        (Some(department_id), Some(slot_count), Some(day)) if problems.is_empty() => {
            let p = PublishSchedule {
                department_id,
                doctor_staff_id: None,
                clinic_name: Some(field(&values, "clinic_name").to_owned())
                    .filter(|n| !n.is_empty()),
                day,
                session: Session::parse(field(&values, "session")).unwrap_or(Session::Morning),
                starts: None,
                ends: None,
                slot_count,
            };
            state.app.publish_schedule(&c.ctx, p).await
        }
        _ => Err(AppError::Invalid(problems)),
    };
    match done {
        Ok(s) => Redirect::to(&format!("/schedules/{}", s.id)).into_response(),
        Err(error) => {
            let entered = Entered {
                form: "publish",
                error,
                values: &values,
            };
            render_schedules(&state, &c, Some(entered)).await
        }
    }
}

async fn set_policy(
    State(state): State<AppState>,
    c: Console,
    Form(values): Form<Vec<(String, String)>>,
) -> Response {
    if !csrf_ok(&c, field(&values, "csrf")) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let mut problems = Vec::new();
    let percent = number::<f64>(&values, "reserved_percent", &mut problems);
    let release_days = number::<u16>(&values, "release_days", &mut problems);
    let done = match (percent, release_days) {
        (Some(percent), Some(release_days)) if problems.is_empty() => {
            let params = ReserveParams {
                reserved_permille: gongti_core::scheduling::permille_from_percent(percent),
                release_days,
            };
            state
                .app
                .set_reserve_policy(&c.ctx, field(&values, "department_id").parse().ok(), params)
                .await
        }
        _ => Err(AppError::Invalid(problems)),
    };
    match done {
        Ok(()) => Redirect::to("/schedules").into_response(),
        Err(error) => {
            let entered = Entered {
                form: "policy",
                error,
                values: &values,
            };
            render_schedules(&state, &c, Some(entered)).await
        }
    }
}

async fn schedule_page(State(state): State<AppState>, c: Console, Path(id): Path<i64>) -> Response {
    let l = c.lang;
    let (schedule, slots) = match (
        state.app.schedule(id).await,
        state.app.schedule_slots(id).await,
    ) {
        (Ok(s), Ok(slots)) => (s, slots),
        (Err(e), _) | (_, Err(e)) => {
            return error_page(&c, l.t("排班", "Schedule"), &e);
        }
    };
    let manager = c.session.principal.role == Role::InstitutionAdmin
        && c.session.principal.institution_id == Some(schedule.institution_id);
    let csrf = c.session.csrf.clone().unwrap_or_default();
    let body = html! {
        h1 { (schedule.institution_name) " · " (schedule.department_name) " · " (schedule.day) " " (session_label(l, schedule.session)) }
        p { (l.t("家庭医生预留 ", "Reserved for family doctors ")) (schedule.params.reserved_permille as f64 / 10.0) "%"
            (l.t("，就诊前 ", "; released ")) (schedule.params.release_days) (l.t(" 天未约出的预留号释放给公众", " days before the visit if still free")) }
        @if manager {
            form.search method="post" action=(format!("/schedules/{id}/capacity")) {
                (crate::console::form_tokens(&csrf))
                label { (l.t("号源数 ", "Slots ")) input type="number" name="slot_count" min="1" max="200" value=(schedule.slot_count()); }
                button type="submit" { (l.t("调整号源（不会取消已约患者）", "Change (booked patients are kept)")) }
            }
            form.search method="post" action=(format!("/schedules/{id}/cancel")) {
                (crate::console::form_tokens(&csrf))
                input name="reason" placeholder=(l.t("停诊原因", "Reason for cancelling the clinic")) required;
                button type="submit" { (l.t("停诊（已约患者逐一列出以便通知）", "Cancel the clinic (booked patients listed to contact)")) }
            }
        }
        table #slots {
            tr { th { (l.t("时间", "Time")) } th { (l.t("号源池", "Pool")) } th { (l.t("状态", "Status")) } }
            @for v in &slots {
                tr {
                    td { (local(v.slot.starts_at_us)) }
                    td { @if v.slot.pool == Pool::Reserved { (l.t("家庭医生预留", "Family doctors")) @if v.open_to_public { " · " (l.t("已释放", "released")) } } @else { (l.t("公众", "Public")) } }
                    td { (match v.slot.status.as_str() { "free" => l.t("可约", "free"), _ => l.t("已约", "booked") }) }
                }
            }
        }
    };
    layout(&c, l.t("排班", "Schedule"), body).into_response()
}

#[derive(Deserialize)]
struct CancelClinicForm {
    csrf: String,
    reason: String,
}

async fn cancel_clinic(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Form(f): Form<CancelClinicForm>,
) -> Response {
    if !csrf_ok(&c, &f.csrf) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let l = c.lang;
    match state.app.cancel_schedule(&c.ctx, id, &f.reason).await {
        Ok(bookings) => layout(
            &c,
            l.t("停诊", "Clinic cancelled"),
            html! {
                h1 { (l.t("已停诊：请通知以下患者", "Clinic cancelled: contact these patients")) }
                table #cancelled {
                    tr { th { (l.t("患者", "Patient")) } th { (l.t("原就诊时间", "Was booked for")) } }
                    @for b in &bookings {
                        tr { td { a href=(format!("/residents/{}", b.resident_id)) { (b.resident_name) } } td { (local(b.starts_at_us)) } }
                    }
                }
                @if bookings.is_empty() { p.muted { (l.t("无已约患者", "Nobody was booked")) } }
                p { a href="/schedules" { (l.t("← 排班", "← Schedules")) } }
            },
        )
        .into_response(),
        Err(e) => error_page(&c, l.t("排班", "Schedule"), &e),
    }
}

#[derive(Deserialize)]
struct CapacityForm {
    csrf: String,
    slot_count: u32,
}

async fn capacity(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Form(f): Form<CapacityForm>,
) -> Response {
    if !csrf_ok(&c, &f.csrf) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let done = state.app.change_capacity(&c.ctx, id, f.slot_count).await;
    after(&c, done, |_| format!("/schedules/{id}"))
}

/// Every hospital's clinics of today and the next two weeks (at most 200).
pub(super) async fn next_two_weeks(state: &AppState) -> Vec<ScheduleRecord> {
    let today = state.app.today();
    let filter = ScheduleFilter {
        institution_id: None,
        department_id: None,
        from_day: today,
        to_day: today + Duration::days(14),
    };
    state
        .app
        .schedules(filter, None, 200)
        .await
        .map(|p| p.items)
        .unwrap_or_default()
}

/// A resident's booking page: their bookings, and the clinics of the next two weeks
/// with a place they may take, one tap each.
async fn booking_page(State(state): State<AppState>, c: Console, Path(id): Path<i64>) -> Response {
    booking_html(&state, &c, id, None).await
}

async fn booking_html(state: &AppState, c: &Console, id: i64, error: Option<AppError>) -> Response {
    let l = c.lang;
    let bookings = match state
        .app
        .resident_bookings(&c.ctx, id, None, PAGE_SIZE_DEFAULT)
        .await
    {
        Ok(p) => p.items,
        Err(e) => return error_page(c, l.t("预约挂号", "Bookings"), &e),
    };
    let open = next_two_weeks(state).await;
    let family_doctor = c.session.principal.role == Role::FamilyDoctor;
    let csrf = c.session.csrf.clone().unwrap_or_default();
    let body = html! {
        h1 { (l.t("预约挂号", "Bookings")) }
        @if let Some(e) = &error { (error_box(l, e)) }
        @if !bookings.is_empty() {
            div.card {
                h2 { (l.t("已有预约", "Booked")) }
                @for b in &bookings {
                    div.booking {
                        p { strong { (local(b.starts_at_us)) } " · " (b.institution_name) " · " (b.department_name) " · " ({ let (zh, en) = crate::wording::booking_status(b.status); l.t(zh, en) }) }
                        @if b.status == gongti_core::scheduling::BookingStatus::Booked {
                            form.refer method="post" action=(format!("/bookings/{}/cancel", b.id)) {
                                (crate::console::form_tokens(&csrf))
                                input type="hidden" name="resident_id" value=(id);
                                button type="submit" { (l.t("取消预约", "Cancel")) }
                            }
                        }
                    }
                }
            }
        }
        h2 { (l.t("可预约门诊（两周内）", "Clinics open in the next two weeks")) }
        @for s in open.iter().filter(|s| s.public_free > 0 || (family_doctor && s.reserved_free > 0)) {
            div.card.slotcard {
                p { strong { (s.day) " " (session_label(l, s.session)) } br; (s.institution_name) " · " (s.department_name) " · " (s.clinic_name.as_deref().or(s.doctor_name.as_deref()).unwrap_or("")) }
                @if s.public_free > 0 {
                    form.refer method="post" action=(format!("/residents/{id}/bookings")) {
                        (crate::console::form_tokens(&csrf))
                        input type="hidden" name="schedule_id" value=(s.id);
                        input type="hidden" name="pool" value="public";
                        button.primary type="submit" { (l.t("预约（余 ", "Book (")) (s.public_free) (l.t("）", " left)")) }
                    }
                }
                @if family_doctor && s.reserved_free > 0 {
                    form.refer method="post" action=(format!("/residents/{id}/bookings")) {
                        (crate::console::form_tokens(&csrf))
                        input type="hidden" name="schedule_id" value=(s.id);
                        input type="hidden" name="pool" value="reserved";
                        button type="submit" { (l.t("用家庭医生预留号（余 ", "Reserved slot (")) (s.reserved_free) (l.t("）", " left)")) }
                    }
                }
            }
        }
    };
    layout(c, l.t("预约挂号", "Bookings"), body).into_response()
}

#[derive(Deserialize)]
struct BookForm {
    csrf: String,
    schedule_id: i64,
    pool: String,
}

async fn book(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Form(f): Form<BookForm>,
) -> Response {
    if !csrf_ok(&c, &f.csrf) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let request = BookRequest {
        schedule_id: f.schedule_id,
        slot_id: None,
        resident_id: id,
        via: Pool::parse(&f.pool).unwrap_or(Pool::Public),
        note: None,
    };
    match state.app.book(&c.ctx, request).await {
        Ok(_) => Redirect::to(&format!("/residents/{id}/bookings")).into_response(),
        Err(e) => booking_html(&state, &c, id, Some(e)).await,
    }
}

#[derive(Deserialize)]
struct CancelForm {
    csrf: String,
    resident_id: i64,
}

async fn cancel(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Form(f): Form<CancelForm>,
) -> Response {
    if !csrf_ok(&c, &f.csrf) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    match state
        .app
        .change_booking(&c.ctx, id, BookingAction::Cancel)
        .await
    {
        Ok(_) => Redirect::to(&format!("/residents/{}/bookings", f.resident_id)).into_response(),
        Err(e) => booking_html(&state, &c, f.resident_id, Some(e)).await,
    }
}
