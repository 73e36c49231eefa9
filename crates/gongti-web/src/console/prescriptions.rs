//! Issued prescriptions in the console (DOMAIN.md §4, 处方审核): a prescription's page
//! (its lines, the findings of each version, the signatures checked, the steps so
//! far and the forms of the steps the viewer may take), the pharmacists' review queue
//! (处方审核, most severe first, then longest waiting) and the prescriber's own list
//! (我的处方, the returned ones first in mind).

use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use gongti_app::pharmacy::{PrescriptionView, StepRequest};
use gongti_core::pharmacy::prescription::{RxStatus, Step};
use gongti_store::PrescriptionRecord;
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;

use super::{Console, Lang, error_box, error_page, layout};
use crate::AppState;
use crate::views::local;

pub(super) fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/prescriptions/{id}", get(page))
        .route("/prescriptions/{id}/step", post(step))
        .route("/prescriptions/{id}/route", post(route))
        .route("/prescriptions/{id}/dispense", post(dispense))
        .route("/prescriptions/{id}/delivery", post(delivery))
        .route("/prescriptions/{id}/settlement/preview", post(presettle))
        .route("/prescriptions/{id}/settlement", post(settle))
        .route("/prescriptions/{id}/settlement/reverse", post(reverse))
        .route("/review", get(queue))
        .route("/my-prescriptions", get(mine))
}

fn status_label(l: Lang, code: &str) -> &'static str {
    RxStatus::parse(code).map_or("", |s| l.t(s.name_zh(), s.name_en()))
}

fn step_label(l: Lang, code: &str) -> &'static str {
    match code {
        "issue" => l.t("医生签发", "issued"),
        "pass" => l.t("药师审核通过", "passed by the pharmacist"),
        "return" => l.t("药师退回", "returned by the pharmacist"),
        "refuse" => l.t("药师拒绝", "refused by the pharmacist"),
        "confirm" => l.t("医生双签确认", "confirmed by the prescriber"),
        "revise" => l.t("医生修改重开", "revised by the prescriber"),
        "cancel" => l.t("作废", "cancelled"),
        _ => "",
    }
}

fn severity_label(l: Lang, rank: i64) -> &'static str {
    match rank {
        0 => l.t("高（禁忌/不推荐）", "high"),
        1 => l.t("中（慎用）", "moderate"),
        2 => l.t("低（关注）", "low"),
        _ => l.t("无问题", "none"),
    }
}

fn route_label(l: Lang, r: gongti_core::pharmacy::Route) -> &'static str {
    l.t(r.name_zh(), r.code())
}

/// The findings kept with a version.
fn findings(l: Lang, findings: &str) -> Markup {
    let list: Vec<Value> = serde_json::from_str::<Value>(findings)
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default();
    html! {
        @if list.is_empty() {
            p.muted { (l.t("软件审核未发现问题", "The screen found nothing")) }
        } @else {
            ul.findings {
                @for f in &list {
                    li class=(format!("finding {}", f["severity"].as_str().unwrap_or("low"))) {
                        @match f["grade"].as_u64().and_then(|g| u8::try_from(g).ok()).and_then(gongti_core::pharmacy::Grade::from_number) {
                            Some(g) => span class=(format!("grade g{}", g.number())) { (super::pharmacy::grade_label(l, g)) },
                            None => span.grade.legal { (l.t("法规", "legal")) },
                        }
                        " " strong { (super::pharmacy::code_label(l, f["code"].as_str().unwrap_or(""))) }
                        br; (l.t(f["message"].as_str().unwrap_or(""), f["message_en"].as_str().unwrap_or("")))
                        br; small.muted { (l.t("依据：", "Basis: ")) (f["basis"].as_str().unwrap_or("")) }
                    }
                }
            }
        }
    }
}

