//! Referrals in the console (DOMAIN.md §3): the one-click "refer" button (from an
//! alert, a follow-up, or the patient's page), the referral's page with its summary,
//! timeline and the steps the viewer may take, and the inbox / sent / returning
//! lists. Forms carry the session's CSRF token.

use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use gongti_app::AppError;
use gongti_app::contracts::ContractAction;
use gongti_app::referrals::{ReferRequest, ReferralSource, ReferralView};
use gongti_core::chronic::Disease;
use gongti_core::referral::{ReferralStatus, ReferralStep, Urgency};
use gongti_core::scheduling::Pool;
use gongti_store::TeamRecord;
use maud::{Markup, html};
use serde::Deserialize;

use super::{Console, Lang, error_box, error_page, layout, pager, status_of};
use crate::extract::decode_cursor;
use crate::{AppState, PAGE_SIZE_DEFAULT, wording};

pub(super) fn routes() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/referrals", get(boxes).post(refer))
        .route("/referrals/{id}", get(referral_page))
        .route("/referrals/{id}/step", post(take_step))
}

pub(crate) fn status_label(l: Lang, s: ReferralStatus) -> &'static str {
    let (zh, en) = match s {
        ReferralStatus::Requested => ("已申请", "Requested"),
        ReferralStatus::Accepted => ("已接收", "Accepted"),
        ReferralStatus::Rejected => ("已拒绝", "Rejected"),
        ReferralStatus::Arrived => ("已到院", "Arrived"),
        ReferralStatus::Seen => ("已接诊", "Seen"),
        ReferralStatus::Returned => ("已下转", "Referred back"),
        ReferralStatus::Cancelled => ("已撤销", "Cancelled"),
    };
    l.t(zh, en)
}

/// A timeline step's name (the stored step codes of `referral_events`).
pub(crate) fn step_label(l: Lang, step: &str) -> &'static str {
    let (zh, en) = match step {
        "request" => ("发起转诊", "Referred"),
        "accept" => ("接收", "Accepted"),
        "reject" => ("拒绝", "Rejected"),
        "arrive" => ("患者到院", "Arrived"),
        "see" => ("接诊", "Seen"),
        "return" => ("下转回社区", "Referred back"),
        "cancel" => ("撤销", "Cancelled"),
        "slot_cancelled" => ("号源停诊", "Clinic cancelled"),
        _ => ("其他", "Other"),
    };
    l.t(zh, en)
}

/// The one-click "refer" button, as a form posting to `/referrals`. From an urgent
/// source (an alert, a follow-up that called for urgent referral) it goes as an
/// emergency (`gongti_core::referral::urgency_for`) and says so.
pub(super) fn refer_button(
    c: &Console,
    resident_id: i64,
    source: (&str, Option<i64>),
    disease: Option<Disease>,
    urgent: bool,
) -> Markup {
    let l = c.lang;
    html! {
        form.refer method="post" action="/referrals" {
            (crate::console::form_tokens(c.session.csrf.as_deref().unwrap_or("")))
            input type="hidden" name="resident_id" value=(resident_id);
            input type="hidden" name="source" value=(source.0);
            @if let Some(id) = source.1 { input type="hidden" name="source_id" value=(id); }
            @if let Some(d) = disease { input type="hidden" name="disease" value=(d.code()); }
            @if urgent {
                button.primary.urgent type="submit" { (l.t("紧急转诊（急诊）", "Urgent referral (emergency)")) }
            } @else {
                button.primary type="submit" { (l.t("一键转诊", "Refer (one click)")) }
            }
        }
    }
}

#[derive(Deserialize)]
struct ReferForm {
    csrf: String,
    resident_id: i64,
    source: String,
    source_id: Option<i64>,
    disease: Option<String>,
    urgency: Option<String>,
    reason: Option<String>,
    /// `public`: book the hospital's public slots instead of the reserved ones.
    via: Option<String>,
    /// Sign the team's contract first (the family doctor's own team).
    sign_team_id: Option<i64>,
    /// The resident agreed to sign (a check box).
    consent: Option<String>,
}

impl ReferForm {
    /// The referral's own fields, carried into the offers' forms unchanged.
    fn hidden(&self) -> Markup {
        html! {
            input type="hidden" name="resident_id" value=(self.resident_id);
            input type="hidden" name="source" value=(self.source);
            @if let Some(id) = self.source_id { input type="hidden" name="source_id" value=(id); }
            @if let Some(d) = &self.disease { input type="hidden" name="disease" value=(d); }
            @if let Some(u) = &self.urgency { input type="hidden" name="urgency" value=(u); }
            @if let Some(r) = &self.reason { input type="hidden" name="reason" value=(r); }
        }
    }
}

