//! The prescription check in the console (处方预审, DOMAIN.md §4): a prescriber drafts
//! up to five lines for a resident and sees every finding — legal ones that would block
//! issuing, clinical ones graded for the pharmacist — as they type (the form is posted
//! to the check route by the console's live script and the panel swapped in; without a
//! script, the 检查 button does the same). The resident's age, sex, diagnoses and
//! current drugs come from the record; nothing is saved, the read is audited.

use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use gongti_app::pharmacy::{
    CheckAnswer, CheckRequest, IssueRequest, NotIssued, PatientInput, PrescriberInput,
};
use gongti_core::pharmacy::check::{Channel, DraftLine, LongRx, RxKind, Visit};
use gongti_core::pharmacy::knowledge::Grade;
use gongti_core::pharmacy::{Hepatic, Route, Severity, Verdict};
use maud::{Markup, PreEscaped, html};

use super::{Console, Lang, error_box, error_page, layout};
use crate::AppState;

/// Lines the form offers (the law allows five; a sixth is a finding, not a row).
const FORM_LINES: usize = 5;

pub(super) fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/residents/{id}/prescribe", get(page))
        .route("/residents/{id}/prescribe/check", post(check))
        .route("/residents/{id}/prescribe/issue", post(issue))
        .route("/residents/{id}/prescribe/revise", post(revise))
}

/// The value of a form field, trimmed ("" when absent).
fn field<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.trim())
}

fn number(pairs: &[(String, String)], name: &str) -> Option<f64> {
    field(pairs, name)
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
}

fn whole(pairs: &[(String, String)], name: &str) -> Option<u32> {
    field(pairs, name).parse::<u32>().ok()
}

fn ticked(pairs: &[(String, String)], name: &str) -> bool {
    !field(pairs, name).is_empty()
}