/// The forms of the steps the viewer may take.
fn step_forms(c: &Console, v: &PrescriptionView, kept_reason: &str) -> Markup {
    let l = c.lang;
    let csrf = c.session.csrf.as_deref().unwrap_or("");
    let id = v.record.id;
    let form = |step: Step, reason: bool, password: bool, primary: bool| {
        html! {
            form.step.card method="post" action=(format!("/prescriptions/{id}/step")) {
                (super::form_tokens(csrf))
                input type="hidden" name="step" value=(step.code());
                input type="hidden" name="version" value=(v.record.version);
                @if reason {
                    label { (l.t("理由 ", "Reason ")) input type="text" name="reason" maxlength="200" required value=(kept_reason); }
                    " "
                }
                @if password {
                    label { (l.t("登录密码（电子签名） ", "Your password (to sign) ")) input type="password" name="password" required autocomplete="current-password"; }
                    " "
                }
                button.primary[primary] type="submit" { (l.t(step.name_zh(), step.code())) }
            }
        }
    };
    html! {
        @if !v.may.is_empty() {
            h2 { (l.t("处理", "Act")) }
            @for s in &v.may {
                @match s {
                    Step::Pass => (form(*s, false, true, true)),
                    Step::Return | Step::Refuse | Step::Cancel => (form(*s, true, false, false)),
                    Step::Confirm => (form(*s, true, true, true)),
                    Step::Revise => p { a.button href=(format!("/residents/{}/prescribe?revise={}", v.record.resident_id, v.record.id)) { (l.t("修改重开", "Revise")) } " " span.muted { (l.t("按药师意见修改后重开为新版本，原版本保留。", "Change it as the pharmacist advised and issue a new version; the earlier ones are kept.")) } },
                }
            }
        }
    }
}

fn title(l: Lang, id: i64) -> String {
    format!("{}{id}", l.t("处方 #", "Prescription #"))
}

/// Where the prescription may go: the region's cloud pharmacies, its own institution
/// and the patient's (name by id).
async fn pharmacy_choices(state: &AppState, v: &PrescriptionView) -> Vec<(i64, String)> {
    let mut out: Vec<(i64, String)> = Vec::new();
    let filter = gongti_store::InstitutionFilter {
        kinds: vec![gongti_core::region::InstitutionKind::InternetHospital],
        ..gongti_store::InstitutionFilter::default()
    };
    if let Ok(page) = state.app.institutions(&filter, None, 20).await {
        out.extend(page.items.into_iter().map(|i| (i.id, i.name)));
    }
    let mut add = |id: i64, name: String| {
        if !out.iter().any(|(i, _)| *i == id) {
            out.push((id, name));
        }
    };
    add(v.record.institution_id, v.record.institution_name.clone());
    if let Ok(home) = state.app.store().resident(v.record.resident_id).await
        && let Ok(i) = state.app.institution(home.home_institution_id).await
    {
        add(i.id, i.name);
    }
    out
}

/// Sending it to a pharmacy (the prescriber, once passed and unfilled).
fn route_form(c: &Console, v: &PrescriptionView, choices: &[(i64, String)]) -> Markup {
    let l = c.lang;
    let csrf = c.session.csrf.as_deref().unwrap_or("");
    let id = v.record.id;
    let current = v.route.0;
    let delivery = v.route.1.as_deref() == Some("delivery");
    html! {
        form.card #rx-route method="post" action=(format!("/prescriptions/{id}/route")) {
            h2 { (l.t("处方流转：患者选择药房与取药方式", "Where the patient takes it")) }
            @if let Some(name) = current.and_then(|p| choices.iter().find(|(i, _)| *i == p)).map(|(_, n)| n) {
                p { (l.t("当前：", "Now: ")) strong { (name) } " · " (if delivery { l.t("配送到家", "delivery") } else { l.t("到店自取", "pickup") }) @if delivery { " · " (v.route.2.clone().unwrap_or_default()) } (l.t("。库存不足时可改选其他药房。", ". Move it if the pharmacy is out of stock.")) }
            }
            (super::form_tokens(csrf))
            label { (l.t("药房 ", "Pharmacy ")) select name="pharmacy_id" {
                @for (pid, name) in choices { option value=(pid) selected[current == Some(*pid)] { (name) } }
            } }
            " "
            label.check { input type="radio" name="fulfilment" value="pickup" checked[!delivery]; " " (l.t("到店自取", "pickup")) }
            label.check { input type="radio" name="fulfilment" value="delivery" checked[delivery]; " " (l.t("配送到家", "delivery")) }
            br;
            label { (l.t("配送地址 ", "Delivery address ")) input type="text" name="delivery_address" maxlength="200" value=(v.route.2.clone().unwrap_or_default()); }
            " "
            button.primary type="submit" { (l.t("确定流转", "Send")) }
        }
    }
}

