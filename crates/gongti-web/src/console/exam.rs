//! 检验报文匹配 in the console: the laboratory's messages that named nobody registered
//! (answered AE and held, DOMAIN.md §8), each shown as the laboratory sent it — the
//! name and the identifiers (masked), the order and its results — with a form to match
//! it to a resident by ID number (never by name), after which its results join the
//! resident's record. 危急值: the open critical values of the viewer's institution, each
//! read back and confirmed, then its action recorded (DOMAIN.md §8), escalated ones
//! marked for the duty officer.

use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use gongti_app::AppError;
use gongti_app::exam::HeldMessage;
use gongti_core::exam::report::{ReceivedReport, Unmatched};
use maud::{Markup, html};
use serde::Deserialize;

use super::{Console, Lang, csrf_ok, error_box, error_page, form_tokens, layout, status_of};
use crate::AppState;
use crate::hl7::read_message;
use crate::views::local;

mod orders;
mod studies;
pub(super) use orders::item_label;
pub(super) use studies::instance_image;

pub(super) fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/lab-messages", get(page))
        .route("/lab-messages/{id}/match", post(match_message))
        .route("/critical-values", get(critical_page))
        .route("/critical-values/{id}/confirm", post(confirm))
        .route("/critical-values/{id}/act", post(act))
        .merge(orders::routes())
        .merge(studies::routes())
}

fn title(l: Lang) -> &'static str {
    l.t("检验报文匹配", "Lab messages to match")
}

#[derive(Deserialize, Default)]
struct Params {
    matched: Option<i64>,
    results: Option<usize>,
}

#[derive(Deserialize)]
struct MatchForm {
    csrf: String,
    id_number: String,
}

/// Why the message was held, in words.
fn problem_text(l: Lang, code: &str) -> &'static str {
    match Unmatched::parse(code) {
        Some(Unmatched::NoIdNumber) => l.t(
            "报文未按身份证号（OID 2.16.156.10011.1.3）标识患者",
            "no ID number under OID 2.16.156.10011.1.3",
        ),
        Some(Unmatched::InvalidIdNumber(_)) => {
            l.t("报文中的身份证号无效", "the ID number in it is not valid")
        }
        Some(Unmatched::TwoIdNumbers) => l.t(
            "报文中有两个不同的身份证号",
            "two different ID numbers in it",
        ),
        Some(Unmatched::NotRegistered) => l.t(
            "该身份证号没有登记的居民",
            "nobody is registered under its ID number",
        ),
        None => l.t("未能匹配居民", "no resident matched"),
    }
}

/// An identifier as sent, masked like an ID number (the first six and the last four).
fn masked(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..6].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 10))
}

fn message_card(
    l: Lang,
    csrf: &str,
    m: &HeldMessage,
    report: Option<&ReceivedReport>,
    error: Option<Markup>,
) -> Markup {
    let r = &m.record;
    html! {
        section.card id=(format!("m{}", r.id)) {
            h2 { (l.t("报文", "Message")) " " code { (r.control_id) } }
            p.muted {
                (l.t("来自", "From")) " " code { (r.sender) } " · " (local(r.received_at_us))
                " · " (problem_text(l, &r.problem))
            }
            @match report {
                None => p { (l.t("报文无法再次读取。", "The message can no longer be read.")) }
                Some(report) => {
                    p {
                        (l.t("报文中的姓名：", "Name in the message: "))
                        strong { (if report.patient_name.is_empty() { "—" } else { report.patient_name.as_str() }) }
                        @for id in &report.identifiers {
                            " · " (l.t("标识", "identifier")) " " code { (masked(&id.value)) }
                        }
                    }
                    div.table-wrap { table {
                        thead { tr { th { (l.t("项目", "Test")) } th { (l.t("结果", "Result")) } th { (l.t("参考范围", "Range")) } th { (l.t("标志", "Flags")) } } }
                        tbody { @for o in &report.orders { @for x in &o.results {
                            tr {
                                td { (x.codes.first().map(|(code, text, _)| if text.is_empty() { code.clone() } else { format!("{text} ({code})") }).unwrap_or_default()) }
                                td { (x.value) " " (x.unit) }
                                td { (x.reference_range) }
                                td { (x.flags.join(",")) }
                            }
                        } } }
                    } }
                }
            }
            @if let Some(e) = error { (e) }
            form method="post" action=(format!("/lab-messages/{}/match", r.id)) {
                (form_tokens(csrf))
                label {
                    (l.t("居民身份证号", "The resident's ID number"))
                    input name="id_number" required autocomplete="off" maxlength="18" inputmode="text";
                }
                button type="submit" { (l.t("匹配并保存结果", "Match and keep the results")) }
            }
        }
    }
}

fn report_of(m: &HeldMessage) -> Option<ReceivedReport> {
    read_message(&m.raw, "", gongti_app::DISPLAY_OFFSET)
        .report
        .ok()
}

