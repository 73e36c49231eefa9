//! Remote consultations in the console (DOMAIN.md §3): the request from the patient's
//! page, the consulted hospital's inbox, the consultation with its files, the answer,
//! close and cancel. Forms carry the session's CSRF token.

use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use gongti_app::AppError;
use gongti_app::consultations::ConsultationAsk;
use gongti_core::consultation::{ConsultationDraft, ConsultationStatus, ConsultationStep};
use gongti_store::ConsultationRecord;
use maud::{Markup, html};
use serde::Deserialize;

use super::{Console, Lang, error_box, error_page, layout};
use crate::extract::decode_cursor;
use crate::views::local;
use crate::{AppState, PAGE_SIZE_DEFAULT};

pub(super) fn routes() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/consultations", get(boxes).post(request))
        .route("/consultations/{id}", get(detail))
        .route("/consultations/{id}/step", post(take_step))
}

pub(crate) fn status_label(l: Lang, s: ConsultationStatus) -> &'static str {
    match s {
        ConsultationStatus::Requested => l.t("待答复", "Awaiting opinion"),
        ConsultationStatus::Answered => l.t("已答复", "Answered"),
        ConsultationStatus::Closed => l.t("已结束", "Closed"),
        ConsultationStatus::Cancelled => l.t("已撤销", "Cancelled"),
    }
}

/// The request form on a patient's page: the departments of the institution's upper
/// hospital.
pub(super) fn request_form(
    c: &Console,
    resident_id: i64,
    departments: &[gongti_store::DepartmentRecord],
) -> Markup {
    let l = c.lang;
    html! {
        div.card {
            h2 { (l.t("远程会诊", "Remote consultation")) }
            form method="post" action="/consultations" {
                (crate::console::form_tokens(c.session.csrf.as_deref().unwrap_or("")))
                input type="hidden" name="resident_id" value=(resident_id);
                select name="department_id" { @for d in departments { option value=(d.id) { (d.name) } } }
                br;
                textarea name="question" rows="3" cols="60" placeholder=(l.t("请专科医生会诊的问题", "Your question to the specialist")) required {}
                br;
                button.primary type="submit" { (l.t("申请会诊", "Ask for an opinion")) }
                span.muted { " " (l.t("（附件与视频时间可通过接口提交）", "(files and a video time through the API)")) }
            }
        }
    }
}

#[derive(Deserialize)]
struct RequestForm {
    csrf: String,
    resident_id: i64,
    department_id: i64,
    question: String,
}

async fn request(
    State(state): State<AppState>,
    c: Console,
    Form(f): Form<RequestForm>,
) -> Response {
    if c.session.csrf.as_deref() != Some(f.csrf.as_str()) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let l = c.lang;
    let ask = ConsultationAsk {
        resident_id: f.resident_id,
        department_id: f.department_id,
        specialist_staff_id: None,
        draft: ConsultationDraft {
            question: f.question,
            video_at_us: None,
            attachments: Vec::new(),
        },
    };
    match state.app.request_consultation(&c.ctx, ask).await {
        Ok(r) => Redirect::to(&format!("/consultations/{}", r.id)).into_response(),
        Err(e) => error_page(&c, l.t("远程会诊", "Consultation"), &e),
    }
}

#[derive(Deserialize, Default)]
struct BoxParams {
    #[serde(rename = "box")]
    which: Option<String>,
    cursor: Option<String>,
    /// The cursors of the pages before (see `pager`).
    trail: Option<String>,
}

async fn boxes(State(state): State<AppState>, c: Console, Query(q): Query<BoxParams>) -> Response {
    let l = c.lang;
    let which = q.which.clone().unwrap_or_else(|| "inbox".into());
    let after = decode_cursor(q.cursor.as_deref()).ok().flatten();
    let body: Result<Markup, AppError> = state
        .app
        .consultation_box(&c.ctx, &which, after, PAGE_SIZE_DEFAULT)
        .await
        .map(|page| {
            html! {
                table #consultations {
                    tr { th { (l.t("居民", "Resident")) } th { (l.t("状态", "Status")) } th { (l.t("申请方", "From")) } th { (l.t("会诊科室", "To")) } th { (l.t("申请时间", "Asked")) } }
                    @for k in &page.items {
                        tr {
                            td { a href=(format!("/consultations/{}", k.id)) { (k.resident_name) } }
                            td { (status_label(l, k.status)) }
                            td { (k.from_institution_name) }
                            td { (k.to_institution_name) " · " (k.to_department_name) }
                            td { (local(k.created_at_us)) }
                        }
                    }
                }
                @if page.items.is_empty() { p.muted { (l.t("清单为空", "Nothing on this list")) } }
                (super::pager("/consultations", &[("box", which.clone())], (q.cursor.as_deref(), q.trail.as_deref()), page.next_after, l))
            }
        });
    layout(
        &c,
        l.t("远程会诊", "Consultations"),
        html! {
            h1 { (l.t("远程会诊", "Remote consultations")) }
            nav.tabs {
                @for (code, zh, en) in [("inbox", "待答复会诊", "Inbox"), ("sent", "我的申请", "Sent")] {
                    @if code == which { strong { (l.t(zh, en)) } } @else { a href=(format!("/consultations?box={code}")) { (l.t(zh, en)) } }
                }
            }
            @match body { Ok(m) => (m), Err(e) => (error_box(l, &e)) }
        },
    )
    .into_response()
}