/// Filling it (a pharmacist of the pharmacy it was sent to).
fn dispense_form(c: &Console, v: &PrescriptionView) -> Markup {
    let l = c.lang;
    let csrf = c.session.csrf.as_deref().unwrap_or("");
    let id = v.record.id;
    let delivery = v.route.1.as_deref() == Some("delivery");
    html! {
        form.card #rx-dispense method="post" action=(format!("/prescriptions/{id}/dispense")) {
            h2 { (l.t("调配发药", "Dispense")) }
            (super::form_tokens(csrf))
            p.muted { (l.t("调配前系统核验：处方在有效期内、医生与药师电子签名有效、本药房库存充足。", "Before it is filled: still valid, the signatures verify, enough stock here.")) }
            @if delivery {
                input type="hidden" name="fulfilment" value="delivery";
                p { (l.t("配送到：", "Deliver to: ")) (v.route.2.clone().unwrap_or_default()) }
                button.primary type="submit" { (l.t("调配并打包待配送", "Fill and pack for delivery")) }
            } @else {
                input type="hidden" name="fulfilment" value="pickup";
                label { (l.t("取药人姓名 ", "Collector's name ")) input type="text" name="collector_name" maxlength="50" required; }
                " "
                label { (l.t("取药人身份证号 ", "Collector's ID number ")) input type="text" name="collector_id_number" maxlength="18" required; }
                " "
                label.check { input type="checkbox" name="by_agent" value="1"; " " (l.t("代取（非患者本人）", "an agent, not the patient")) }
                " "
                button.primary type="submit" { (l.t("核对身份并发药", "Check identity and hand over")) }
            }
        }
    }
}

/// The fill: the products, the handover, the delivery's steps so far, and for the
/// pharmacy's staff the next steps.
fn fill_section(
    c: &Console,
    v: &PrescriptionView,
    kb: &gongti_core::pharmacy::Knowledge,
    staff: bool,
) -> Markup {
    let l = c.lang;
    let csrf = c.session.csrf.as_deref().unwrap_or("");
    let Some(f) = &v.fill else { return html! {} };
    let id = v.record.id;
    let status = gongti_core::pharmacy::dispense::FillStatus::parse(&f.status);
    let next: Vec<gongti_core::pharmacy::dispense::DeliveryStep> = match status {
        Some(s) if staff => gongti_core::pharmacy::dispense::DeliveryStep::ALL
            .into_iter()
            .filter(|d| gongti_core::pharmacy::dispense::delivery_step(s, *d).is_some())
            .collect(),
        _ => Vec::new(),
    };
    html! {
        div.card #rx-fill {
            h2 { (l.t("调配与取药", "Filled")) " · " (status.map_or("", |s| s.name_zh())) }
            p { (f.pharmacy_name) " · " (l.t("调配药师 ", "by ")) (f.staff_name) " · " (local(f.dispensed_at_us)) }
            ul {
                @for line in &f.lines {
                    @let p = kb.product(&line.product_code);
                    li { (p.map_or(line.product_code.as_str(), |p| p.name_zh.as_str())) " × " (line.packs) (p.map_or("", |p| p.pack_unit.as_str())) " · " (crate::views::yuan(line.amount_fen)) (l.t(" 元", " yuan")) }
                }
            }
            @if let Some(name) = &f.collector_name {
                p { (l.t("取药人：", "Collected by: ")) (name) " " (f.collector_id_number.as_deref().map(crate::views::masked_id_text).unwrap_or_default()) @if f.by_agent { (l.t("（代取）", " (agent)")) } }
            }
            @if let Some(address) = &f.delivery_address { p { (l.t("配送地址：", "Address: ")) (address) } }
            @if f.events.len() > 1 {
                ol { @for e in &f.events { li { (local(e.at_us)) " " (gongti_core::pharmacy::dispense::FillStatus::parse(&e.status).map_or("", |s| s.name_zh())) @if let Some(n) = &e.note { "：" (n) } } } }
            }
            @for d in next {
                form.step method="post" action=(format!("/prescriptions/{id}/delivery")) {
                    (super::form_tokens(csrf))
                    input type="hidden" name="step" value=(d.code());
                    @if d == gongti_core::pharmacy::dispense::DeliveryStep::Deliver {
                        label { (l.t("收件人签收码 ", "Recipient's code ")) input type="text" name="recipient_code" maxlength="6" inputmode="numeric" required class="num-m"; }
                        " "
                    }
                    @if d == gongti_core::pharmacy::dispense::DeliveryStep::Fail {
                        label { (l.t("原因 ", "Why ")) input type="text" name="note" maxlength="200" required; }
                        " "
                    }
                    button type="submit" { (l.t(d.name_zh(), d.code())) }
                }
            }
        }
    }
}