/// The form's draft as the check takes it; the record fills the patient.
fn request(resident_id: i64, pairs: &[(String, String)]) -> CheckRequest {
    let list = |name: &str| -> Vec<String> {
        field(pairs, name)
            .split([',', '，', '、', ';', '；'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let long = ticked(pairs, "long").then(|| LongRx {
        first: ticked(pairs, "long_first"),
        assessment_recorded: ticked(pairs, "long_assessed"),
        patient_confirmed: ticked(pairs, "long_confirmed"),
    });
    let lines = (0..FORM_LINES)
        .filter(|i| !field(pairs, &format!("line{i}_name")).is_empty())
        .map(|i| DraftLine {
            generic_name: field(pairs, &format!("line{i}_name")).to_owned(),
            dose: number(pairs, &format!("line{i}_dose")),
            dose_unit: Some(field(pairs, &format!("line{i}_unit")).to_owned()),
            times_per_day: whole(pairs, &format!("line{i}_times")),
            route: Route::parse(field(pairs, &format!("line{i}_route"))),
            days: whole(pairs, &format!("line{i}_days")),
        })
        .collect();
    CheckRequest {
        resident_id: Some(resident_id),
        patient: PatientInput {
            weight_kg: number(pairs, "weight_kg"),
            pregnant: ticked(pairs, "pregnant"),
            lactating: ticked(pairs, "lactating"),
            egfr_ml_min: number(pairs, "egfr_ml_min"),
            hepatic: Hepatic::parse(field(pairs, "hepatic")),
            allergies: list("allergies"),
            ..PatientInput::default()
        },
        prescriber: PrescriberInput::default(),
        visit: Visit {
            channel: if field(pairs, "channel") == "online" {
                Channel::Online
            } else {
                Channel::Clinic
            },
            offline_diagnoses: Vec::new(),
            guardian_present: ticked(pairs, "guardian"),
            specialist_present: ticked(pairs, "specialist"),
        },
        kind: match field(pairs, "kind") {
            "emergency" => RxKind::Emergency,
            "paediatric" => RxKind::Paediatric,
            _ => RxKind::Normal,
        },
        validity_days: whole(pairs, "validity_days").unwrap_or(1),
        long,
        supply_reason: !field(pairs, "supply_reason").is_empty(),
        lines,
    }
}

/// A PASS grade in the viewer's language (the core names it in Chinese).
pub(super) fn grade_label(l: Lang, g: Grade) -> &'static str {
    let en = match g {
        Grade::Contraindicated => "contraindicated",
        Grade::NotRecommended => "not recommended",
        Grade::Caution => "caution",
        Grade::Note => "note",
    };
    l.t(g.name_zh(), en)
}

/// The finding codes' names as a pharmacist says them.
pub(super) fn code_label(l: Lang, code: &str) -> &'static str {
    let (zh, en) = match code {
        "online_first_visit" => ("非复诊（无线下诊断）", "not a repeat visit"),
        "online_controlled_drug" => ("网上禁开麻精药品", "controlled drug online"),
        "online_child_unattended" => ("6岁以下无监护人及专科医师", "child under 6 unattended"),
        "prescriber_not_qualified" => ("处方权限不符", "prescriber not qualified"),
        "too_many_drugs" => ("超过5种药品", "more than 5 drugs"),
        "as_directed" => ("用法用量不明确", "dose, frequency or route missing"),
        "supply_over_limit" => ("用药天数超限", "supply over the limit"),
        "long_rx_excluded_drug" => ("不得开具长期处方", "excluded from long prescriptions"),
        "validity_over_limit" => ("有效期超限", "validity over the limit"),
        "dose_over_max" => ("超剂量", "dose over the maximum"),
        "dose_under_min" => ("剂量偏低", "dose under the minimum"),
        "frequency_out_of_range" => ("给药频次不当", "frequency out of range"),
        "duplicate_therapy" => ("重复用药", "duplicate therapy"),
        "interaction" => ("相互作用", "interaction"),
        "allergy" => ("过敏", "allergy"),
        "contraindicated_pregnancy" => ("妊娠期禁忌", "pregnancy"),
        "contraindicated_lactation" => ("哺乳期禁忌", "lactation"),
        "contraindicated_renal" => ("肾功能禁忌", "renal function"),
        "contraindicated_hepatic" => ("肝功能禁忌", "hepatic function"),
        "contraindicated_age" => ("年龄禁忌", "age"),
        "indication_mismatch" => ("无适应症用药", "no indication"),
        _ => ("", ""),
    };
    l.t(zh, en)
}

/// The judgement: the verdict, then each finding with its grade, lines and basis.
fn panel(l: Lang, answer: &CheckAnswer) -> Markup {
    match answer {
        Err(problems) => html! {
            div.error role="alert" {
                (l.t("处方草稿有误，无法检查：", "The draft cannot be checked: "))
                @for p in &problems.fields {
                    @let (zh, en) = crate::error::problem_text(p);
                    @let name = crate::wording::field(p.field).map_or(p.field, |(z, e)| l.t(z, e));
                    br; (name) (l.t("：", ": ")) (l.t(&zh, &en))
                }
                @for (i, p) in &problems.lines {
                    @let (zh, en) = crate::error::problem_text(p);
                    @let name = crate::wording::field(p.field).map_or(p.field, |(z, e)| l.t(z, e));
                    br; (l.t("第", "line ")) (i + 1) (l.t("行 ", " ")) (name) (l.t("：", ": ")) (l.t(&zh, &en))
                }
            }
        },
        Ok(j) => {
            let (class, zh, en) = match j.verdict {
                Verdict::Blocked => (
                    "card urgent",
                    "不可开具：请先处理红色标出的法规问题",
                    "Cannot be issued: resolve the legal findings first",
                ),
                Verdict::Flagged => (
                    "card refer",
                    "可以开具，由药师审核以下问题",
                    "May be issued; the pharmacist reviews the findings below",
                ),
                Verdict::Clear => (
                    "card ok",
                    "未发现问题（线上处方仍需药师审核签名）",
                    "No finding (an online prescription still needs the pharmacist's signature)",
                ),
            };
            html! {
                div class=(class) role="status" {
                    p { strong { (l.t(zh, en)) } }
                    @if !j.findings.is_empty() {
                        ul.findings {
                            @for f in &j.findings {
                                @let sev = match f.severity() { Severity::High => "high", Severity::Moderate => "moderate", Severity::Low => "low" };
                                li class=(format!("finding {sev}")) {
                                    @match f.grade {
                                        Some(g) => span class=(format!("grade g{}", g.number())) { (grade_label(l, g)) },
                                        None => span.grade.legal { (l.t("法规", "legal")) },
                                    }
                                    " " strong { (code_label(l, f.code.code())) }
                                    @if !f.lines.is_empty() {
                                        " " span.muted { (l.t("第", "line ")) (f.lines.iter().map(|i| (i + 1).to_string()).collect::<Vec<_>>().join(l.t("、", ", "))) (l.t("行", "")) }
                                    }
                                    br; (l.t(&f.message_zh, &f.message_en))
                                    br; small.muted { (l.t("依据：", "Basis: ")) (f.basis) }
                                }
                            }
                        }
                    }
                    p.muted { small { (l.t("知识库版本 ", "Knowledge base ")) (j.ruleset_version) } }
                }
            }
        }
    }
}

fn options(current: &str, items: &[(&str, &str, &str)], l: Lang) -> Markup {
    html! {
        @for (value, zh, en) in items {
            option value=(value) selected[current == *value] { (l.t(zh, en)) }
        }
    }
}

/// The prescribing form, keeping what was typed.
fn form(
    c: &Console,
    resident_id: i64,
    pairs: &[(String, String)],
    answer: Option<Markup>,
    names: &[(String, String)],
) -> Markup {
    let l = c.lang;
    let csrf = c.session.csrf.as_deref().unwrap_or("");
    let v = |name: &str| field(pairs, name).to_owned();
    let on = |name: &str| ticked(pairs, name);
    let routes: Vec<(&str, &str, &str)> = Route::ALL
        .iter()
        .map(|r| (r.code(), r.name_zh(), r.code()))
        .collect();
    let units = [
        ("mg", "mg", "mg"),
        ("g", "g", "g"),
        ("μg", "μg", "μg"),
        ("IU", "IU（单位）", "IU"),
    ];
    html! {
        form #rx-form method="post" action=(format!("/residents/{resident_id}/prescribe/check")) data-live="rx-findings" {
            (super::form_tokens(csrf))
            datalist #rx-drugs { @for (zh, en) in names { option value=(zh) { (en) } } }
            div.card {
                h2 { (l.t("就诊与处方", "Visit and prescription")) }
                @if v("online_visit_id").is_empty() {
                    // Online prescriptions are written in an online visit (在线复诊); a
                    // revision keeps the channel it was issued in.
                    @let online = v("channel") == "online";
                    input type="hidden" name="channel" value=(if online { "online" } else { "clinic" });
                    span { (l.t("就诊方式：", "Channel: ")) (if online { l.t("互联网复诊", "online repeat visit") } else { l.t("门诊", "clinic") }) }
                } @else {
                    input type="hidden" name="channel" value="online";
                    input type="hidden" name="online_visit_id" value=(v("online_visit_id"));
                    p { (l.t("在线复诊 ", "Online repeat visit ")) a href=(format!("/online-visits/{}", v("online_visit_id"))) { "#" (v("online_visit_id")) } (l.t("：签发后复诊结束，处方交药师审核。", ": issuing ends the visit; the prescription goes to a pharmacist.")) }
                    @if !v("prefilled").is_empty() { p.muted { (l.t("已按上次处方预填药品，请逐项核对、修改后再签发。", "The last prescription's drugs are filled in: check and change each before signing.")) } }
                }
                " "
                label { (l.t("处方类别 ", "Kind "))
                    select name="kind" { (options(&v("kind"), &[("normal", "普通", "normal"), ("emergency", "急诊", "emergency"), ("paediatric", "儿科", "paediatric")], l)) } }
                " "
                label { (l.t("有效期（天） ", "Valid for (days) ")) input type="number" name="validity_days" min="1" max="365" value=(if v("validity_days").is_empty() { "1".to_owned() } else { v("validity_days") }) class="num-m"; }
                br;
                label.check { input type="checkbox" name="long" value="1" checked[on("long")]; " " (l.t("长期处方", "Long prescription")) }
                label.check { input type="checkbox" name="long_first" value="1" checked[on("long_first")]; " " (l.t("首次长期处方", "first one")) }
                label.check { input type="checkbox" name="long_assessed" value="1" checked[on("long_assessed")]; " " (l.t("已记录评估", "assessment recorded")) }
                @if v("online_visit_id").is_empty() {
                    label.check { input type="checkbox" name="long_confirmed" value="1" checked[on("long_confirmed")]; " " (l.t("患者已确认", "patient confirmed")) }
                } @else {
                    span.muted { (l.t("患者确认：以患者在手机上的确认为准", "the patient's confirmation: theirs, on the phone")) }
                }
                br;
                label { (l.t("超过7天的理由（慢性病、老年病等） ", "Reason for more than 7 days ")) input type="text" name="supply_reason" maxlength="200" value=(v("supply_reason")); }
            }
            div.card {
                h2 { (l.t("患者情况（年龄、性别、诊断和正在用药取自档案）", "The patient (age, sex, diagnoses and current drugs come from the record)")) }
                label { (l.t("过敏史 ", "Allergies ")) input type="text" name="allergies" placeholder=(l.t("如：青霉素类、磺胺", "e.g. penicillins, sulfa")) value=(v("allergies")); }
                " "
                label { (l.t("体重（kg） ", "Weight (kg) ")) input type="number" name="weight_kg" step="0.1" min="0.3" max="400" value=(v("weight_kg")) class="num-l"; }
                " "
                label { "eGFR " input type="number" name="egfr_ml_min" step="1" min="0" max="250" value=(v("egfr_ml_min")) class="num-l"; }
                " "
                label { (l.t("肝功能损害 ", "Hepatic impairment "))
                    select name="hepatic" { (options(&v("hepatic"), &[("none", "无", "none"), ("mild", "轻度", "mild"), ("moderate", "中度", "moderate"), ("severe", "重度", "severe")], l)) } }
                br;
                label.check { input type="checkbox" name="pregnant" value="1" checked[on("pregnant")]; " " (l.t("妊娠", "pregnant")) }
                label.check { input type="checkbox" name="lactating" value="1" checked[on("lactating")]; " " (l.t("哺乳", "breastfeeding")) }
                label.check { input type="checkbox" name="guardian" value="1" checked[on("guardian")]; " " (l.t("监护人在场", "guardian present")) }
                label.check { input type="checkbox" name="specialist" value="1" checked[on("specialist")]; " " (l.t("相关专科医师在场", "specialist present")) }
            }
            div.card {
                h2 { (l.t("处方药品（通用名，每行一种，最多5种）", "Drugs (generic names, one a line, at most 5)")) }
                @for i in 0..FORM_LINES {
                    @let name = |f: &str| format!("line{i}_{f}");
                    div.rx-line {
                        span.rx-no { (i + 1) }
                        label.rx-name { (l.t("通用名 ", "Generic name ")) input type="text" name=(name("name")) list="rx-drugs" maxlength="100" value=(v(&name("name"))); }
                        label { (l.t("单次 ", "Dose ")) input type="number" name=(name("dose")) step="any" min="0" value=(v(&name("dose"))) class="num-m"; }
                        label { (l.t("单位 ", "Unit ")) select name=(name("unit")) { (options(&v(&name("unit")), &units, l)) } }
                        label { (l.t("每日 ", "Times a day ")) input type="number" name=(name("times")) min="1" max="24" value=(v(&name("times"))) class="num-s"; (l.t(" 次", "")) }
                        label { (l.t("途径 ", "Route ")) select name=(name("route")) {
                            @let current = if v(&name("route")).is_empty() { "oral".to_owned() } else { v(&name("route")) };
                            (options(&current, &routes, l)) } }
                        label { (l.t("共 ", "Days ")) input type="number" name=(name("days")) min="1" max="365" value=(v(&name("days"))) class="num-s"; (l.t(" 天", "")) }
                    }
                }
            }
            div #rx-findings aria-live="polite" { @if let Some(a) = answer { (a) } }
            p { button.primary type="submit" formaction=(format!("/residents/{resident_id}/prescribe/check")) { (l.t("检查处方", "Check")) } }
            @let revise = v("revise");
            div.card #rx-issue {
                @if revise.is_empty() {
                    h2 { (l.t("签发处方", "Issue")) }
                    p.muted { (l.t(
                        "签发后处方进入药师审核队列，审核通过后方可调配。请输入您的登录密码作为电子签名。",
                        "Once issued, the prescription goes to the pharmacists' queue and is dispensed only after it passes. Enter your password to sign it.")) }
                } @else {
                    h2 { (l.t("修改重开处方 #", "Revise prescription #")) (revise) }
                    p.muted { (l.t(
                        "重开为新版本（原版本保留），重新审核。请输入您的登录密码作为电子签名。",
                        "Issued as a new version (the earlier ones are kept) and reviewed again. Enter your password to sign it.")) }
                    input type="hidden" name="revise" value=(revise);
                    input type="hidden" name="version" value=(v("version"));
                }
                label { (l.t("登录密码（电子签名） ", "Your password (to sign) ")) input type="password" name="password" autocomplete="current-password"; }
                " "
                @if revise.is_empty() {
                    button.primary type="submit" formaction=(format!("/residents/{resident_id}/prescribe/issue")) { (l.t("签名并签发", "Sign and issue")) }
                } @else {
                    button.primary type="submit" formaction=(format!("/residents/{resident_id}/prescribe/revise")) { (l.t("签名并重开", "Sign and revise")) }
                }
            }
            p.muted { small { (l.t(
                "检查不保存处方：法规要求（处方管理办法、互联网诊疗、长期处方）阻止签发；剂量、相互作用、过敏、禁忌和适应症按分级提示，由药师审核。",
                "Checking saves nothing: legal requirements block issuing; doses, interactions, allergies, contraindications and indications are graded for the pharmacist's review.")) } }
        }
        script { (PreEscaped(super::LIVE_SCRIPT)) }
    }
}