async fn refer(State(state): State<AppState>, c: Console, Form(f): Form<ReferForm>) -> Response {
    if Some(f.csrf.as_str()) != c.session.csrf.as_deref() {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    // Signing on the spot: the contract first (with the resident's consent), then
    // the referral from the reserved slots it opens.
    if let Some(team_id) = f.sign_team_id {
        let action = ContractAction::Sign {
            team_id,
            packages: Vec::new(),
            resident_consent: f.consent.as_deref() == Some("on"),
        };
        if let Err(e) = state
            .app
            .change_contract(&c.ctx, f.resident_id, action)
            .await
        {
            return refused(&state, &c, &f, &e, false).await;
        }
    }

    let source = match (f.source.as_str(), f.source_id) {
        ("alert", Some(id)) => ReferralSource::Alert(id),
        ("followup", Some(id)) => ReferralSource::Followup(id),
        _ => ReferralSource::Manual,
    };
    let via = match f.via.as_deref() {
        Some("public") if f.sign_team_id.is_none() => Pool::Public,
        _ => Pool::Reserved,
    };
    let request = ReferRequest {
        resident_id: f.resident_id,
        source,
        disease: f.disease.as_deref().and_then(Disease::parse),
        urgency: f.urgency.as_deref().and_then(Urgency::parse),
        via,
        reason: f.reason.clone().filter(|r| !r.trim().is_empty()),
    };
    match state.app.refer(&c.ctx, request).await {
        Ok(v) => Redirect::to(&format!("/referrals/{}", v.referral.id)).into_response(),
        // Signed on the spot but not referred: the contract stands, and is said.
        Err(e) => refused(&state, &c, &f, &e, f.sign_team_id.is_some()).await,
    }
}

/// A referral that could not be made: what went wrong, with its real status, and —
/// for a resident not contracted with the doctor's team — the two ways forward:
/// sign the team's contract now (the resident consenting) and book the reserved
/// slot, or book a public slot.
async fn refused(
    state: &AppState,
    c: &Console,
    f: &ReferForm,
    e: &AppError,
    signed: bool,
) -> Response {
    let l = c.lang;
    let status = status_of(e);
    let offer = !signed
        && (matches!(e, AppError::Conflict("not_contracted"))
            || (f.sign_team_id.is_some() && matches!(e, AppError::Invalid(_))));
    // Another team's patient, or the reserved pool spent: the public slots remain.
    let public = offer
        || matches!(
            e,
            AppError::Conflict(
                "no_reserved_slot_left" | "contracted_elsewhere" | "reserved_for_family_doctor"
            )
        );
    let teams: Vec<TeamRecord> = match (offer, c.session.principal.institution_id) {
        (true, Some(institution)) => state
            .app
            .teams(institution)
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|t| t.doctor_staff_id == c.session.principal.staff_id)
            .collect(),
        _ => Vec::new(),
    };
    let basic: Vec<_> = if teams.is_empty() {
        Vec::new()
    } else {
        state
            .app
            .service_packages()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|p| p.basic)
            .collect()
    };
    let csrf = c.session.csrf.as_deref().unwrap_or("");
    let body = html! {
        h1 { (l.t("一键转诊", "One-click referral")) }
        @if signed { p.saved role="status" { (l.t("已为居民签约；转诊未完成：", "The contract is signed; the referral was not made: ")) } }
        (error_box(l, e))
        @if offer && !teams.is_empty() {
            div.card {
                h2 { (l.t("签约后转诊（预留号源）", "Sign the contract, then refer (reserved slot)")) }
                @for p in &basic {
                    p.muted #fee { (p.name) (l.t("，服务期一年，", ", one year, ")) (super::contracts::fee_text(l, &p.split)) }
                }
                form.offer method="post" action="/referrals" {
                    (crate::console::form_tokens(csrf))
                    (f.hidden())
                    label { (l.t("签约团队 ", "Team ")) select name="sign_team_id" {
                        @for t in &teams { option value=(t.id) { (t.name) } }
                    } }
                    label.check { input type="checkbox" name="consent" required; " " (l.t("居民本人已知情并同意签约", "The resident was told and agrees to sign")) }
                    button.primary type="submit" { (l.t("签约并转诊", "Sign and refer")) }
                }
            }
        }
        @if public {
            div.card {
                h2 { (l.t("预约普通号源转诊", "Refer with a public slot")) }
                p.muted { (l.t("从上级医院的普通号源中预约最早的一个，无需签约。", "The hospital's earliest public slot; no contract needed.")) }
                form.offer method="post" action="/referrals" {
                    (crate::console::form_tokens(csrf))
                    (f.hidden())
                    input type="hidden" name="via" value="public";
                    button.primary type="submit" { (l.t("预约普通号源", "Book a public slot")) }
                }
            }
        }
        p { a href=(format!("/residents/{}/chronic", f.resident_id)) { (l.t("← 返回居民", "← Back to the resident")) } }
    };
    (status, layout(c, l.t("转诊", "Referral"), body)).into_response()
}