/// What the page shows beyond the prescription: the forms of outflow and dispensing
/// for whoever may use them.
struct Extras {
    choices: Vec<(i64, String)>,
    /// The viewer works at the pharmacy it was sent to (or that filled it).
    at_pharmacy: bool,
    /// The viewer may settle it with insurance (its prescriber, or that pharmacy).
    settles: bool,
    /// Its settlements, the newest first.
    settlements: Vec<gongti_store::SettlementRecord>,
    /// A pre-settlement just asked for.
    preview: Option<gongti_app::insurance::SettlementAnswer>,
}

async fn extras(state: &AppState, c: &Console, v: &PrescriptionView) -> Extras {
    let p = &c.session.principal;
    let prescriber = p.staff_id == v.record.prescriber_staff_id;
    let passed = v.record.status == RxStatus::Passed.code();
    let at_pharmacy = p.role == gongti_core::role::Role::Pharmacist
        && p.institution_id.is_some()
        && v.route.0 == p.institution_id;
    Extras {
        choices: if prescriber && passed {
            pharmacy_choices(state, v).await
        } else {
            Vec::new()
        },
        at_pharmacy,
        settles: prescriber || at_pharmacy,
        settlements: state
            .app
            .store()
            .settlements_of(v.record.id)
            .await
            .unwrap_or_default(),
        preview: None,
    }
}

/// 医保结算: the settlement in force (or reversed), a pre-settlement shown with its
/// confirmation, or the button that asks for one.
fn settlement_section(c: &Console, v: &PrescriptionView, x: &Extras) -> Markup {
    let l = c.lang;
    let csrf = c.session.csrf.as_deref().unwrap_or("");
    let id = v.record.id;
    let in_force = x.settlements.iter().find(|s| s.status == "settled");
    let passed = v.record.status == RxStatus::Passed.code();
    let yuan = |fen: i64| format!("{} {}", crate::views::yuan(fen), l.t("元", "yuan"));
    if in_force.is_none() && x.preview.is_none() && !(passed && x.settles) {
        return html! {};
    }
    html! {
        div.card #rx-settlement {
            h2 { (l.t("门特医保结算", "门特 insurance settlement")) }
            @if let Some(s) = in_force {
                @let f = &s.figures;
                p { (l.t("已结算 ", "Settled ")) code { (s.setl_id) } " · " (local(s.settled_at_us)) }
                dl.profile {
                    dt { (l.t("药费合计", "Total")) } dd { (yuan(f.total_fen)) }
                    dt { (l.t("医保基金支付", "Fund")) } dd { (yuan(f.fund_fen)) }
                    dt { (l.t("个人账户支付", "Personal account")) } dd { (yuan(f.account_fen)) }
                    dt { (l.t("个人现金支付", "Cash")) } dd { strong { (yuan(f.cash_fen)) } }
                    dt { (l.t("本次起付线", "Deductible")) } dd { (yuan(f.deductible_fen)) }
                    dt { (l.t("政策版本", "Policy")) } dd { (s.policy_version) (l.t("（演示参数）", " (demo values)")) }
                }
                @if passed && c.session.principal.staff_id == v.record.prescriber_staff_id {
                    form.step method="post" action=(format!("/prescriptions/{id}/settlement/reverse")) {
                        (super::form_tokens(csrf))
                        button type="submit" { (l.t("冲销结算", "Reverse the settlement")) }
                    }
                }
            } @else if let Some(a) = &x.preview {
                p { (l.t("预结算（未扣费）：请向患者说明个人支付部分，患者确认后再结算。", "Pre-settlement (nothing charged): tell the patient their share; settle once they agree.")) }
                div.table-wrap { table {
                    thead { tr { th { (l.t("药品", "Product")) } th { (l.t("数量", "Packs")) } th { (l.t("类别", "Class")) } th { (l.t("金额", "Amount")) } th { (l.t("先行自付", "乙 first share")) } th { (l.t("政策范围内", "In scope")) } th { (l.t("全自费", "Self-pay")) } } }
                    tbody { @for line in &a.lines { tr {
                        td { (line.name) } td { (line.packs) }
                        td { (match line.class { "01" => "甲", "02" => "乙", _ => l.t("自费", "self-pay") }) }
                        td { (crate::views::yuan(line.amount_fen)) } td { (crate::views::yuan(line.pre_self_fen)) }
                        td { (crate::views::yuan(line.in_scope_fen)) } td { (crate::views::yuan(line.fully_self_fen + line.over_cap_fen)) }
                    } } }
                } }
                dl.profile {
                    dt { (l.t("药费合计", "Total")) } dd { (yuan(a.total_fen)) }
                    dt { (l.t("医保基金支付", "Fund")) } dd { (yuan(a.fund_fen)) }
                    dt { (l.t("个人账户支付", "Personal account")) } dd { (yuan(a.account_fen)) }
                    dt { (l.t("个人现金支付", "Cash")) } dd { strong { (yuan(a.cash_fen)) } }
                    dt { (l.t("政策版本", "Policy")) } dd { (a.policy_version) (l.t("（演示参数）", " (demo values)")) }
                }
                form.step method="post" action=(format!("/prescriptions/{id}/settlement")) {
                    (super::form_tokens(csrf))
                    input type="hidden" name="expected_cash_fen" value=(a.cash_fen);
                    input type="hidden" name="use_account" value=(if a.account_fen > 0 { "1" } else { "" });
                    button.primary type="submit" { (l.t("患者已确认，结算", "The patient agrees: settle")) }
                }
            } @else {
                form.step method="post" action=(format!("/prescriptions/{id}/settlement/preview")) {
                    (super::form_tokens(csrf))
                    label.check { input type="checkbox" name="use_account" value="1"; " " (l.t("使用个人账户", "pay from the personal account")) }
                    " "
                    button.primary type="submit" { (l.t("医保预结算", "Pre-settle with insurance")) }
                }
                @for s in x.settlements.iter().filter(|s| s.status == "reversed") {
                    p.muted { (l.t("已冲销的结算 ", "Reversed: ")) code { (s.setl_id) } " · " (s.reversed_at_us.map(local).unwrap_or_default()) }
                }
            }
        }
    }
}