/// The formulary's names for the name field's suggestions.
fn drug_names(state: &AppState) -> Vec<(String, String)> {
    state
        .app
        .knowledge()
        .ingredients
        .iter()
        .map(|i| (i.name_zh.clone(), i.name_en.clone()))
        .collect()
}

fn title(l: Lang) -> &'static str {
    l.t("处方预审", "Prescription check")
}

/// The record's facts the check takes (age, sex, the enrolments' diagnoses), shown
/// above the form; and the resident's name.
async fn record_facts(
    state: &AppState,
    c: &Console,
    id: i64,
) -> Result<(String, Markup), gongti_app::AppError> {
    let l = c.lang;
    let record = state.app.read_resident(&c.ctx, id, None).await?.record;
    let enrolments = state.app.resident_enrolments(&c.ctx, id).await?;
    let age = gongti_core::resident::age_years(record.birth_date, state.app.today());
    let facts = html! {
        p.muted {
            (l.t("档案：", "Record: ")) (super::sex_label(l, record.sex)) " · " (age) (l.t(" 岁", " years"))
            " · " (l.t("诊断 ", "diagnoses "))
            @if enrolments.is_empty() { (l.t("无", "none")) }
            @for (n, e) in enrolments.iter().enumerate() {
                @if n > 0 { (l.t("、", ", ")) }
                (l.t(e.disease.name_zh(), e.disease.code())) " " (e.icd10)
                @if e.diagnosed_offline { (l.t("（线下确诊）", " (diagnosed offline)")) }
            }
        }
    };
    Ok((record.name, facts))
}