async fn render(
    state: &AppState,
    c: &Console,
    q: &Params,
    failed: Option<(i64, Markup)>,
    status: StatusCode,
) -> Response {
    let l = c.lang;
    let held = match state.app.held_lab_messages(&c.ctx, None).await {
        Ok(h) => h,
        Err(e) => return error_page(c, title(l), &e),
    };
    let csrf = c.session.csrf.as_deref().unwrap_or("");
    let mut failed = failed;
    let body = html! {
        h1 { (title(l)) }
        p.muted { (l.t(
            "检验系统经 HL7 发来的报告按身份证号匹配居民；未能匹配的在此等候，请核对后输入居民身份证号。匹配只凭身份证号，不凭姓名。",
            "The laboratory's HL7 reports are matched to residents by ID number; those that matched nobody wait here. Check them and enter the resident's ID number: matching is by ID number, never by name.")) }
        @if let Some(id) = q.matched {
            p.notice role="status" {
                (l.t("已匹配报文 ", "Matched message ")) "#" (id) " · "
                (q.results.unwrap_or(0)) (l.t(" 项结果已进入居民档案。", " results added to the resident's record."))
            }
        }
        @if held.is_empty() {
            p.card { (l.t("没有待匹配的报文。", "No message is waiting to be matched.")) }
        }
        @for m in &held {
            @let error = match &failed { Some((id, _)) if *id == m.record.id => failed.take().map(|(_, e)| e), _ => None };
            (message_card(l, csrf, m, report_of(m).as_ref(), error))
        }
    };
    (status, layout(c, title(l), body)).into_response()
}

async fn page(State(state): State<AppState>, c: Console, Query(q): Query<Params>) -> Response {
    render(&state, &c, &q, None, StatusCode::OK).await
}

async fn match_message(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Form(form): Form<MatchForm>,
) -> Response {
    let l = c.lang;
    if !csrf_ok(&c, &form.csrf) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let held = match state.app.held_lab_message(&c.ctx, id).await {
        Ok(h) => h,
        Err(e) => return error_page(&c, title(l), &e),
    };
    let Some(report) = report_of(&held) else {
        return error_page(&c, title(l), &AppError::NotFound);
    };
    match state
        .app
        .match_lab_message(&c.ctx, id, &form.id_number, &report)
        .await
    {
        Ok(n) => Redirect::to(&format!("/lab-messages?matched={id}&results={n}")).into_response(),
        Err(e) => {
            let status = status_of(&e);
            render(
                &state,
                &c,
                &Params::default(),
                Some((id, error_box(l, &e))),
                status,
            )
            .await
        }
    }
}

fn critical_title(l: Lang) -> &'static str {
    l.t("危急值", "Critical values")
}

#[derive(Deserialize)]
struct ReadBackForm {
    csrf: String,
    read_back: String,
}

#[derive(Deserialize)]
struct ActionForm {
    csrf: String,
    action: String,
}

#[derive(Deserialize, Default)]
struct CriticalParams {
    done: Option<i64>,
}