fn detail(
    c: &Console,
    v: &PrescriptionView,
    notice: Option<Markup>,
    reason: &str,
    x: &Extras,
    kb: &gongti_core::pharmacy::Knowledge,
) -> Markup {
    let l = c.lang;
    let r = &v.record;
    let content = &v.content;
    let current = v.versions.iter().find(|x| x.version == r.version);
    html! {
        h1 { (title(l, r.id)) " · " (status_label(l, &r.status)) }
        @if let Some(n) = notice { (n) }
        div.card {
            dl.profile {
                // The record is the care team's; a pharmacist sees the prescription only.
                dt { (l.t("患者", "Patient")) } dd {
                    @if c.session.principal.role.is_clinical() && c.session.principal.role != gongti_core::role::Role::Pharmacist {
                        a href=(format!("/residents/{}", r.resident_id)) { (r.resident_name) }
                    } @else { (r.resident_name) }
                    " · " (content.birth_date)
                }
                dt { (l.t("开具机构", "Institution")) } dd { (r.institution_name) }
                dt { (l.t("开具医生", "Prescriber")) } dd { (r.prescriber_name) }
                dt { (l.t("就诊方式", "Channel")) } dd { (l.t(content.channel.name_zh(), content.channel.code())) " · " (l.t(content.kind.name_zh(), content.kind.code())) " · " (l.t("有效期 ", "valid ")) (content.validity_days) (l.t(" 天", " days")) }
                dt { (l.t("诊断", "Diagnoses")) } dd { (content.diagnoses.join("、")) }
                dt { (l.t("开具时间", "Issued")) } dd { (local(r.issued_at_us)) " · " (l.t("第 ", "version ")) (r.version) (l.t(" 版", "")) }
                @if r.confirmed { dt { (l.t("医生双签", "Second signature")) } dd { (l.t("已确认", "given")) } }
            }
        }
        div.card.table-wrap {
            h2 { (l.t("处方药品", "Drugs")) }
            table {
                thead { tr { th { "#" } th { (l.t("通用名", "Generic name")) } th { (l.t("单次剂量", "Dose")) } th { (l.t("每日次数", "Times a day")) } th { (l.t("途径", "Route")) } th { (l.t("天数", "Days")) } } }
                tbody {
                    @for (i, line) in content.lines.iter().enumerate() {
                        tr { td { (i + 1) } td { (line.generic_name) } td { (gongti_core::pharmacy::knowledge::amount_text(line.dose)) " " (line.dose_unit) } td { (line.times_per_day) } td { (route_label(l, line.route)) } td { (line.days) } }
                    }
                }
            }
        }
        @if let Some(cur) = current {
            div.card {
                h2 { (l.t("软件审核结果", "The screen's findings")) }
                (findings(l, &cur.findings))
                p.muted { small { (l.t("知识库版本 ", "Knowledge base ")) (cur.ruleset_version) } }
            }
        }
        (step_forms(c, v, reason))
        @if !x.choices.is_empty() { (route_form(c, v, &x.choices)) }
        @if x.at_pharmacy && v.record.status == RxStatus::Passed.code() { (dispense_form(c, v)) }
        (settlement_section(c, v, x))
        (fill_section(c, v, kb, x.at_pharmacy))
        div.card.table-wrap {
            h2 { (l.t("处方轨迹", "Trail")) }
            table {
                thead { tr { th { (l.t("时间", "When")) } th { (l.t("操作", "Step")) } th { (l.t("人员", "By")) } th { (l.t("版本", "Version")) } th { (l.t("理由", "Reason")) } th { (l.t("电子签名", "Signature")) } } }
                tbody {
                    @for (s, ok) in v.steps.iter().zip(&v.steps_verified) {
                        tr {
                            td { (local(s.at_us)) } td { (step_label(l, &s.step)) } td { (s.staff_name) } td { (s.version) }
                            td { (s.reason.as_deref().unwrap_or("")) }
                            td { @match ok { Some(true) => (l.t("✓ 验证通过", "✓ verified")), Some(false) => strong.alert { (l.t("✗ 验证失败", "✗ does not verify")) }, None => "—" } }
                        }
                    }
                }
            }
            p.muted { small {
                @for (ver, ok) in v.versions.iter().zip(&v.versions_verified) {
                    (l.t("第 ", "Version ")) (ver.version) (l.t(" 版摘要 ", " digest ")) code { (&ver.digest[..16.min(ver.digest.len())]) "…" }
                    (if *ok { l.t("（签名有效）", " (signature valid)") } else { l.t("（签名无效）", " (signature NOT valid)") }) br;
                }
            } }
        }
    }
}

