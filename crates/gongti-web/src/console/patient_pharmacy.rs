//! 我的处方 on the resident's phone (DOMAIN.md §4 and §6): each prescription with its
//! drugs and where it stands; once a pharmacist passed it, the pharmacy and pickup or
//! delivery to choose; their own share of the 门特 settlement, shown before they pay
//! it; the parcel's progress, with the code they give the courier at the door.

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use gongti_app::AppError;
use gongti_app::insurance::SettlementAnswer;
use gongti_app::patients::PatientCtx;
use gongti_app::pharmacy::OwnPrescription;
use gongti_core::pharmacy::dispense::{FillStatus, Fulfilment};
use gongti_core::pharmacy::prescription::RxStatus;
use maud::{Markup, html};
use serde::Deserialize;

use super::patient::{Tab, confirm_page, header_bar, page, signed_in};
use super::{Lang, error_box};
use crate::AppState;
use crate::views::{local, yuan};

pub(super) fn routes() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/patient/prescriptions", get(list))
        .route("/patient/prescriptions/{id}/route", post(route))
        .route("/patient/prescriptions/{id}/settle", post(settle))
}

fn status_line(l: Lang, o: &OwnPrescription) -> String {
    if let Some(f) = &o.fill {
        return FillStatus::parse(&f.status)
            .map_or("", |s| l.t(s.name_zh(), s.code()))
            .to_owned();
    }
    match RxStatus::parse(&o.record.status) {
        Some(RxStatus::PendingReview) => l.t("药师审核中", "being reviewed by a pharmacist").into(),
        Some(RxStatus::Returned) => l.t("医生修改中", "back with the doctor").into(),
        Some(RxStatus::Passed) if o.route.0.is_some() => {
            l.t("等待药房调配", "waiting for the pharmacy").into()
        }
        Some(RxStatus::Passed) => l
            .t("审核通过，请选择取药方式", "passed: choose how to get it")
            .into(),
        Some(s) => l.t(s.name_zh(), s.name_en()).into(),
        None => String::new(),
    }
}

fn card(l: Lang, csrf: &str, o: &OwnPrescription, address: &str) -> Markup {
    let r = &o.record;
    let c = &o.content;
    let id = r.id;
    let passed = r.status == RxStatus::Passed.code();
    let settled = o.settlements.iter().find(|s| s.status == "settled");
    let delivery = o.route.1.as_deref() == Some("delivery");
    html! {
        div.card id=(format!("rx-{id}")) {
            h2 { (l.t("处方 ", "Prescription ")) "#" (id) " · " (status_line(l, o)) }
            p.muted { (r.prescriber_name) " · " (r.institution_name) " · " (local(r.issued_at_us)) }
            ul {
                @for line in &c.lines {
                    li { (line.generic_name) " " (gongti_core::pharmacy::knowledge::amount_text(line.dose)) (line.dose_unit) (l.t("，每日", ", ")) (line.times_per_day) (l.t(" 次，共 ", " times a day for ")) (line.days) (l.t(" 天", " days")) }
                }
            }
            @if let Some(s) = settled {
                p { (l.t("医保已结算：药费 ", "Settled with insurance: total ")) (yuan(s.figures.total_fen)) (l.t(" 元，医保支付 ", " yuan, insurance ")) (yuan(s.figures.fund_fen)) (l.t(" 元，您支付 ", " yuan, you paid ")) strong { (yuan(s.figures.account_fen + s.figures.cash_fen)) } (l.t(" 元", " yuan")) }
            } @else if passed {
                form method="post" action=(format!("/patient/prescriptions/{id}/settle")) {
                    (crate::console::form_tokens(csrf))
                    button type="submit" { (l.t("查看医保报销后我需支付多少", "See my share after insurance")) }
                }
            }
            @if let (true, Some(pid), Some(how)) = (passed, o.route.0, o.route.1.as_deref()) {
                p { (l.t("已选：", "Chosen: ")) strong { (o.choices.iter().find(|(i, _)| *i == pid).map_or("", |(_, n)| n.as_str())) } " · " (if how == "delivery" { l.t("送药上门", "delivery") } else { l.t("到药房自取", "pickup") }) @if how == "delivery" { " · " (o.route.2.clone().unwrap_or_default()) } (l.t("（调配前可更改）", " (you may change it until it is filled)")) }
            }
            @if passed {
                form.rx-route method="post" action=(format!("/patient/prescriptions/{id}/route")) {
                    (crate::console::form_tokens(csrf))
                    label { (l.t("取药药房", "Pharmacy")) select name="pharmacy_id" {
                        @for (pid, name) in &o.choices { option value=(pid) selected[o.route.0 == Some(*pid)] { (name) } }
                    } }
                    label.check { input type="radio" name="fulfilment" value="delivery" checked[delivery || o.route.1.is_none()]; " " (l.t("送药上门", "deliver to me")) }
                    label.check { input type="radio" name="fulfilment" value="pickup" checked[o.route.1.as_deref() == Some("pickup")]; " " (l.t("到药房自取", "I collect it")) }
                    label { (l.t("送药地址", "Address")) input type="text" name="delivery_address" maxlength="200" value=(o.route.2.clone().unwrap_or_else(|| address.to_owned())); }
                    button.primary type="submit" { (l.t("确定", "Confirm")) }
                }
            }
            @if let Some(f) = &o.fill {
                p { (f.pharmacy_name) " · " (l.t(if f.fulfilment == "delivery" { "送药上门" } else { "到店自取" }, &f.fulfilment)) }
                @if let (Some(code), Some(FillStatus::Packed | FillStatus::Dispatched | FillStatus::InTransit)) = (&f.recipient_code, FillStatus::parse(&f.status)) {
                    p.code { (l.t("签收码 ", "Your code ")) strong { (code) } br; small.muted { (l.t("药品送到时请把签收码告诉配送员，请勿提前告诉他人。", "Tell it to the courier when the drugs arrive, not before.")) } }
                }
                ol { @for e in &f.events { li { (local(e.at_us)) " " (FillStatus::parse(&e.status).map_or("", |s| l.t(s.name_zh(), s.code()))) } } }
            }
        }
    }
}

