//! The family doctor's workstation (家庭医生工作台): worklists, a patient's chronic
//! record with BP and glucose charts, and the follow-up form whose classification
//! updates as the doctor types (a small inline script posts the form to the preview
//! route; without script, the "评估" button does the same by a round trip).

use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use gongti_app::AppError;
use gongti_app::worklists::{FollowupWorklist, WorklistQuery};
use gongti_core::chronic::Disease;
use gongti_core::chronic::followup::{Evaluation, FollowupForm, Method, Symptom};
use gongti_core::chronic::record::{EndReason, EndingForm, FollowupRecordForm};
use gongti_core::exam::items::{CriticalSide, LabItems};
use gongti_core::exam::report::ResultStatus;
use gongti_core::lab::LabTest;
use gongti_store::WorklistOrder;
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;
use time::Duration;

use super::svg::{Rule, Series, line_chart};
use super::{Console, Lang, error_box, error_page, layout, pager, status_of};
use crate::extract::decode_cursor;
use crate::{AppState, PAGE_SIZE_DEFAULT, wording};

pub(super) fn routes() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/workstation", get(workstation))
        .route("/residents/{id}/chronic", get(chronic_page))
        .route("/alerts/{id}/acknowledge", post(acknowledge))
        .route("/residents/{id}/followups/new", get(followup_page))
        .route("/residents/{id}/followups", post(save_followup))
        .route("/residents/{id}/followups/preview", post(preview))
        .route(
            "/residents/{id}/enrolments/{disease}/end",
            post(end_enrolment),
        )
}

/// Most open alerts the workstation's banner counts (it then says "100+").
const ALERT_BANNER_MAX: u32 = 100;

const LISTS: [(&str, &str, &str); 7] = [
    ("due_this_week", "本周到期", "Due this week"),
    ("overdue", "逾期", "Overdue"),
    ("missed_visit", "失访（90天未面访）", "Missed visit"),
    (
        "lost_to_follow_up",
        "脱管（12个月无联系）",
        "Lost to follow-up",
    ),
    ("alerts", "自测预警", "Alerts"),
    ("tasks", "14天随访任务", "14-day tasks"),
    ("contracts", "即将到期签约", "Expiring contracts"),
];

#[derive(Deserialize, Default)]
struct WorkstationParams {
    list: Option<String>,
    sort: Option<String>,
    cursor: Option<String>,
    /// The cursors of the pages before (see `pager`).
    trail: Option<String>,
}

fn disease_label(l: Lang, d: Disease) -> &'static str {
    let (zh, en) = wording::disease(d);
    l.t(zh, en)
}

fn risk_label(l: Lang, level: Option<gongti_core::chronic::risk::RiskLevel>) -> &'static str {
    match level {
        Some(r) => {
            let (zh, en) = wording::risk_level(r);
            l.t(zh, en)
        }
        None => "",
    }
}