fn whole_page(
    state: &AppState,
    c: &Console,
    id: i64,
    (name, facts): (String, Markup),
    pairs: &[(String, String)],
    answer: Option<Markup>,
) -> Response {
    let l = c.lang;
    layout(
        c,
        title(l),
        html! {
            h1 { (title(l)) (l.t("：", ": ")) a href=(format!("/residents/{id}")) { (name) } }
            (facts)
            (form(c, id, pairs, answer, &drug_names(state)))
        },
    )
    .into_response()
}

#[derive(serde::Deserialize, Default)]
struct PageParams {
    /// A prescription of this resident to revise: its lines fill the form.
    revise: Option<i64>,
    /// The online visit (互联网复诊) the prescription is written in.
    visit: Option<i64>,
}

/// The form's fields filled from a prescription's current version.
fn pairs_of(v: &gongti_app::pharmacy::PrescriptionView) -> Vec<(String, String)> {
    let c = &v.content;
    let mut pairs = vec![
        ("revise".to_owned(), v.record.id.to_string()),
        ("version".to_owned(), v.record.version.to_string()),
        ("channel".to_owned(), c.channel.code().to_owned()),
        ("kind".to_owned(), c.kind.code().to_owned()),
        ("validity_days".to_owned(), c.validity_days.to_string()),
    ];
    if let Some(long) = c.long {
        pairs.push(("long".into(), "1".into()));
        for (name, on) in [
            ("long_first", long.first),
            ("long_assessed", long.assessment_recorded),
            ("long_confirmed", long.patient_confirmed),
        ] {
            if on {
                pairs.push((name.into(), "1".into()));
            }
        }
    }
    for (i, l) in c.lines.iter().enumerate() {
        let name = |f: &str| format!("line{i}_{f}");
        pairs.push((name("name"), l.generic_name.clone()));
        pairs.push((
            name("dose"),
            gongti_core::pharmacy::knowledge::amount_text(l.dose),
        ));
        pairs.push((name("unit"), l.dose_unit.clone()));
        pairs.push((name("times"), l.times_per_day.to_string()));
        pairs.push((name("route"), l.route.code().to_owned()));
        pairs.push((name("days"), l.days.to_string()));
    }
    pairs
}