/// The page again with why the action failed, at the error's status.
async fn again(
    state: &AppState,
    c: &Console,
    id: i64,
    e: &gongti_app::AppError,
    reason: &str,
) -> Response {
    let l = c.lang;
    match state.app.prescription(&c.ctx, id).await {
        Ok(v) => {
            let x = extras(state, c, &v).await;
            (
                super::status_of(e),
                layout(
                    c,
                    &title(l, id),
                    detail(
                        c,
                        &v,
                        Some(error_box(l, e)),
                        reason,
                        &x,
                        state.app.knowledge(),
                    ),
                ),
            )
                .into_response()
        }
        Err(_) => error_page(c, &title(l, id), e),
    }
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
    c: Console,
    Path(id): Path<i64>,
    Form(f): Form<RouteForm>,
) -> Response {
    if !super::csrf_ok(&c, &f.csrf) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let fulfilment = gongti_core::pharmacy::dispense::Fulfilment::parse(&f.fulfilment)
        .unwrap_or(gongti_core::pharmacy::dispense::Fulfilment::Pickup);
    match state
        .app
        .route_prescription(
            &c.ctx,
            id,
            f.pharmacy_id,
            fulfilment,
            f.delivery_address.as_deref(),
        )
        .await
    {
        Ok(()) => Redirect::to(&format!("/prescriptions/{id}?done=route")).into_response(),
        Err(e) => again(&state, &c, id, &e, "").await,
    }
}

#[derive(Deserialize)]
struct DispenseForm {
    csrf: String,
    fulfilment: String,
    collector_name: Option<String>,
    collector_id_number: Option<String>,
    by_agent: Option<String>,
}

async fn dispense(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Form(f): Form<DispenseForm>,
) -> Response {
    if !super::csrf_ok(&c, &f.csrf) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let handover = if f.fulfilment == "delivery" {
        gongti_app::pharmacy::Handover::Delivery
    } else {
        gongti_app::pharmacy::Handover::Pickup {
            collector_name: f.collector_name.unwrap_or_default(),
            collector_id_number: f.collector_id_number.unwrap_or_default(),
            by_agent: f.by_agent.is_some(),
        }
    };
    match state.app.dispense(&c.ctx, id, handover).await {
        Ok(_) => Redirect::to(&format!("/prescriptions/{id}?done=dispense")).into_response(),
        Err(e) => again(&state, &c, id, &e, "").await,
    }
}

#[derive(Deserialize)]
struct DeliveryForm {
    csrf: String,
    step: String,
    recipient_code: Option<String>,
    note: Option<String>,
}