async fn workstation(
    State(state): State<AppState>,
    c: Console,
    Query(q): Query<WorkstationParams>,
) -> Response {
    let l = c.lang;
    let list = q.list.clone().unwrap_or_else(|| "due_this_week".into());
    let by_risk = q.sort.as_deref() == Some("risk");
    let after = decode_cursor(q.cursor.as_deref()).ok().flatten();
    let keep = [
        ("list", list.clone()),
        ("sort", q.sort.clone().unwrap_or_default()),
    ];
    let body: Result<Markup, AppError> = match list.as_str() {
        "alerts" => state.app.open_alerts(&c.ctx, None, after, PAGE_SIZE_DEFAULT).await.map(|page| html! {
            table #worklist {
                tr { th { (l.t("居民", "Resident")) } th { (l.t("预警", "Alert")) } th { (l.t("风险", "Risk")) } th { (l.t("时间", "Raised")) } th {} }
                @for a in &page.items {
                    @let (zh, en) = wording::alert_code(&a.code);
                    tr {
                        td { a href=(format!("/residents/{}/chronic", a.resident_id)) { (a.resident_name) } }
                        td { (l.t(zh, en)) }
                        td { (a.risk_level.as_deref().and_then(gongti_core::chronic::risk::RiskLevel::parse).map(|r| risk_label(l, Some(r))).unwrap_or("")) }
                        td { (crate::views::local(a.raised_at_us)) }
                        td { (super::referrals::refer_button(&c, a.resident_id, ("alert", Some(a.id)), None, true))
                             (acknowledge_button(&c, a.id, "/workstation?list=alerts")) }
                    }
                }
            }
            @if page.items.is_empty() { p.muted { (l.t("没有待处理的紧急预警", "No urgent alert to handle")) } }
            (pager("/workstation", &keep, (q.cursor.as_deref(), q.trail.as_deref()), page.next_after, l))
        }),
        "tasks" => state.app.open_tasks(&c.ctx, after, PAGE_SIZE_DEFAULT).await.map(|page| html! {
            table #worklist {
                tr { th { (l.t("居民", "Resident")) } th { (l.t("病种", "Programme")) } th { (l.t("任务", "Task")) } th { (l.t("截止", "Due")) } }
                @for t in &page.items {
                    tr {
                        td { a href=(format!("/residents/{}/chronic", t.resident_id)) { (t.resident_name) } }
                        td { (disease_label(l, t.disease)) }
                        td { (match t.kind.as_str() {
                            "referral_return_followup" => l.t("上级医院下转后随访", "Follow-up after referral back"),
                            _ => l.t("紧急转诊后随访", "Follow-up after urgent referral"),
                        }) }
                        td { (t.due_on) }
                    }
                }
            }
            (pager("/workstation", &keep, (q.cursor.as_deref(), q.trail.as_deref()), page.next_after, l))
        }),
        "contracts" => state.app.expiring_contracts(&c.ctx, None, after, PAGE_SIZE_DEFAULT).await.map(|page| html! {
            table #worklist {
                tr { th { (l.t("居民", "Resident")) } th { (l.t("团队", "Team")) } th { (l.t("到期日", "Ends")) } }
                @for k in &page.items {
                    tr {
                        td { a href=(format!("/residents/{}", k.resident_id)) { (k.resident_name) } }
                        td { (k.team_name) }
                        td { (k.end_on) }
                    }
                }
            }
            (pager("/workstation", &keep, (q.cursor.as_deref(), q.trail.as_deref()), page.next_after, l))
        }),
        other => {
            let which = FollowupWorklist::parse(other).unwrap_or(FollowupWorklist::DueThisWeek);
            let query = WorklistQuery {
                which,
                disease: None,
                team_id: None,
                order: if by_risk { WorklistOrder::Risk } else { WorklistOrder::Due },
            };
            state.app.followup_worklist(&c.ctx, query, after, PAGE_SIZE_DEFAULT).await.map(|page| html! {
                p {
                    @if by_risk { a href=(format!("/workstation?list={other}")) { (l.t("按到期日排序", "Sort by due date")) } }
                    @else { a href=(format!("/workstation?list={other}&sort=risk")) { (l.t("按风险排序", "Sort by risk")) } }
                }
                table #worklist {
                    tr {
                        th { (l.t("居民", "Resident")) } th { (l.t("病种", "Programme")) } th { (l.t("风险分层", "Risk")) }
                        th { (l.t("下次随访", "Next due")) } th { (l.t("最近面访", "Last face-to-face")) } th { (l.t("上次分类", "Last class")) }
                    }
                    @for w in &page.items {
                        tr {
                            td { a href=(format!("/residents/{}/chronic", w.resident_id)) { (w.resident_name) } }
                            td { (disease_label(l, w.disease)) }
                            td { (risk_label(l, w.risk_level)) }
                            td { (w.next_due_on.map(|d| d.to_string()).unwrap_or_default()) }
                            td { (w.last_face_to_face_on.map(|d| d.to_string()).unwrap_or_default()) }
                            td { (w.last_classification.map(|c| { let (zh, en) = wording::classification(c); l.t(zh, en) }).unwrap_or("")) }
                        }
                    }
                }
                @if page.items.is_empty() { p.muted { (l.t("清单为空", "Nothing on this list")) } }
                (pager("/workstation", &keep, (q.cursor.as_deref(), q.trail.as_deref()), page.next_after, l))
            })
        }
    };
    // Open alerts are shown on every list of the workstation until handled.
    let open_alerts = if list == "alerts" {
        None
    } else {
        state
            .app
            .open_alerts(&c.ctx, None, None, ALERT_BANNER_MAX)
            .await
            .ok()
            .filter(|p| !p.items.is_empty())
    };
    let status = body.as_ref().err().map_or(StatusCode::OK, status_of);
    (status, layout(&c, l.t("工作台", "Workstation"), html! {
        h1 { (l.t("家庭医生工作台", "Family doctor's workstation")) }
        @if let Some(p) = &open_alerts {
            div.card.urgent.banner role="alert" #alert-banner {
                strong.alert { (p.items.len()) @if p.next_after.is_some() { "+" } (l.t(" 条紧急预警待处理", " urgent alerts to handle")) }
                " · " (p.items.iter().take(3).map(|a| a.resident_name.as_str()).collect::<Vec<_>>().join("、"))
                " " a.button href="/workstation?list=alerts" { (l.t("去处理 →", "Handle them →")) }
            }
        }
        nav.tabs {
            @for (code, zh, en) in LISTS {
                @if code == list { strong { (l.t(zh, en)) } } @else { a href=(format!("/workstation?list={code}")) { (l.t(zh, en)) } }
            }
        }
        @match body {
            Ok(markup) => (markup),
            Err(e) => (error_box(l, &e)),
        }
    }))
    .into_response()
}

fn classification_panel(l: Lang, e: &Evaluation) -> Markup {
    html! {
        div #evaluation .card .(if e.urgent_referral { "urgent" } else if e.refer { "refer" } else { "ok" }) aria-live="polite" {
            p {
                strong { (l.t("分类：", "Classification: ")) }
                @match e.classification {
                    Some(c) => { @let (zh, en) = wording::classification(c); span #classification { (c.number()) " " (l.t(zh, en)) } }
                    None => span #classification { (l.t("未评估", "not assessed")) },
                }
                @if e.urgent_referral { " · " strong.alert { (l.t("紧急转诊", "URGENT REFERRAL")) } }
                @else if e.refer { " · " strong { (l.t("建议转诊", "Refer")) } }
                " · " (l.t("下次随访：", "Next follow-up within ")) (e.next_followup_within_days) (l.t(" 天内", " days"))
            }
            ul {
                @for r in &e.reasons {
                    @let (zh, en) = wording::reason(*r);
                    li { (l.t(&zh, &en)) " " span.muted { "(" (r.rule()) ")" } }
                }
            }
        }
    }
}