async fn render_critical(
    state: &AppState,
    c: &Console,
    done: Option<i64>,
    failed: Option<(i64, Markup)>,
    status: StatusCode,
) -> Response {
    use gongti_core::exam::critical::CriticalStatus;
    use gongti_core::exam::items::CriticalSide;
    let l = c.lang;
    let list = match state.app.critical_values(&c.ctx).await {
        Ok(list) => list,
        Err(e) => return error_page(c, critical_title(l), &e),
    };
    let csrf = c.session.csrf.as_deref().unwrap_or("");
    let clinical = c.session.principal.role.is_clinical();
    let now_us = gongti_app::unix_us(state.app.now());
    let mut failed = failed;
    let body = html! {
        h1 { (critical_title(l)) }
        p.muted { (l.t(
            "检验结果超出危急值界限时通知患者所在机构的医生，诊断医生在报告中报告的危急值通知开单机构的医生：请电话联系检验科或诊断医生复述结果并确认，再记录处置措施。超过时限未确认的上报本机构值班负责人（机构管理员）。",
            "A result past its critical limit notifies the clinicians of the patient's institution, and a reader's critical finding those of the ordering institution: read the value or finding back to the laboratory or the reader and confirm it, then record the action taken. One not confirmed in time goes to the institution's duty officer (its administrator).")) }
        @if let Some(id) = done { p.notice role="status" { (l.t("已记录：危急值 #", "Recorded: critical value #")) (id) } }
        @if list.is_empty() {
            p.card { (l.t("没有未处理的危急值。", "No open critical value.")) }
        }
        @for v in &list {
            @let r = &v.record;
            @let error = match &failed { Some((id, _)) if *id == r.id => failed.take().map(|(_, e)| e), _ => None };
            section.card.urgent id=(format!("c{}", r.id)) {
                h2 {
                    a href=(format!("/residents/{}/chronic", r.resident_id)) { (v.resident_name) }
                    @match r.side {
                        Some(side) => {
                            " · " (r.display) " "
                            strong.bad { (r.value_text) " " (r.unit) " "
                                (match side { CriticalSide::Low => l.t("↓ 危急低值", "↓ critical low"), CriticalSide::High => l.t("↑ 危急高值", "↑ critical high") }) }
                        }
                        None => {
                            " · " (l.t("检查报告危急值 ", "critical finding ")) strong.bad { (finding_label(l, r)) }
                        }
                    }
                }
                @if v.ordering_doctor.is_some() || v.family_doctor.is_some() {
                    p.notified {
                        (l.t("通知：", "For: "))
                        @if let Some((_, name)) = &v.ordering_doctor { (l.t("开单医生 ", "ordering doctor ")) strong { (name) } " " }
                        @if let Some((_, name)) = &v.family_doctor { (l.t("家庭医生 ", "family doctor ")) strong { (name) } " " }
                        @if v.names(c.session.principal.staff_id) { strong.warn-text { (l.t("（您的患者）", "(your patient)")) } }
                    }
                }
                @if let Some(order) = r.exam_order_id {
                    p { a href=(format!("/exam-orders/{order}#report")) { (l.t("查看检查单 →", "The exam order →")) } }
                }
                p.muted {
                    (l.t("检出 ", "Detected ")) (local(r.detected_at_us))
                    " · " (l.t("确认时限 ", "confirm by ")) (local(r.due_at_us))
                    @if let Some(at) = r.escalated_at_us {
                        " · " strong.bad { (l.t("已超时上报值班负责人 ", "escalated to the duty officer ")) (local(at)) }
                    } @else if r.status == CriticalStatus::Notified && now_us < r.due_at_us {
                        " · " (l.t("剩余 ", "")) ((r.due_at_us - now_us) / 60_000_000 + 1) (l.t(" 分钟", " min left"))
                    }
                }
                @if let Some(e) = error { (e) }
                @match r.status {
                    CriticalStatus::Notified => {
                        @if clinical {
                            form method="post" action=(format!("/critical-values/{}/confirm", r.id)) {
                                (form_tokens(csrf))
                                @if r.side.is_some() {
                                    label { (l.t("复述结果（与检验科核对后输入数值）", "Read back (the value, as checked with the laboratory)"))
                                        input name="read_back" required autocomplete="off" maxlength="40"; }
                                } @else {
                                    label { (l.t("复述危急值（与诊断医生电话核对后输入其中文名称）", "Read back (the finding's Chinese name, as checked with the reader on the telephone)"))
                                        input name="read_back" required autocomplete="off" maxlength="40"; }
                                }
                                button type="submit" { (l.t("复述确认", "Confirm the read-back")) }
                            }
                        } @else {
                            p { (l.t("待本机构医生复述确认。", "Waiting for a clinician of the institution to read it back.")) }
                        }
                    }
                    CriticalStatus::Confirmed => {
                        p { (l.t("已复述确认 ", "Read back and confirmed ")) (r.confirmed_at_us.map(local).unwrap_or_default()) }
                        @if clinical {
                            form method="post" action=(format!("/critical-values/{}/act", r.id)) {
                                (form_tokens(csrf))
                                label { (l.t("处置措施", "Action taken"))
                                    textarea name="action" required maxlength="500" {} }
                                button type="submit" { (l.t("记录处置", "Record the action")) }
                            }
                        }
                    }
                    CriticalStatus::Closed => {}
                }
            }
        }
    };
    (status, layout(c, critical_title(l), body)).into_response()
}

/// A reader's critical finding as the viewer's language names it.
fn finding_label(l: Lang, r: &gongti_store::CriticalValueRecord) -> String {
    gongti_core::exam::critical::CriticalFindings::builtin()
        .by_code(&r.code)
        .map_or_else(
            || r.display.clone(),
            |f| l.t(&f.label_zh, &f.label_en).to_owned(),
        )
}

async fn critical_page(
    State(state): State<AppState>,
    c: Console,
    Query(q): Query<CriticalParams>,
) -> Response {
    render_critical(&state, &c, q.done, None, StatusCode::OK).await
}

async fn critical_step(
    state: &AppState,
    c: &Console,
    id: i64,
    step: gongti_core::exam::critical::CriticalStep<'_>,
) -> Response {
    let l = c.lang;
    match state.app.critical_step(&c.ctx, id, step).await {
        Ok(_) => Redirect::to(&format!("/critical-values?done={id}")).into_response(),
        Err(AppError::Forbidden) => error_page(c, critical_title(l), &AppError::Forbidden),
        Err(e) => {
            let status = status_of(&e);
            render_critical(state, c, None, Some((id, error_box(l, &e))), status).await
        }
    }
}

async fn confirm(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Form(form): Form<ReadBackForm>,
) -> Response {
    if !csrf_ok(&c, &form.csrf) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let step = gongti_core::exam::critical::CriticalStep::Confirm {
        read_back: &form.read_back,
    };
    critical_step(&state, &c, id, step).await
}

async fn act(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Form(form): Form<ActionForm>,
) -> Response {
    if !csrf_ok(&c, &form.csrf) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let step = gongti_core::exam::critical::CriticalStep::Act {
        action: &form.action,
    };
    critical_step(&state, &c, id, step).await
}