async fn page(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    axum::extract::Query(q): axum::extract::Query<PageParams>,
) -> Response {
    let l = c.lang;
    if !gongti_core::access::may_prescribe(&c.session.principal.actor()) {
        return error_page(&c, title(l), &gongti_app::AppError::Forbidden);
    }
    let pairs = match q.revise {
        Some(rx) => match state.app.prescription(&c.ctx, rx).await {
            Ok(v) if v.record.resident_id == id => pairs_of(&v),
            Ok(_) => return error_page(&c, title(l), &gongti_app::AppError::NotFound),
            Err(e) => return error_page(&c, title(l), &e),
        },
        None => Vec::new(),
    };
    let mut pairs = pairs;
    if let Some(visit) = q.visit {
        // A repeat visit: the newest prescription's lines prefill the form, for the
        // doctor to check one by one and sign (DOMAIN.md §4: it never issues itself).
        if q.revise.is_none()
            && let Ok(views) = state.app.resident_prescriptions(&c.ctx, id, 1).await
            && let Some(last) = views.first()
        {
            pairs = pairs_of(last)
                .into_iter()
                .filter(|(k, _)| k.starts_with("line"))
                .collect();
            pairs.push((
                "validity_days".into(),
                last.content.validity_days.to_string(),
            ));
            pairs.push(("prefilled".into(), "1".into()));
        }
        pairs.retain(|(k, _)| k != "channel");
        pairs.push(("channel".into(), "online".into()));
        pairs.push(("online_visit_id".into(), visit.to_string()));
    }
    match record_facts(&state, &c, id).await {
        Ok(found) => whole_page(&state, &c, id, found, &pairs, None),
        Err(e) => error_page(&c, title(l), &e),
    }
}