async fn delivery(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Form(f): Form<DeliveryForm>,
) -> Response {
    if !super::csrf_ok(&c, &f.csrf) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let Some(step) = gongti_core::pharmacy::dispense::DeliveryStep::parse(&f.step) else {
        return again(
            &state,
            &c,
            id,
            &gongti_app::AppError::invalid("step", gongti_core::problem::Problem::UnknownCode),
            "",
        )
        .await;
    };
    match state
        .app
        .delivery_step(
            &c.ctx,
            id,
            step,
            f.recipient_code.as_deref(),
            f.note.as_deref(),
        )
        .await
    {
        Ok(_) => Redirect::to(&format!(
            "/prescriptions/{id}?done=delivery_{}",
            step.code()
        ))
        .into_response(),
        Err(e) => again(&state, &c, id, &e, "").await,
    }
}

#[derive(Deserialize)]
struct SettlementForm {
    csrf: String,
    use_account: Option<String>,
    expected_cash_fen: Option<i64>,
}

async fn presettle(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Form(f): Form<SettlementForm>,
) -> Response {
    let l = c.lang;
    if !super::csrf_ok(&c, &f.csrf) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let use_account = f.use_account.as_deref().is_some_and(|v| !v.is_empty());
    match state
        .app
        .presettle_prescription(&c.ctx, id, use_account)
        .await
    {
        Ok(answer) => match state.app.prescription(&c.ctx, id).await {
            Ok(v) => {
                let mut x = extras(&state, &c, &v).await;
                x.preview = Some(answer);
                layout(
                    &c,
                    &title(l, id),
                    detail(&c, &v, None, "", &x, state.app.knowledge()),
                )
                .into_response()
            }
            Err(e) => error_page(&c, &title(l, id), &e),
        },
        Err(e) => again(&state, &c, id, &e, "").await,
    }
}

async fn settle(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Form(f): Form<SettlementForm>,
) -> Response {
    if !super::csrf_ok(&c, &f.csrf) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let use_account = f.use_account.as_deref().is_some_and(|v| !v.is_empty());
    match state
        .app
        .settle_prescription(&c.ctx, id, use_account, f.expected_cash_fen.unwrap_or(-1))
        .await
    {
        Ok(_) => Redirect::to(&format!("/prescriptions/{id}?done=settle")).into_response(),
        Err(e) => again(&state, &c, id, &e, "").await,
    }
}

async fn reverse(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Form(f): Form<SettlementForm>,
) -> Response {
    if !super::csrf_ok(&c, &f.csrf) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    match state.app.reverse_prescription_settlement(&c.ctx, id).await {
        Ok(()) => Redirect::to(&format!("/prescriptions/{id}?done=reverse")).into_response(),
        Err(e) => again(&state, &c, id, &e, "").await,
    }
}

#[derive(Deserialize, Default)]
struct PageParams {
    done: Option<String>,
}

async fn page(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Query(q): Query<PageParams>,
) -> Response {
    let l = c.lang;
    match state.app.prescription(&c.ctx, id).await {
        Ok(v) => {
            let notice = q.done.as_deref().and_then(|d| {
                let label = match d {
                    "issue" => l.t(
                        "处方已签发，进入药师审核队列",
                        "Issued; it is in the pharmacists' queue",
                    ),
                    "route" => l.t("已流转到所选药房", "Sent to the chosen pharmacy"),
                    "dispense" => l.t("已调配", "Filled"),
                    "settle" => l.t(
                        "医保结算完成，患者只需支付个人部分",
                        "Settled: the patient pays only their share",
                    ),
                    "reverse" => l.t("结算已冲销", "The settlement was reversed"),
                    other => match other
                        .strip_prefix("delivery_")
                        .and_then(gongti_core::pharmacy::dispense::DeliveryStep::parse)
                    {
                        Some(s) => l.t(s.name_zh(), s.code()),
                        None => step_label(l, other),
                    },
                };
                (!label.is_empty())
                    .then(|| html! { p.saved role="status" { (label) (l.t("。", ".")) } })
            });
            let x = extras(&state, &c, &v).await;
            layout(
                &c,
                &title(l, id),
                detail(&c, &v, notice, "", &x, state.app.knowledge()),
            )
            .into_response()
        }
        Err(e) => error_page(&c, &title(l, id), &e),
    }
}

#[derive(Deserialize)]
struct StepForm {
    csrf: String,
    step: String,
    version: Option<i64>,
    reason: Option<String>,
    password: Option<String>,
}