async fn render(
    state: &AppState,
    headers: &HeaderMap,
    p: &PatientCtx,
    error: Option<AppError>,
) -> Response {
    let l = Lang::from_headers(headers);
    let csrf = p.csrf.clone().unwrap_or_default();
    let name = state
        .app
        .patient_name(p)
        .await
        .unwrap_or_else(|_| p.username.clone());
    let address = state
        .app
        .store()
        .resident(p.resident_id)
        .await
        .ok()
        .and_then(|r| r.address)
        .unwrap_or_default();
    let status = error.as_ref().map_or(StatusCode::OK, super::status_of);
    match state.app.own_prescriptions(p).await {
        Ok(mine) => (
            status,
            page(l, l.t("我的处方", "My prescriptions"), html! {
                (header_bar(l, &name, &csrf, Tab::Prescriptions))
                h1 { (l.t("我的处方", "My prescriptions")) }
                @if let Some(e) = &error { (error_box(l, e)) }
                @if mine.is_empty() {
                    p.card { (l.t("还没有处方。复诊开方后会显示在这里。", "No prescription yet.")) }
                }
                @for o in &mine { (card(l, &csrf, o, &address)) }
            }),
        )
            .into_response(),
        Err(e) => (
            super::status_of(&e),
            page(l, l.t("我的处方", "My prescriptions"), html! { (header_bar(l, &name, &csrf, Tab::Prescriptions)) (error_box(l, &e)) }),
        )
            .into_response(),
    }
}

async fn list(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some((p, _)) = signed_in(&state, &headers).await else {
        return Redirect::to("/patient/login").into_response();
    };
    render(&state, &headers, &p, None).await
}

#[derive(Deserialize)]
struct RouteForm {
    csrf: String,
    pharmacy_id: i64,
    fulfilment: String,
    delivery_address: Option<String>,
}

async fn route(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(f): Form<RouteForm>,
) -> Response {
    let Some((p, _)) = signed_in(&state, &headers).await else {
        return Redirect::to("/patient/login").into_response();
    };
    if p.csrf.as_deref() != Some(f.csrf.as_str()) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let fulfilment = Fulfilment::parse(&f.fulfilment).unwrap_or(Fulfilment::Pickup);
    match state
        .app
        .own_route(
            &p,
            id,
            f.pharmacy_id,
            fulfilment,
            f.delivery_address.as_deref(),
        )
        .await
    {
        Ok(()) => Redirect::to(&format!("/patient/prescriptions#rx-{id}")).into_response(),
        Err(e) => render(&state, &headers, &p, Some(e)).await,
    }
}

#[derive(Deserialize)]
struct SettleForm {
    csrf: String,
    /// Set by the confirmation page's button, with the share shown.
    confirm: Option<String>,
    expected_cash_fen: Option<i64>,
}

fn share(l: Lang, a: &SettlementAnswer) -> Markup {
    html! {
        ul {
            @for line in &a.lines { li { (line.name) " × " (line.packs) " · " (yuan(line.amount_fen)) (l.t(" 元", " yuan")) } }
        }
        p { (l.t("药费合计 ", "Total ")) (yuan(a.total_fen)) (l.t(" 元", " yuan")) }
        p { (l.t("医保支付 ", "Insurance pays ")) (yuan(a.fund_fen)) (l.t(" 元", " yuan")) }
        p { (l.t("您需支付 ", "You pay ")) strong.big { (yuan(a.cash_fen)) } (l.t(" 元", " yuan")) }
        p.muted { small { (l.t("按门诊慢特病政策结算（演示参数 ", "Settled under the 门特 policy (demo values ")) (a.policy_version) "）" } }
    }
}

async fn settle(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(f): Form<SettleForm>,
) -> Response {
    let Some((p, _)) = signed_in(&state, &headers).await else {
        return Redirect::to("/patient/login").into_response();
    };
    if p.csrf.as_deref() != Some(f.csrf.as_str()) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let l = Lang::from_headers(&headers);
    match (f.confirm, f.expected_cash_fen) {
        (Some(_), Some(expected)) => match state.app.own_settle(&p, id, false, expected).await {
            Ok(_) => Redirect::to(&format!("/patient/prescriptions#rx-{id}")).into_response(),
            Err(e) => render(&state, &headers, &p, Some(e)).await,
        },
        _ => match state.app.own_presettle(&p, id, false).await {
            Ok(a) => confirm_page(
                l,
                l.t("确认医保结算", "Confirm the settlement"),
                share(l, &a),
                &format!("/patient/prescriptions/{id}/settle"),
                html! {
                    (crate::console::form_tokens(&f.csrf))
                    input type="hidden" name="expected_cash_fen" value=(a.cash_fen);
                },
                &format!(
                    "{}{}{}",
                    l.t("确认支付 ", "Pay "),
                    yuan(a.cash_fen),
                    l.t(" 元", " yuan")
                ),
            ),
            Err(e) => render(&state, &headers, &p, Some(e)).await,
        },
    }
}