/// 修改重开: the form as a new version of the prescription it came from.
async fn revise(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let l = c.lang;
    if !super::csrf_ok(&c, field(&pairs, "csrf")) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let Ok(rx) = field(&pairs, "revise").parse::<i64>() else {
        return error_page(&c, title(l), &gongti_app::AppError::NotFound);
    };
    let password = pairs
        .iter()
        .find(|(k, _)| k == "password")
        .map(|(_, v)| v.clone());
    let kept: Vec<(String, String)> = pairs.into_iter().filter(|(k, _)| k != "password").collect();
    let taken = state
        .app
        .prescription_step(
            &c.ctx,
            rx,
            gongti_app::pharmacy::StepRequest {
                step: gongti_core::pharmacy::prescription::Step::Revise,
                reason: None,
                password,
                revision: Some(request(id, &kept)),
                version: field(&kept, "version").parse().ok(),
            },
        )
        .await;
    let (status, answer) = match taken {
        Ok(Ok(())) => {
            return axum::response::Redirect::to(&format!("/prescriptions/{rx}?done=revise"))
                .into_response();
        }
        Ok(Err(NotIssued::Blocked(j))) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            html! {
                div.error role="alert" { (l.t("未重开：处方有法规或书写问题，请按下列提示修改。", "Not revised: the prescription breaks a legal or format rule; see below.")) }
                (panel(l, &Ok(j)))
            },
        ),
        Ok(Err(NotIssued::Draft(p))) => (StatusCode::UNPROCESSABLE_ENTITY, panel(l, &Err(p))),
        Err(e) => (super::status_of(&e), error_box(l, &e)),
    };
    match record_facts(&state, &c, id).await {
        Ok(found) => (
            status,
            whole_page(&state, &c, id, found, &kept, Some(answer)),
        )
            .into_response(),
        Err(e) => error_page(&c, title(l), &e),
    }
}