async fn step(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Form(f): Form<StepForm>,
) -> Response {
    let l = c.lang;
    if !super::csrf_ok(&c, &f.csrf) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let Some(step) = Step::parse(&f.step).filter(|s| *s != Step::Revise) else {
        return error_page(
            &c,
            &title(l, id),
            &gongti_app::AppError::invalid("step", gongti_core::problem::Problem::UnknownCode),
        );
    };
    let reason = f.reason.clone().unwrap_or_default();
    let taken = state
        .app
        .prescription_step(
            &c.ctx,
            id,
            StepRequest {
                step,
                reason: f.reason,
                password: f.password,
                revision: None,
                version: f.version,
            },
        )
        .await;
    match taken {
        Ok(_) => Redirect::to(&format!("/prescriptions/{id}?done={}", step.code())).into_response(),
        Err(e) => again(&state, &c, id, &e, &reason).await,
    }
}

/// A list of prescriptions as a table.
fn table(l: Lang, items: &[PrescriptionRecord], waiting: bool) -> Markup {
    html! {
        div.table-wrap {
            table {
                thead { tr {
                    th { (l.t("处方", "Prescription")) } th { (l.t("患者", "Patient")) } th { (l.t("开具机构", "Institution")) } th { (l.t("医生", "Prescriber")) }
                    th { (l.t("问题程度", "Most severe")) } th { (l.t("状态", "Status")) } th { (if waiting { l.t("等待自", "Waiting since") } else { l.t("开具时间", "Issued") }) }
                } }
                tbody {
                    @for p in items {
                        tr {
                            td { a href=(format!("/prescriptions/{}", p.id)) { "#" (p.id) } }
                            td { (p.resident_name) } td { (p.institution_name) } td { (p.prescriber_name) }
                            td { (severity_label(l, p.queue_rank)) }
                            td { (status_label(l, &p.status)) @if p.confirmed { (l.t("（已双签）", " (confirmed)")) } }
                            td { (local(if waiting { p.waiting_since_us } else { p.issued_at_us })) }
                        }
                    }
                }
            }
        }
    }
}

#[derive(Deserialize, Default)]
struct ListParams {
    cursor: Option<String>,
    status: Option<String>,
}

async fn queue(State(state): State<AppState>, c: Console, Query(q): Query<ListParams>) -> Response {
    let l = c.lang;
    let title = l.t("处方审核", "Prescription review");
    // A cursor that does not read starts from the top of the queue.
    let after = crate::api::decode_queue_cursor(q.cursor.as_deref()).unwrap_or_default();
    match state.app.review_queue(&c.ctx, after, crate::PAGE_SIZE_DEFAULT).await {
        Ok(page) => layout(&c, title, html! {
            h1 { (title) }
            p.muted { (l.t("待审处方 ", "Waiting: ")) strong { (page.waiting) } (l.t(" 张。问题最严重的在前，同等程度按等待时间。", ". The most severe first, then the longest waiting.")) }
            @if page.items.is_empty() {
                p.card { (l.t("目前没有待审核的处方。", "No prescription waits for review.")) }
            } @else {
                (table(l, &page.items, true))
            }
            @if let Some(next) = page.next {
                p.pager { a href=(format!("/review?cursor={}", crate::api::encode_queue_cursor(next))) { (l.t("下一页 →", "Next page →")) } }
            }
        }).into_response(),
        Err(e) => error_page(&c, title, &e),
    }
}

async fn mine(State(state): State<AppState>, c: Console, Query(q): Query<ListParams>) -> Response {
    let l = c.lang;
    let title = l.t("我的处方", "My prescriptions");
    let status = q.status.as_deref().and_then(RxStatus::parse);
    let after = crate::extract::decode_cursor(q.cursor.as_deref())
        .ok()
        .flatten();
    match state.app.my_prescriptions(&c.ctx, status, after, crate::PAGE_SIZE_DEFAULT).await {
        Ok(page) => layout(&c, title, html! {
            h1 { (title) }
            nav.tabs {
                a href="/my-prescriptions" { (l.t("全部", "All")) }
                @for s in RxStatus::ALL {
                    a href=(format!("/my-prescriptions?status={}", s.code())) { (l.t(s.name_zh(), s.name_en())) }
                }
            }
            @if page.items.is_empty() {
                p.card { (l.t("没有处方。在患者页面点“开处方”开具。", "No prescription. Issue one from a patient's page (Prescribe).")) }
            } @else {
                (table(l, &page.items, false))
            }
            @if let Some(next) = page.next_after {
                p.pager { a href=(format!("/my-prescriptions?cursor={}{}", crate::extract::encode_cursor(next), status.map(|s| format!("&status={}", s.code())).unwrap_or_default())) { (l.t("下一页 →", "Next page →")) } }
            }
        }).into_response(),
        Err(e) => error_page(&c, title, &e),
    }
}