/// Reads the follow-up form's fields (symptoms repeat, so the body is read as pairs).
fn record_form(pairs: &[(String, String)]) -> (FollowupRecordForm, Option<String>) {
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let int = |k: &str| get(k).and_then(|v| v.parse::<i64>().ok());
    let num = |k: &str| get(k).and_then(|v| v.parse::<f64>().ok());
    let flag = |k: &str| get(k).is_some_and(|v| v == "on" || v == "true" || v == "1");
    let visit_on = get("visit_on").and_then(|v| {
        time::Date::parse(
            &v,
            time::macros::format_description!("[year]-[month]-[day]"),
        )
        .ok()
    });
    let drug_names: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "drug_name")
        .map(|(_, v)| v.trim().to_owned())
        .collect();
    let drug_doses: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "drug_dose")
        .map(|(_, v)| v.trim().to_owned())
        .collect();
    let drugs = drug_names
        .into_iter()
        .zip(
            drug_doses
                .into_iter()
                .chain(std::iter::repeat(String::new())),
        )
        .filter(|(n, _)| !n.is_empty())
        .collect();
    let form = FollowupRecordForm {
        rules: FollowupForm {
            disease: get("disease").unwrap_or_default(),
            age_years: None,
            method: get("method").unwrap_or_default(),
            sbp_mmhg: int("sbp_mmhg"),
            dbp_mmhg: int("dbp_mmhg"),
            fpg_mmol: num("fpg_mmol"),
            heart_rate_bpm: int("heart_rate_bpm"),
            temperature_c: num("temperature_c"),
            symptoms: pairs
                .iter()
                .filter(|(k, _)| k == "symptom")
                .map(|(_, v)| v.clone())
                .collect(),
            pregnant_or_breastfeeding: flag("pregnant_or_breastfeeding"),
            adverse_reaction: flag("adverse_reaction") || flag("adverse_reaction_uncontrolled"),
            adverse_reaction_uncontrolled: flag("adverse_reaction_uncontrolled"),
            complication: get("complication"),
            previous_classification: None,
        },
        visit_on,
        weight_kg: num("weight_kg"),
        height_cm: int("height_cm"),
        waist_cm: int("waist_cm"),
        hba1c_percent: num("hba1c_percent"),
        adherence: get("adherence"),
        hypoglycaemia: get("hypoglycaemia"),
        drugs,
        insulin: get("insulin"),
        note: get("note"),
        ..FollowupRecordForm::default()
    };
    (form, get("csrf"))
}

#[derive(Deserialize, Default)]
struct DiseaseParam {
    disease: Option<String>,
}