#[derive(Deserialize, Default)]
struct BoxParams {
    #[serde(rename = "box")]
    which: Option<String>,
    cursor: Option<String>,
    /// The cursors of the pages before (see `pager`).
    trail: Option<String>,
}

const BOXES: [(&str, &str, &str); 3] = [
    ("inbox", "待处理转入", "Inbox"),
    ("sent", "我的转出", "Sent"),
    ("returning", "下转回社区", "Returning"),
];

async fn boxes(State(state): State<AppState>, c: Console, Query(q): Query<BoxParams>) -> Response {
    let l = c.lang;
    let which = q.which.clone().unwrap_or_else(|| "inbox".into());
    let after = decode_cursor(q.cursor.as_deref()).ok().flatten();
    let body: Result<Markup, AppError> = state
        .app
        .referral_box(&c.ctx, &which, after, PAGE_SIZE_DEFAULT)
        .await
        .map(|page| {
            html! {
                table #referrals {
                    tr {
                        th { (l.t("居民", "Resident")) } th { (l.t("病种", "Programme")) } th { (l.t("状态", "Status")) }
                        th { (l.t("转出", "From")) } th { (l.t("转入", "To")) } th { (l.t("就诊时间", "Slot")) } th { (l.t("随访截止", "Follow-up due")) }
                    }
                    @for r in &page.items {
                        tr {
                            td { a href=(format!("/referrals/{}", r.id)) { (r.resident_name) } }
                            td { @let (zh, en) = wording::disease(r.disease); (l.t(zh, en)) }
                            td { (status_label(l, r.status)) @if r.urgency == Urgency::Emergency { " · " strong.alert { (l.t("急诊", "emergency")) } } }
                            td { (r.from_institution_name) }
                            td { (r.to_institution_name) " · " (r.to_department_name) }
                            td { (r.slot_starts_at_us.map(crate::views::local).unwrap_or_default()) }
                            td { (r.followup_due_on.map(|d| d.to_string()).unwrap_or_default())
                                 @if r.followup_open { " " strong.alert { (l.t("待随访", "open")) } } }
                        }
                    }
                }
                @if page.items.is_empty() { p.muted { (l.t("清单为空", "Nothing on this list")) } }
                (pager("/referrals", &[("box", which.clone())], (q.cursor.as_deref(), q.trail.as_deref()), page.next_after, l))
            }
        });
    let status = body.as_ref().err().map_or(StatusCode::OK, status_of);
    (status, layout(
        &c,
        l.t("转诊", "Referrals"),
        html! {
            h1 { (l.t("双向转诊", "Two-way referral")) }
            nav.tabs {
                @for (code, zh, en) in BOXES {
                    @if code == which { strong { (l.t(zh, en)) } } @else { a href=(format!("/referrals?box={code}")) { (l.t(zh, en)) } }
                }
            }
            @match body { Ok(m) => (m), Err(e) => (error_box(l, &e)) }
        },
    ))
    .into_response()
}

fn step_forms(c: &Console, v: &ReferralView) -> Markup {
    let l = c.lang;
    let r = &v.referral;
    let csrf = c.session.csrf.as_deref().unwrap_or("");
    let receiver = c.session.principal.institution_id == Some(r.to_institution_id);
    let sender = c.session.principal.institution_id == Some(r.from_institution_id);
    let button = |step: &str, zh: &str, en: &str| {
        html! {
            form.step method="post" action=(format!("/referrals/{}/step", r.id)) {
                (crate::console::form_tokens(csrf))
                input type="hidden" name="step" value=(step);
                button.primary type="submit" name="go" value=(step) { (l.t(zh, en)) }
            }
        }
    };
    html! {
        div.card.actions {
            @if receiver {
                @match r.status {
                    ReferralStatus::Requested => {
                        (button("accept", "接收", "Accept"))
                        form.step method="post" action=(format!("/referrals/{}/step", r.id)) {
                            (crate::console::form_tokens(csrf))
                            input type="hidden" name="step" value="reject";
                            input name="text" placeholder=(l.t("拒绝原因", "Reason for rejecting"));
                            button type="submit" name="go" value="reject" { (l.t("拒绝", "Reject")) }
                        }
                        (button("arrive", "患者已到院", "Patient arrived"))
                    }
                    ReferralStatus::Accepted => { (button("arrive", "患者已到院", "Patient arrived")) }
                    ReferralStatus::Arrived => { (button("see", "已接诊", "Seen")) }
                    _ => {}
                }
                @if matches!(r.status, ReferralStatus::Arrived | ReferralStatus::Seen) {
                    form.step method="post" action=(format!("/referrals/{}/step", r.id)) {
                        (crate::console::form_tokens(csrf))
                        input type="hidden" name="step" value="return";
                        label { (l.t("下转方案（用药、复查）", "Plan for the family doctor (medication, checks)"))
                            textarea name="text" rows="3" cols="60" {} }
                        button.primary type="submit" name="go" value="return" { (l.t("下转回社区", "Refer back down")) }
                    }
                }
            }
            @if sender && matches!(r.status, ReferralStatus::Requested | ReferralStatus::Accepted) {
                (button("cancel", "撤销转诊", "Cancel the referral"))
            }
        }
    }
}