fn detail_html(c: &Console, k: &ConsultationRecord, error: Option<&AppError>) -> Response {
    let l = c.lang;
    let csrf = c.session.csrf.as_deref().unwrap_or("");
    let receiver = c.session.principal.institution_id == Some(k.to_institution_id);
    let step = |name: &str, zh: &str, en: &str| {
        html! {
            form.step method="post" action=(format!("/consultations/{}/step", k.id)) {
                (crate::console::form_tokens(csrf))
                input type="hidden" name="step" value=(name);
                button type="submit" name="go" value=(name) { (l.t(zh, en)) }
            }
        }
    };
    layout(
        c,
        l.t("远程会诊", "Consultation"),
        html! {
            h1 { (l.t("远程会诊 #", "Consultation #")) (k.id) " · " (k.resident_name) }
            @if let Some(e) = error { (error_box(l, e)) }
            div.card {
                p #consultation-status { strong { (l.t("状态：", "Status: ")) } (status_label(l, k.status)) }
                p { (k.from_institution_name) " (" (k.from_staff_name) ") → " (k.to_institution_name) " · " (k.to_department_name) }
                @if let Some(at) = k.video_at_us { p { (l.t("视频会诊时间：", "Video session: ")) (local(at)) } }
                h2 { (l.t("会诊问题", "Question")) }
                pre.summary { (k.question) }
                @if !k.files.is_empty() {
                    ul { @for f in &k.files { li { a href=(format!("/api/v1/consultations/{}/files/{}", k.id, f.id)) { (f.filename) } " (" (f.size_bytes) " B)" } } }
                }
                @if let Some(o) = &k.opinion { h2 { (l.t("会诊意见", "Opinion")) } pre.summary #opinion { (o) } }
                p { a href=(format!("/residents/{}", k.resident_id)) { (l.t("居民档案 →", "Resident's record →")) } }
            }
            div.card.actions {
                @if receiver && k.status.is_open() && c.session.principal.role.is_clinical() {
                    form.step method="post" action=(format!("/consultations/{}/step", k.id)) {
                        (crate::console::form_tokens(csrf))
                        input type="hidden" name="step" value="answer";
                        textarea name="text" rows="4" cols="60" placeholder=(l.t("会诊意见", "Your opinion")) {}
                        br;
                        button.primary type="submit" name="go" value="answer" { (l.t("提交意见", "Give the opinion")) }
                    }
                }
                @if k.status == ConsultationStatus::Answered { (step("close", "结束会诊", "Close")) }
                @if !receiver && k.status == ConsultationStatus::Requested { (step("cancel", "撤销申请", "Withdraw")) }
            }
        },
    )
    .into_response()
}

async fn detail(State(state): State<AppState>, c: Console, Path(id): Path<i64>) -> Response {
    let l = c.lang;
    match state.app.read_consultation(&c.ctx, id).await {
        Ok(k) => detail_html(&c, &k, None),
        Err(e) => error_page(&c, l.t("远程会诊", "Consultation"), &e),
    }
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
    if c.session.csrf.as_deref() != Some(f.csrf.as_str()) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let s = match f.step.as_str() {
        "answer" => ConsultationStep::Answer {
            opinion: f.text.unwrap_or_default(),
        },
        "close" => ConsultationStep::Close,
        "cancel" => ConsultationStep::Cancel,
        _ => return (StatusCode::BAD_REQUEST, "step").into_response(),
    };
    match state.app.consultation_step(&c.ctx, id, s).await {
        Ok(_) => Redirect::to(&format!("/consultations/{id}")).into_response(),
        Err(e) => match state.app.read_consultation(&c.ctx, id).await {
            Ok(k) => detail_html(&c, &k, Some(&e)),
            Err(_) => layout(
                &c,
                c.lang.t("远程会诊", "Consultation"),
                error_box(c.lang, &e),
            )
            .into_response(),
        },
    }
}