fn followup_form(
    c: &Console,
    resident_id: i64,
    disease: Disease,
    today: time::Date,
    panel: Option<Markup>,
    values: &[(String, String)],
) -> Markup {
    let l = c.lang;
    let v = |k: &str| {
        values
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let checked = |k: &str, val: &str| values.iter().any(|(n, x)| n == k && x == val);
    let action = format!("/residents/{resident_id}/followups");
    let dm = disease == Disease::Diabetes;
    html! {
        form #followup-form method="post" action=(action) data-live="evaluation-slot" {
            (crate::console::form_tokens(c.session.csrf.as_deref().unwrap_or("")))
            input type="hidden" name="disease" value=(disease.code());
            div.grid {
                label { (l.t("随访日期", "Visit date")) input type="date" name="visit_on" value=(if v("visit_on").is_empty() { today.to_string() } else { v("visit_on") }); }
                label { (l.t("随访方式", "Method"))
                    select name="method" {
                        @for m in [Method::Clinic, Method::Home, Method::Phone] {
                            @let (zh, en) = wording::method(m);
                            option value=(m.code()) selected[v("method") == m.code()] { (l.t(zh, en)) }
                        }
                    }
                }
                label { (l.t("收缩压 mmHg", "SBP mmHg")) input #sbp type="number" name="sbp_mmhg" value=(v("sbp_mmhg")); }
                label { (l.t("舒张压 mmHg", "DBP mmHg")) input #dbp type="number" name="dbp_mmhg" value=(v("dbp_mmhg")); }
                @if dm { label { (l.t("空腹血糖 mmol/L", "FPG mmol/L")) input #fpg type="number" step="0.1" name="fpg_mmol" value=(v("fpg_mmol")); } }
                @if dm { label { (l.t("糖化血红蛋白 %", "HbA1c %")) input type="number" step="0.1" name="hba1c_percent" value=(v("hba1c_percent")); } }
                label { (l.t("心率 次/分", "Heart rate /min")) input type="number" name="heart_rate_bpm" value=(v("heart_rate_bpm")); }
                @if dm { label { (l.t("体温 °C", "Temperature °C")) input type="number" step="0.1" name="temperature_c" value=(v("temperature_c")); } }
                label { (l.t("体重 kg", "Weight kg")) input type="number" step="0.1" name="weight_kg" value=(v("weight_kg")); }
                label { (l.t("身高 cm", "Height cm")) input type="number" name="height_cm" value=(v("height_cm")); }
                label { (l.t("服药依从性", "Adherence"))
                    select name="adherence" {
                        option value="" { "—" }
                        @for (code, zh, en) in [("regular", "规律", "Regular"), ("intermittent", "间断", "Intermittent"), ("none", "不服药", "None")] {
                            option value=(code) selected[v("adherence") == code] { (l.t(zh, en)) }
                        }
                    }
                }
                @if dm { label { (l.t("低血糖反应", "Hypoglycaemia"))
                    select name="hypoglycaemia" {
                        option value="" { "—" }
                        @for (code, zh, en) in [("none", "无", "None"), ("occasional", "偶尔", "Occasional"), ("frequent", "频繁", "Frequent")] {
                            option value=(code) selected[v("hypoglycaemia") == code] { (l.t(zh, en)) }
                        }
                    }
                } }
                label { (l.t("并发症", "Complication"))
                    select name="complication" {
                        @for (code, zh, en) in [("none", "无", "None"), ("new", "新发", "New"), ("worse", "加重", "Worse")] {
                            option value=(code) selected[v("complication") == code] { (l.t(zh, en)) }
                        }
                    }
                }
            }
            fieldset {
                legend { (l.t("症状与体征", "Symptoms and signs")) }
                @for s in Symptom::ALL.iter().filter(|s| s.is_urgent_for(disease) || matches!(s, Symptom::HeadacheOrDizziness | Symptom::Tinnitus | Symptom::Dyspnoea | Symptom::Nosebleed | Symptom::NumbLimbs | Symptom::LegOedema | Symptom::WeightLoss)) {
                    @let (zh, en) = wording::symptom(*s);
                    label.check { input type="checkbox" name="symptom" value=(s.code()) checked[checked("symptom", s.code())]; (l.t(zh, en)) }
                }
                label.check { input type="checkbox" name="pregnant_or_breastfeeding" checked[checked("pregnant_or_breastfeeding", "on")]; (l.t("妊娠或哺乳期", "Pregnant or breastfeeding")) }
                label.check { input type="checkbox" name="adverse_reaction" checked[checked("adverse_reaction", "on")]; (l.t("药物不良反应", "Adverse drug reaction")) }
                label.check { input type="checkbox" name="adverse_reaction_uncontrolled" checked[checked("adverse_reaction_uncontrolled", "on")]; (l.t("不良反应难以控制", "Reaction cannot be controlled")) }
            }
            div.grid {
                label { (l.t("用药", "Drug")) input name="drug_name" value=(v("drug_name")); }
                label { (l.t("用法用量", "Dose")) input name="drug_dose" value=(v("drug_dose")); }
                @if dm { label { (l.t("胰岛素（种类与用量）", "Insulin (kind and dose)")) input name="insulin" value=(v("insulin")); } }
                label.wide { (l.t("备注", "Note")) input name="note" value=(v("note")); }
            }
            div #evaluation-slot { @if let Some(p) = panel { (p) } }
            p {
                button type="submit" formaction=(format!("/residents/{resident_id}/followups/preview")) { (l.t("评估", "Evaluate")) }
                " "
                button.primary #save type="submit" { (l.t("保存随访", "Save follow-up")) }
            }
        }
        script { (PreEscaped(super::LIVE_SCRIPT)) }
    }
}

async fn followup_page(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Query(q): Query<DiseaseParam>,
) -> Response {
    let l = c.lang;
    let disease = q
        .disease
        .as_deref()
        .and_then(Disease::parse)
        .unwrap_or(Disease::Hypertension);
    let resident = state.app.read_resident(&c.ctx, id, None).await;
    layout(&c, l.t("新增随访", "New follow-up"), html! {
        @match resident {
            Err(e) => (error_box(l, &e)),
            Ok(v) => {
                h1 { (l.t("随访：", "Follow-up: ")) (v.record.name) " · " (disease_label(l, disease)) }
                (followup_form(&c, id, disease, state.app.today(), None, &[]))
            }
        }
    })
    .into_response()
}

/// The rules' verdict on the form so far: a fragment for the script, or the whole
/// form page for a browser without script.
async fn preview(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    headers: axum::http::HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let l = c.lang;
    let (mut form, csrf) = record_form(&pairs);
    if csrf.as_deref() != c.session.csrf.as_deref() {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let resident = match state.app.read_resident(&c.ctx, id, None).await {
        Ok(r) => r.record,
        Err(e) => return error_page(&c, l.t("随访", "Follow-up"), &e),
    };
    let day = form.visit_on.unwrap_or(state.app.today());
    form.rules.age_years = Some(i64::from(gongti_core::resident::age_years(
        resident.birth_date,
        day,
    )));
    let disease = Disease::parse(&form.rules.disease).unwrap_or(Disease::Hypertension);
    // The stored previous classification takes part, as it will when saved.
    let enrolments = state.app.store().active_enrolment(id, disease).await.ok();
    form.rules.previous_classification = enrolments
        .and_then(|e| e.last_classification)
        .map(|c| i64::from(c.number()));
    let panel = match state.app.evaluate_followup_record(&c.ctx, &form) {
        Ok((_, e)) => classification_panel(l, &e),
        Err(e) => error_box(l, &e),
    };
    if headers.get("x-fragment").is_some() {
        return Html(panel.into_string()).into_response();
    }
    layout(
        &c,
        l.t("随访", "Follow-up"),
        html! {
            h1 { (l.t("随访：", "Follow-up: ")) (resident.name) " · " (disease_label(l, disease)) }
            (followup_form(&c, id, disease, state.app.today(), Some(panel), &pairs))
        },
    )
    .into_response()
}

async fn save_followup(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let l = c.lang;
    let (form, csrf) = record_form(&pairs);
    if csrf.as_deref() != c.session.csrf.as_deref() {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let disease = Disease::parse(&form.rules.disease).unwrap_or(Disease::Hypertension);
    match state.app.record_followup(&c.ctx, id, form).await {
        Ok((followup_id, _, _)) => {
            Redirect::to(&format!("/residents/{id}/chronic?saved={followup_id}")).into_response()
        }
        Err(e) => (
            status_of(&e),
            layout(
                &c,
                l.t("随访", "Follow-up"),
                html! {
                    h1 { (l.t("随访", "Follow-up")) }
                    (error_box(l, &e))
                    (followup_form(&c, id, disease, state.app.today(), None, &pairs))
                },
            ),
        )
            .into_response(),
    }
}

#[derive(Deserialize, Default)]
struct SavedParam {
    saved: Option<i64>,
    ended: Option<String>,
}

#[derive(Deserialize)]
struct EndFields {
    csrf: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    ended_on: String,
    #[serde(default)]
    note: String,
}

/// Ends an enrolment from the patient's chronic record (结案).
async fn end_enrolment(
    State(state): State<AppState>,
    c: Console,
    Path((id, disease)): Path<(i64, String)>,
    Form(f): Form<EndFields>,
) -> Response {
    let l = c.lang;
    if Some(f.csrf.as_str()) != c.session.csrf.as_deref() {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let Some(disease) = Disease::parse(&disease) else {
        return (StatusCode::NOT_FOUND, "").into_response();
    };
    let ended_on = match f.ended_on.trim() {
        "" => Ok(None),
        text => time::Date::parse(
            text,
            time::macros::format_description!("[year]-[month]-[day]"),
        )
        .map(Some)
        .map_err(|_| {
            AppError::Invalid(vec![gongti_core::resident::FieldProblem::new(
                "ended_on",
                gongti_core::resident::Problem::Malformed,
            )])
        }),
    };
    let outcome = match ended_on {
        Ok(ended_on) => {
            let form = EndingForm {
                ended_on,
                reason: Some(f.reason),
                note: Some(f.note),
            };
            state.app.end_enrolment(&c.ctx, id, disease, &form).await
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(_) => Redirect::to(&format!("/residents/{id}/chronic?ended={}", disease.code()))
            .into_response(),
        Err(e) => (
            status_of(&e),
            layout(
                &c,
                l.t("结案", "End enrolment"),
                html! {
                    h1 { (l.t("结案", "End enrolment")) " · " (disease_label(l, disease)) }
                    (error_box(l, &e))
                    p { a href=(format!("/residents/{id}/chronic")) { (l.t("← 返回慢病档案", "← Back to the chronic record")) } }
                },
            ),
        )
            .into_response(),
    }
}

/// The end-of-enrolment form on an active programme's card.
fn end_form(c: &Console, id: i64, disease: Disease, today: time::Date) -> Markup {
    let l = c.lang;
    html! {
        details.end-enrolment {
            summary { (l.t("结案…", "End enrolment…")) }
            form method="post" action=(format!("/residents/{id}/enrolments/{}/end", disease.code())) {
                (crate::console::form_tokens(c.session.csrf.as_deref().unwrap_or("")))
                label { (l.t("结案原因 ", "Reason ")) select name="reason" required {
                    option value="" { "—" }
                    @for r in EndReason::ALL { @let (zh, en) = wording::end_reason(r); option value=(r.code()) { (l.t(zh, en)) } }
                } }
                " "
                label { (l.t("最后管理日期 ", "Last day managed ")) input type="date" name="ended_on" value=(today) max=(today); }
                " "
                input name="note" maxlength="200" placeholder=(l.t("说明（可选）", "Note (optional)"));
                " "
                button type="submit" { (l.t("确认结案", "End")) }
            }
        }
    }
}

#[derive(Deserialize)]
struct AcknowledgeForm {
    csrf: String,
    /// The page to go back to (a path of the console).
    back: Option<String>,
}

/// 已处理: the team saw the alert and acted (called the patient, referred, saw them).
async fn acknowledge(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Form(f): Form<AcknowledgeForm>,
) -> Response {
    if Some(f.csrf.as_str()) != c.session.csrf.as_deref() {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let l = c.lang;
    // Only back to a page of this console, never elsewhere.
    let back = f
        .back
        .filter(|b| {
            b.starts_with('/')
                && !b.starts_with("//")
                && !b.contains('\\')
                && !b.chars().any(char::is_control)
        })
        .unwrap_or_else(|| "/workstation?list=alerts".into());
    match state.app.acknowledge_alert(&c.ctx, id).await {
        Ok(()) => Redirect::to(&back).into_response(),
        Err(e) => {
            let status = status_of(&e);
            let body = html! {
                h1 { (l.t("紧急预警", "Urgent alert")) }
                (error_box(l, &e))
                p { a href=(back) { (l.t("← 返回", "← Back")) } }
            };
            (status, layout(&c, l.t("紧急预警", "Urgent alert"), body)).into_response()
        }
    }
}

/// The "已处理" button of an open alert, returning to `back`.
fn acknowledge_button(c: &Console, alert_id: i64, back: &str) -> Markup {
    let l = c.lang;
    html! {
        form.step method="post" action=(format!("/alerts/{alert_id}/acknowledge")) {
            (crate::console::form_tokens(c.session.csrf.as_deref().unwrap_or("")))
            input type="hidden" name="back" value=(back);
            button type="submit" { (l.t("已处理（已联系患者）", "Handled (patient contacted)")) }
        }
    }
}

/// A resident's open alerts as banners at the top of their page, each with the
/// reading that raised it and what to do: refer as an emergency, record a follow-up,
/// or mark it handled.
fn alert_banners(
    c: &Console,
    resident_id: i64,
    alerts: &[gongti_store::AlertRecord],
    readings: &[gongti_store::ReadingRecord],
) -> Markup {
    let l = c.lang;
    let back = format!("/residents/{resident_id}/chronic");
    html! {
        @for a in alerts.iter().filter(|a| a.open) {
            @let (zh, en) = wording::alert_code(&a.code);
            @let reading = a.reading_id.and_then(|r| readings.iter().find(|x| x.id == r));
            div.card.urgent.banner role="alert" {
                p {
                    strong.alert { (l.t("紧急预警：", "Urgent: ")) } (l.t(zh, en))
                    @if let Some(r) = reading {
                        " · " strong { (reading_text(r)) } " · " (crate::views::local(r.taken_at_us))
                    }
                }
                @if c.session.principal.role.is_clinical() && c.session.principal.institution_id == Some(a.institution_id) {
                p.muted { (l.t("请尽快联系患者，必要时立即急诊转诊。", "Contact the patient now; refer as an emergency if needed.")) }
                (super::referrals::refer_button(c, resident_id, ("alert", Some(a.id)), None, true))
                a.button href=(format!("/residents/{resident_id}/followups/new?disease={}", gongti_core::referral::disease_for_alert(&a.code).unwrap_or(Disease::Hypertension).code())) { (l.t("新增随访", "New follow-up")) }
                " "
                (acknowledge_button(c, a.id, &back))
                }
            }
        }
    }
}

/// A home reading's value as the patient's device measured it.
pub(super) fn reading_text(r: &gongti_store::ReadingRecord) -> String {
    match (r.bp, r.glucose_centi_mmol) {
        (Some(bp), _) => format!("{}/{} mmHg", bp.sbp_mmhg, bp.dbp_mmhg),
        (None, Some(g)) => format!("{:.1} mmol/L", g as f64 / 100.0),
        (None, None) => String::new(),
    }
}

/// What the blood-pressure and glucose charts of a patient draw.
pub(super) struct HealthCharts<'a> {
    pub followups: &'a [gongti_store::FollowupRecord],
    pub readings: &'a [gongti_store::ReadingRecord],
    /// Readings that raised an alert: ringed in red.
    pub alerted: &'a std::collections::HashSet<i64>,
    pub labs: &'a [gongti_store::LabResultRecord],
    pub age_years: i32,
    pub diabetic: bool,
    pub today: time::Date,
}

/// The patient's BP chart over the last year (follow-ups, home readings, the target
/// for the age) and, for a diabetic, the glucose chart (follow-ups, laboratory, home).
pub(super) fn health_charts(
    l: Lang,
    d: &HealthCharts<'_>,
    params: &gongti_core::chronic::Params,
) -> (String, Option<String>) {
    let (followups, readings, alerted, labs, today) =
        (d.followups, d.readings, d.alerted, d.labs, d.today);
    let from = today - Duration::days(365);
    let day_of = |us: i64| {
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000)
            .map(|t| t.to_offset(gongti_app::DISPLAY_OFFSET).date())
            .unwrap_or(today)
    };
    let target = params
        .targets
        .bp_for_age(u8::try_from(d.age_years.clamp(0, 130)).unwrap_or(0));
    // Home readings, those that raised an alert apart and ringed.
    let home_series =
        |label: &'static str, value: &dyn Fn(&gongti_store::ReadingRecord) -> Option<f64>| {
            let (urgent, usual): (Vec<_>, Vec<_>) = readings
                .iter()
                .filter_map(|r| {
                    value(r).map(|v| (alerted.contains(&r.id), (day_of(r.taken_at_us), v)))
                })
                .partition(|(urgent, _)| *urgent);
            let points =
                |v: Vec<(bool, (time::Date, f64))>| v.into_iter().map(|(_, p)| p).collect();
            (
                Series {
                    label,
                    colour: "#9aa5b1",
                    points: points(usual),
                    dots_only: true,
                    emphasised: false,
                },
                Series {
                    label: l.t("自测紧急值", "Urgent home reading"),
                    colour: "#c81e1e",
                    points: points(urgent),
                    dots_only: true,
                    emphasised: true,
                },
            )
        };
    let home = home_series(l.t("家庭自测收缩压", "Home SBP"), &|r| {
        r.bp.map(|b| f64::from(b.sbp_mmhg))
    });
    let glucose_home = home_series(l.t("家庭自测", "Home"), &|r| {
        r.glucose_centi_mmol.map(|g| g as f64 / 100.0)
    });
    let bp_chart = line_chart(
        l.t("血压趋势", "Blood pressure"),
        from,
        today,
        (60.0, 200.0),
        7,
        &[
            Series {
                label: l.t("收缩压", "SBP"),
                colour: "#0b5d56",
                points: followups
                    .iter()
                    .filter_map(|f| f.bp.map(|b| (f.visit_on, f64::from(b.sbp_mmhg))))
                    .collect(),
                dots_only: false,
                emphasised: false,
            },
            Series {
                label: l.t("舒张压", "DBP"),
                colour: "#2f80ed",
                points: followups
                    .iter()
                    .filter_map(|f| f.bp.map(|b| (f.visit_on, f64::from(b.dbp_mmhg))))
                    .collect(),
                dots_only: false,
                emphasised: false,
            },
            home.0,
            home.1,
        ],
        &[Rule {
            label: &format!("{}/{}", target.sbp_below_mmhg, target.dbp_below_mmhg),
            value: f64::from(target.sbp_below_mmhg),
        }],
    );
    let glucose_chart = d.diabetic.then(|| {
        line_chart(
            l.t("血糖趋势", "Glucose"),
            from,
            today,
            (2.0, 20.0),
            6,
            &[
                Series {
                    label: l.t("空腹血糖（随访）", "FPG (follow-ups)"),
                    colour: "#b7791f",
                    points: followups
                        .iter()
                        .filter_map(|f| {
                            f.fpg_centi_mmol.map(|g| (f.visit_on, f64::from(g) / 100.0))
                        })
                        .collect(),
                    dots_only: false,
                    emphasised: false,
                },
                Series {
                    label: l.t("空腹血糖（检验）", "FPG (laboratory)"),
                    colour: "#7c3aed",
                    points: labs
                        .iter()
                        .filter(|r| r.test == Some(LabTest::FastingGlucose))
                        .filter_map(|r| Some((r.collected_on, r.value_centi? as f64 / 100.0)))
                        .collect(),
                    dots_only: false,
                    emphasised: false,
                },
                glucose_home.0,
                glucose_home.1,
            ],
            &[Rule {
                label: "7.0",
                value: 7.0,
            }],
        )
    });
    (bp_chart, glucose_chart)
}

async fn chronic_page(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Query(q): Query<SavedParam>,
) -> Response {
    let l = c.lang;
    let today = state.app.today();
    let resident = match state.app.read_resident(&c.ctx, id, None).await {
        Ok(r) => r.record,
        Err(e) => {
            return error_page(&c, l.t("慢病档案", "Chronic care"), &e);
        }
    };
    let enrolments = state
        .app
        .resident_enrolments(&c.ctx, id)
        .await
        .unwrap_or_default();
    // The patient's referrals, bookings and consultations, on the same page.
    let referrals = state
        .app
        .resident_referrals(&c.ctx, id, None, 20)
        .await
        .map(|p| p.items)
        .unwrap_or_default();
    let consultations = state
        .app
        .resident_consultations(&c.ctx, id, None, 20)
        .await
        .map(|p| p.items)
        .unwrap_or_default();
    let followups = state
        .app
        .resident_followups(&c.ctx, id, None, None, 50)
        .await
        .map(|p| p.items)
        .unwrap_or_default();
    let now_us = gongti_app::unix_us(state.app.now());
    let readings = state
        .app
        .resident_readings(
            &c.ctx,
            id,
            now_us - 365 * 24 * 3600 * 1_000_000,
            now_us + 1,
            1000,
        )
        .await
        .unwrap_or_default();
    let alerts = state
        .app
        .resident_alerts(&c.ctx, id)
        .await
        .unwrap_or_default();
    // Readings that raised an alert, marked on the charts.
    let alerted: std::collections::HashSet<i64> =
        alerts.iter().filter_map(|a| a.reading_id).collect();
    // Laboratory results (FPG, HbA1c) and the institutions that recorded them.
    let labs = state
        .app
        .resident_lab_results(&c.ctx, id)
        .await
        .unwrap_or_default();
    let mut lab_institutions = std::collections::HashMap::new();
    for r in &labs {
        if let std::collections::hash_map::Entry::Vacant(slot) =
            lab_institutions.entry(r.institution_id)
            && let Ok(i) = state.app.institution(r.institution_id).await
        {
            slot.insert(i.name);
        }
    }
    // The departments of the institution's upper hospital, for a consultation.
    let consult_departments = match c.session.principal.institution_id {
        Some(own) if c.session.principal.role.is_clinical() => {
            match state.app.institution(own).await {
                Ok(i) => match i.upper_institution_id {
                    Some(upper) => state
                        .app
                        .store()
                        .departments(upper)
                        .await
                        .unwrap_or_default(),
                    None => Vec::new(),
                },
                Err(_) => Vec::new(),
            }
        }
        _ => Vec::new(),
    };
    let age = gongti_core::resident::age_years(resident.birth_date, today);
    let (bp_chart, glucose_chart) = health_charts(
        l,
        &HealthCharts {
            followups: &followups,
            readings: &readings,
            alerted: &alerted,
            labs: &labs,
            age_years: age,
            diabetic: enrolments.iter().any(|e| e.disease == Disease::Diabetes),
            today,
        },
        state.app.chronic_params(),
    );
    layout(&c, l.t("慢病档案", "Chronic care"), html! {
        h1 { (resident.name) " " small.muted { (l.t("慢病管理", "chronic care")) " · " (age) (l.t(" 岁", " years")) } }
        p { a href=(format!("/residents/{id}")) { (l.t("← 基本信息", "← Profile")) } }
        (alert_banners(&c, id, &alerts, &readings))
        @if let Some(f) = q.saved { p.saved role="status" { (l.t("随访已保存 #", "Follow-up saved #")) (f) } }
        @if let Some(d) = q.ended.as_deref().and_then(Disease::parse) { p.saved role="status" { (disease_label(l, d)) (l.t("管理已结案", " enrolment ended")) } }
        @if enrolments.is_empty() { p.muted { (l.t("尚未纳入慢病管理（可通过接口建档）", "Not enrolled in a programme yet (enrol through the API)")) } }
        @for e in &enrolments {
            div.card {
                h2 { (disease_label(l, e.disease)) " " small.muted { (e.icd10) " · " (l.t("确诊 ", "diagnosed ")) (e.diagnosed_on) } }
                @if let Some(r) = &e.risk {
                    p { strong { (l.t("风险分层：", "Risk: ")) } (risk_label(l, Some(r.level)))
                        @for f in &r.factors {
                            @if let Some(rf) = gongti_core::chronic::risk::RiskFactor::parse(f) { @let (zh, en) = wording::risk_factor(rf); " · " span.muted { (l.t(zh, en)) } }
                        }
                    }
                }
                @if !e.active {
                    p.muted.ended { (l.t("已结案 ", "Ended ")) (e.ended_on.map(|d| d.to_string()).unwrap_or_default())
                        @if let Some(r) = e.end_reason.as_deref().and_then(EndReason::parse) { @let (zh, en) = wording::end_reason(r); " · " (l.t(zh, en)) }
                        @if let Some(n) = &e.end_note { " · " (n) } }
                } @else {
                p { (l.t("下次随访：", "Next due: ")) (e.next_due_on.map(|d| d.to_string()).unwrap_or_else(|| l.t("未定", "not set").into()))
                    " · " (l.t("最近面访：", "Last face-to-face: ")) (e.last_face_to_face_on.map(|d| d.to_string()).unwrap_or_default()) }
                p { a.button href=(format!("/residents/{id}/followups/new?disease={}", e.disease.code())) { (l.t("新增随访 →", "New follow-up →")) } }
                form.refer method="post" action="/referrals" {
                    (crate::console::form_tokens(c.session.csrf.as_deref().unwrap_or("")))
                    input type="hidden" name="resident_id" value=(id);
                    input type="hidden" name="source" value="manual";
                    input type="hidden" name="disease" value=(e.disease.code());
                    input name="reason" placeholder=(l.t("转诊原因", "Reason for referral")) required;
                    select name="urgency" { option value="routine" { (l.t("预约上转", "Routine")) } option value="emergency" { (l.t("急诊上转", "Emergency")) } }
                    button type="submit" { (l.t("转诊", "Refer")) }
                }
                (end_form(&c, id, e.disease, today))
                }
            }
        }
        @if !consult_departments.is_empty() { (super::consultations::request_form(&c, id, &consult_departments)) }
        div.card { (PreEscaped(bp_chart)) }
        @if let Some(g) = glucose_chart { div.card { (PreEscaped(g)) } }
        @if !referrals.is_empty() || !consultations.is_empty() {
            h2 { (l.t("转诊与会诊", "Referrals and consultations")) }
            table #care-timeline {
                tr { th { (l.t("时间", "When")) } th { (l.t("事项", "What")) } th { (l.t("对方", "With")) } th { (l.t("状态", "Status")) } }
                @for r in &referrals {
                    tr {
                        td { (crate::views::local(r.created_at_us)) }
                        td { a href=(format!("/referrals/{}", r.id)) { (l.t("上转", "Referral up")) } " · " (r.reason) }
                        td { (r.to_institution_name) " · " (r.to_department_name) }
                        td { (super::referrals::status_label(l, r.status))
                             @if let Some(plan) = &r.return_plan { " · " span.muted { (plan) } } }
                    }
                }
                @for k in &consultations {
                    tr {
                        td { (crate::views::local(k.created_at_us)) }
                        td { a href=(format!("/consultations/{}", k.id)) { (l.t("远程会诊", "Consultation")) } " · " (k.question) }
                        td { (k.to_institution_name) " · " (k.to_department_name) }
                        td { (super::consultations::status_label(l, k.status)) @if let Some(o) = &k.opinion { " · " span.muted { (o) } } }
                    }
                }
            }
        }
        @if !followups.is_empty() {
            h2 { (l.t("随访记录", "Follow-ups")) }
            table #followups {
                tr { th { (l.t("日期", "Date")) } th { (l.t("病种", "Programme")) } th { (l.t("方式", "Method")) } th { (l.t("血压", "BP")) } th { (l.t("血糖", "FPG")) } th { (l.t("分类", "Class")) } th { (l.t("转诊", "Referral")) } th { (l.t("下次", "Next")) } }
                @for f in &followups {
                    tr {
                        td { (f.visit_on) }
                        td { (disease_label(l, f.disease)) }
                        td { (l.t(wording::method(f.method).0, wording::method(f.method).1)) }
                        td { (f.bp.map(|b| format!("{}/{}", b.sbp_mmhg, b.dbp_mmhg)).unwrap_or_default()) }
                        td { (f.fpg_centi_mmol.map(|g| format!("{:.1}", f64::from(g) / 100.0)).unwrap_or_default()) }
                        td { (f.classification.map(|c| { let (zh, en) = wording::classification(c); l.t(zh, en) }).unwrap_or("")) }
                        td { @if f.urgent_referral { strong.alert { (l.t("紧急", "urgent")) } } @else if f.refer { (l.t("建议", "advised")) }
                             @if f.urgent_referral || f.refer { " " (super::referrals::refer_button(&c, id, ("followup", Some(f.id)), None, f.urgent_referral)) } }
                        td { (f.next_due_on) }
                    }
                }
            }
        }
        @if !labs.is_empty() {
            h2 { (l.t("检验结果", "Laboratory results")) }
            table #lab-results {
                tr { th { (l.t("采样日期", "Collected")) } th { (l.t("项目", "Test")) } th { (l.t("结果", "Result")) } th { (l.t("报告单位", "Reported by")) } }
                @for r in &labs {
                    tr {
                        td { (r.collected_on) }
                        td { (lab_label(l, r)) }
                        td {
                            (lab_value(r))
                            @if r.test.is_some_and(|t| r.loinc != t.loinc()) { " " span.muted { "(" (r.reported) ")" } }
                            @if !r.reference_range.is_empty() { " " span.muted { "[" (r.reference_range) "]" } }
                            @if let Some(side) = r.critical {
                                " " strong.bad { (match side { CriticalSide::Low => l.t("危急值↓", "critical low"), CriticalSide::High => l.t("危急值↑", "critical high") }) }
                            } @else if !r.flags.is_empty() { " " span.muted { (r.flags) } }
                            @if r.status != ResultStatus::Final { " " span.muted { "(" ({ let (zh, en) = wording::lab_status(r.status); l.t(zh, en) }) ")" } }
                        }
                        td { (lab_institutions.get(&r.institution_id).map(String::as_str).unwrap_or("")) }
                    }
                }
            }
        }
    })
    .into_response()
}

/// A result's test in the reader's language: Gongti's name for a counted test or a
/// known item, else what the laboratory called it.
pub(super) fn lab_label(l: Lang, r: &gongti_store::LabResultRecord) -> String {
    match r.test {
        Some(LabTest::FastingGlucose) => l.t("空腹血糖", "Fasting glucose").into(),
        Some(LabTest::Hba1c) => l.t("糖化血红蛋白", "HbA1c").into(),
        None => match LabItems::builtin()
            .get(&r.loinc)
            .filter(|_| r.code_system == "LN")
        {
            Some(item) => l.t(&item.label_zh, &item.label_en).into(),
            None if r.display.is_empty() => r.loinc.clone(),
            None => r.display.clone(),
        },
    }
}

/// A result's value with its unit, as the laboratory wrote it.
pub(super) fn lab_value(r: &gongti_store::LabResultRecord) -> String {
    match (r.test, r.value_centi) {
        (Some(t), Some(c)) => format!("{:.2} {}", c as f64 / 100.0, t.unit()),
        _ => format!("{} {}", r.value_text, r.unit).trim().to_owned(),
    }
}