async fn referral_page(State(state): State<AppState>, c: Console, Path(id): Path<i64>) -> Response {
    let l = c.lang;
    match state.app.read_referral(&c.ctx, id).await {
        Ok(v) => referral_html(&c, &v, None).into_response(),
        Err(e) => error_page(&c, l.t("转诊", "Referral"), &e),
    }
}

/// What the referral's booked visit is called: a reserved slot (预留号) or a public one.
fn slot_label(l: Lang, pool: Option<Pool>) -> &'static str {
    match pool {
        Some(Pool::Public) => l.t("普通号就诊时间：", "Public slot: "),
        _ => l.t("预留号就诊时间：", "Reserved slot: "),
    }
}

fn referral_html(
    c: &Console,
    v: &ReferralView,
    error: Option<&AppError>,
) -> axum::response::Html<String> {
    let l = c.lang;
    let r = &v.referral;
    layout(
        c,
        l.t("转诊", "Referral"),
        html! {
            h1 { (l.t("转诊 #", "Referral #")) (r.id) " · " (r.resident_name) }
            @if let Some(e) = error { (error_box(l, e)) }
            div.card {
                p #referral-status { strong { (l.t("状态：", "Status: ")) } (status_label(l, r.status))
                    @if r.urgency == Urgency::Emergency { " · " strong.alert { (l.t("急诊通道", "emergency")) } } }
                p { (r.from_institution_name) " (" (r.from_staff_name) ") → " (r.to_institution_name) " · " (r.to_department_name) }
                @if let Some(at) = r.slot_starts_at_us { p #referral-slot { (slot_label(l, r.booking_pool)) (crate::views::local(at)) } }
                @if let Some(reason) = &r.reject_reason { p { strong { (l.t("拒绝原因：", "Rejected: ")) } (reason) } }
                @if let Some(plan) = &r.return_plan { p #return-plan { strong { (l.t("下转方案：", "Plan: ")) } (plan) } }
                @if let Some(due) = r.followup_due_on {
                    p { (l.t("家庭医生随访截止：", "Family doctor follow-up due: ")) (due)
                        @if r.followup_open { " " strong.alert { (l.t("待随访", "open")) } } @else { " " (l.t("已完成", "done")) } }
                }
                h2 { (l.t("病情摘要", "Clinical summary")) }
                pre.summary { (r.summary) }
                p { a href=(format!("/residents/{}", r.resident_id)) { (l.t("居民档案 →", "Resident's record →")) } }
            }
            (step_forms(c, v))
            h2 { (l.t("转诊经过", "Timeline")) }
            table #timeline {
                tr { th { (l.t("时间", "When")) } th { (l.t("步骤", "Step")) } th { (l.t("状态", "Status")) } th { (l.t("人员", "By")) } th { (l.t("说明", "Note")) } }
                @for e in &v.events {
                    tr {
                        td { (crate::views::local(e.at_us)) }
                        td { (step_label(l, &e.step)) }
                        td { (status_label(l, e.status)) }
                        td { (e.staff_name) }
                        td { (e.note.as_deref().unwrap_or("")) }
                    }
                }
            }
        },
    )
}

#[derive(Deserialize)]
struct StepForm {
    csrf: String,
    step: String,
    text: Option<String>,
}

async fn take_step(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Form(f): Form<StepForm>,
) -> Response {
    if Some(f.csrf.as_str()) != c.session.csrf.as_deref() {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let text = f.text.unwrap_or_default();
    let s = match f.step.as_str() {
        "accept" => ReferralStep::Accept,
        "reject" => ReferralStep::Reject { reason: text },
        "arrive" => ReferralStep::Arrive,
        "see" => ReferralStep::See,
        "return" => ReferralStep::ReturnDown { plan: text },
        "cancel" => ReferralStep::Cancel,
        _ => return (StatusCode::BAD_REQUEST, "step").into_response(),
    };
    match state.app.referral_step(&c.ctx, id, s).await {
        Ok(_) => Redirect::to(&format!("/referrals/{id}")).into_response(),
        Err(e) => match state.app.read_referral(&c.ctx, id).await {
            Ok(v) => (status_of(&e), referral_html(&c, &v, Some(&e))).into_response(),
            Err(_) => error_page(&c, c.lang.t("转诊", "Referral"), &e),
        },
    }
}