async fn check(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    headers: axum::http::HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let l = c.lang;
    if !super::csrf_ok(&c, field(&pairs, "csrf")) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let fragment = headers.get("x-fragment").is_some();
    let mut draft = request(id, &pairs);
    // In an online visit the patient's confirmation is the one on their phone.
    if let Ok(visit) = field(&pairs, "online_visit_id").parse::<i64>()
        && let Some(long) = draft.long.as_mut()
    {
        let days = state
            .app
            .long_confirmed_days(&c.ctx, visit)
            .await
            .unwrap_or(0);
        long.patient_confirmed = draft
            .lines
            .iter()
            .all(|l| l.days.is_some_and(|d| i64::from(d) <= days));
    }
    let answer = match state.app.check_prescription(&c.ctx, draft).await {
        Ok(a) => panel(l, &a),
        Err(e) if fragment => error_box(l, &e),
        Err(e) => return error_page(&c, title(l), &e),
    };
    if fragment {
        return Html(answer.into_string()).into_response();
    }
    match record_facts(&state, &c, id).await {
        Ok(found) => whole_page(&state, &c, id, found, &pairs, Some(answer)),
        Err(e) => error_page(&c, title(l), &e),
    }
}

async fn issue(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let l = c.lang;
    if !super::csrf_ok(&c, field(&pairs, "csrf")) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    // The password as typed (not trimmed), then dropped from what the page keeps.
    let password = pairs
        .iter()
        .find(|(k, _)| k == "password")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let kept: Vec<(String, String)> = pairs.into_iter().filter(|(k, _)| k != "password").collect();
    let issued = state
        .app
        .issue_prescription(
            &c.ctx,
            IssueRequest {
                draft: request(id, &kept),
                password,
                online_visit_id: field(&kept, "online_visit_id").parse().ok(),
            },
        )
        .await;
    let (status, answer) = match issued {
        Ok(Ok((rx, _))) => {
            return axum::response::Redirect::to(&format!("/prescriptions/{rx}?done=issue"))
                .into_response();
        }
        Ok(Err(NotIssued::Blocked(j))) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            html! {
                div.error role="alert" { (l.t("未签发：处方有法规或书写问题，请按下列提示修改。", "Not issued: the prescription breaks a legal or format rule; see below.")) }
                (panel(l, &Ok(j)))
            },
        ),
        Ok(Err(NotIssued::Draft(p))) => (StatusCode::UNPROCESSABLE_ENTITY, panel(l, &Err(p))),
        Err(e) => (super::status_of(&e), error_box(l, &e)),
    };
    match record_facts(&state, &c, id).await {
        Ok(found) => (
            status,
            whole_page(&state, &c, id, found, &kept, Some(answer)),
        )
            .into_response(),
        Err(e) => error_page(&c, title(l), &e),
    }
}
