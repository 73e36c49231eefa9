//! 付费方案: the payment scheme's versions (`app::payment`, issue 17 point 1) — the
//! list with the one in force, a version's every parameter in words with the
//! committee's decision (the city officer approves or rejects a proposed version with
//! its reason, 绩效考核管理委员会), and the insurance officer's editor: a new version from an earlier one, every parameter in
//! its place (money in yuan), the day it takes effect and what changed; as the officer
//! types, the problems in words or an example institution's year under the edited
//! scheme (budget, prepayments, m(Q), surplus or overspend — the live form).

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use gongti_app::AppError;
use gongti_app::payment::{
    SchemeDraft, SchemeVersion, may_decide_schemes, may_set_schemes, may_simulate,
};
use gongti_core::decimal::{scaled, shown};
use gongti_core::money::yuan;
use gongti_core::payment::capitation::PLACES;
use gongti_core::payment::incentive;
use gongti_core::payment::scheme::{
    Condition, DemoScheme, Member, POSTS, Payer, QualityTerm, Scheme, SchemeKind, WorkKind,
};
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;

use super::{figures, input, value};
use crate::AppState;
use crate::console::{Console, Lang, error_box, error_page, form_tokens, layout};
use crate::views::local;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/payment/schemes", get(list))
        .route("/payment/schemes/new", get(editor).post(save))
        .route("/payment/schemes/preview", post(preview))
        .route("/payment/schemes/{id}", get(show))
        .route("/payment/schemes/{id}/decide", post(decide))
}

/// Age bands and quality bands the editor offers beyond those the scheme has.
const SPARE_ROWS: usize = 2;

fn title(l: Lang) -> &'static str {
    l.t("付费方案", "Payment scheme")
}

async fn list(State(state): State<AppState>, c: Console) -> Response {
    let l = c.lang;
    let versions = match state.app.payment_schemes(&c.ctx).await {
        Ok(v) => v,
        Err(e) => return error_page(&c, title(l), &e),
    };
    let setter = may_set_schemes(c.session.principal.role);
    let body = html! {
        h1 { (title(l)) }
        p.muted { (l.t("按人头付费、签约服务费与绩效激励的全部参数按版本保存，保存后不再修改，调整即保存新版本。新版本经绩效考核管理委员会（市卫健委）批准后方可生效。年度预算与清算采用当年 1 月 1 日生效的版本，月度绩效采用当月 1 日生效的版本，并记录所用版本号。", "Every parameter of capitation, the contract fee and the incentive pool is kept by version, never changed once saved: a change is a new version, in force only once the committee (the city health commission) approves it. A year's budget and clearing use the version in force on its first day, an incentive month the one in force on the month's first day, and record its number.")) }
        @if setter {
            p { a.button.primary href="/payment/schemes/new" { (l.t("新建版本", "New version")) } " " a href="/payment/simulate" { (l.t("付费测算 →", "Payment what-if →")) } }
        }
        @if versions.is_empty() {
            p { (l.t("尚未保存任何版本。", "No version has been saved yet.")) }
        } @else {
            div.table-wrap {
                table {
                    tr {
                        th { (l.t("版本", "Version")) } th { (l.t("生效日期", "Effective from")) } th { (l.t("状态", "State")) }
                        th { (l.t("人头费（签约 / 门特高血压 / 门特糖尿病，元）", "Per head (contracted / 门特 hypertension / 门特 diabetes, yuan)")) }
                        th { (l.t("说明", "Note")) } th { (l.t("保存人", "Saved by")) } th { (l.t("保存时间", "Saved at")) }
                    }
                    @for v in &versions {
                        tr {
                            td { a href=(format!("/payment/schemes/{}", v.record.id)) { (l.t("第 ", "No. ")) (v.record.id) (l.t(" 版", "")) } }
                            td { (v.record.effective_from) }
                            td { (state_label(l, &state, v)) }
                            td { (SchemeKind::ALL.iter().map(|k| yuan(v.scheme.rate_fen(*k))).collect::<Vec<_>>().join(" / ")) }
                            td { (v.record.note) }
                            td { (v.record.created_by_name) }
                            td { (local(v.record.created_at_us)) }
                        }
                    }
                }
            }
        }
    };
    layout(&c, title(l), body).into_response()
}

fn state_label(l: Lang, state: &AppState, v: &SchemeVersion) -> Markup {
    if v.record.state == "proposed" {
        html! { strong { (l.t("待委员会审批", "Awaiting the committee")) } }
    } else if v.record.state == "rejected" {
        html! { span.muted { (l.t("未获批准", "Rejected")) } }
    } else if v.in_force {
        html! { strong { (l.t("现行", "In force")) } }
    } else if v.record.effective_from > state.app.today() {
        html! { (l.t("待生效", "Scheduled")) }
    } else {
        html! { span.muted { (l.t("已被替代", "Superseded")) } }
    }
}

async fn show(State(state): State<AppState>, c: Console, Path(id): Path<i64>) -> Response {
    show_page(&state, &c, id, None, StatusCode::OK, "").await
}

/// A version's page, with a refusal above it when a decision failed.
async fn show_page(
    state: &AppState,
    c: &Console,
    id: i64,
    problem: Option<Markup>,
    status: StatusCode,
    typed_note: &str,
) -> Response {
    let l = c.lang;
    let v = match state.app.payment_scheme(&c.ctx, id).await {
        Ok(v) => v,
        Err(e) => return error_page(c, title(l), &e),
    };
    let r = &v.record;
    let pairs = pairs_of(&v.scheme);
    let csrf = c.session.csrf.as_deref().unwrap_or("");
    let body = html! {
        p { a href="/payment/schemes" { (l.t("← 全部版本", "← All versions")) } }
        h1 { (title(l)) (l.t(" 第 ", " No. ")) (r.id) (l.t(" 版", "")) }
        p {
            @if r.state == "approved" { (l.t("自 ", "In force from ")) (r.effective_from) (l.t(" 起生效 · ", " · ")) }
            @else { (l.t("拟自 ", "To take effect from ")) (r.effective_from) (l.t(" 起生效 · ", " · ")) }
            (state_label(l, state, &v))
            @if let Some(b) = r.based_on { " · " (l.t("据第 ", "edited from No. ")) a href=(format!("/payment/schemes/{b}")) { (b) } (l.t(" 版修改", "")) }
            " · " (r.created_by_name) " " (local(r.created_at_us))
        }
        p { strong { (l.t("说明：", "Note: ")) } (r.note) }
        @if let Some(p) = problem { (p) }
        @match (r.state.as_str(), &r.decided_by_name) {
            ("proposed", _) => p { (l.t("该版本由医保专员提出，经绩效考核管理委员会批准后方可生效。", "Proposed by the insurance officer: in force only once the committee approves it.")) },
            (decided, Some(by)) => p {
                strong { @if decided == "approved" { (l.t("委员会已批准：", "Approved by the committee: ")) } @else { (l.t("委员会未予批准：", "Rejected by the committee: ")) } }
                (by) @if let Some(at) = r.decided_at_us { " " (local(at)) }
                @if let Some(n) = &r.decision_note { (l.t("；意见：", "; note: ")) (n) }
            },
            _ => p.muted { (l.t("该版本保存于须经委员会批准之前，保存即生效。", "Saved before the committee's approval was required: in force as saved.")) },
        }
        @if r.state == "proposed" && may_decide_schemes(c.session.principal.role) {
            form.card method="post" action=(format!("/payment/schemes/{}/decide", r.id)) {
                (form_tokens(csrf))
                h2 { (l.t("委员会审批", "The committee's decision")) }
                p.muted { (l.t("批准后该版本自生效日起用于年度预算、清算与月度绩效；不予批准须写明理由。", "Approved, the version is used from its day for the year's budget, clearing and incentive months; a rejection needs its reason.")) }
                p { label { (l.t("意见（不予批准时必填）", "Note (required to reject)")) br; textarea name="note" rows="3" cols="60" maxlength="500" { (typed_note) } } }
                p {
                    button.primary type="submit" name="decision" value="approve" { (l.t("批准生效", "Approve")) }
                    " "
                    button type="submit" name="decision" value="reject" { (l.t("不予批准", "Reject")) }
                }
            }
        }
        @if may_set_schemes(c.session.principal.role) {
            p { a.button.primary href=(format!("/payment/schemes/new?from={}", r.id)) { (l.t("以此版本为基础新建", "New version from this one")) } }
        }
        @let (capitation, rest) = sections(l, &pairs, false);
        (capitation)
        (rest)
    };
    (status, layout(c, title(l), body)).into_response()
}

#[derive(Deserialize)]
struct DecisionForm {
    csrf: String,
    decision: String,
    #[serde(default)]
    note: String,
}

async fn decide(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Form(f): Form<DecisionForm>,
) -> Response {
    if !crate::console::csrf_ok(&c, &f.csrf) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let approve = match f.decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return error_page(&c, title(c.lang), &AppError::NotFound),
    };
    match state
        .app
        .decide_payment_scheme(&c.ctx, id, approve, &f.note)
        .await
    {
        Ok(()) => Redirect::to(&format!("/payment/schemes/{id}")).into_response(),
        Err(e @ (AppError::Forbidden | AppError::NotFound)) => error_page(&c, title(c.lang), &e),
        Err(e) => {
            let status = crate::error::ApiError::of(&e).status;
            show_page(&state, &c, id, Some(error_box(c.lang, &e)), status, &f.note).await
        }
    }
}

#[derive(Deserialize)]
struct From {
    from: Option<i64>,
}

async fn editor(State(state): State<AppState>, c: Console, Query(q): Query<From>) -> Response {
    let l = c.lang;
    if !may_set_schemes(c.session.principal.role) {
        return error_page(&c, title(l), &AppError::Forbidden);
    }
    // The version asked for, else the one in force, else the shipped demo scheme.
    let base = match q.from {
        Some(id) => match state.app.payment_scheme(&c.ctx, id).await {
            Ok(v) => Some(v),
            Err(e) => return error_page(&c, title(l), &e),
        },
        None => match state.app.scheme_on(state.app.today()).await {
            Ok(v) => v,
            Err(e) => return error_page(&c, title(l), &e),
        },
    };
    let mut pairs = match &base {
        Some(v) => pairs_of(&v.scheme),
        None => pairs_of(&DemoScheme::builtin().scheme),
    };
    let tomorrow = state.app.today().next_day().unwrap_or(state.app.today());
    pairs.push(("effective_from".into(), tomorrow.to_string()));
    pairs.push(("note".into(), String::new()));
    if let Some(v) = &base {
        pairs.push(("based_on".into(), v.record.id.to_string()));
    }
    pairs.extend(example_defaults());
    let result = example(l, &pairs);
    let csrf = c.session.csrf.as_deref().unwrap_or("");
    layout(&c, title(l), editor_body(l, csrf, &pairs, None, result)).into_response()
}

async fn save(
    State(state): State<AppState>,
    c: Console,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let l = c.lang;
    if value(&pairs, "csrf") != c.session.csrf.as_deref().unwrap_or("") {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let draft = SchemeDraft {
        effective_from: value(&pairs, "effective_from").to_owned(),
        params: text_of(&pairs),
        note: value(&pairs, "note").to_owned(),
        based_on: value(&pairs, "based_on").parse().ok(),
    };
    match state.app.save_payment_scheme(&c.ctx, &draft).await {
        Ok(id) => Redirect::to(&format!("/payment/schemes/{id}")).into_response(),
        Err(AppError::Forbidden) => error_page(&c, title(l), &AppError::Forbidden),
        Err(e) => {
            let status = crate::error::ApiError::of(&e).status;
            let csrf = c.session.csrf.as_deref().unwrap_or("");
            let result = example(l, &pairs);
            let problems = in_yuan(e);
            (
                status,
                layout(
                    &c,
                    title(l),
                    editor_body(l, csrf, &pairs, Some(error_box(l, &problems)), result),
                ),
            )
                .into_response()
        }
    }
}

/// The live answer: the edited scheme's problems, or the example's year under it.
async fn preview(
    c: Console,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let l = c.lang;
    if value(&pairs, "csrf") != c.session.csrf.as_deref().unwrap_or("") {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    if !may_simulate(c.session.principal.role) {
        return error_page(&c, title(l), &AppError::Forbidden);
    }
    let result = example(l, &pairs);
    if headers.get("x-fragment").is_some() {
        return Html(result.into_string()).into_response();
    }
    let csrf = c.session.csrf.as_deref().unwrap_or("");
    layout(&c, title(l), editor_body(l, csrf, &pairs, None, result)).into_response()
}

/// A money parameter's form field is its name with `yuan:` before it; any other
/// parameter's `p:`; the bands' rows are numbered.
fn is_money(name: &str) -> bool {
    name.starts_with("rate_fen.") || name.starts_with("contract_fee_fen.")
}

/// The form's fields of a scheme.
fn pairs_of(s: &Scheme) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for line in s.text().lines() {
        let Some((name, v)) = line.split_once('\t') else {
            continue;
        };
        if name.starts_with("weight.") || name.starts_with("quality_band.") {
            continue;
        }
        if is_money(name) {
            let fen: i64 = v.parse().unwrap_or_default();
            pairs.push((format!("yuan:{name}"), yuan(fen).replace(',', "")));
        } else if name == "surplus_cap_share" && v == "none" {
            pairs.push((format!("p:{name}"), String::new()));
        } else {
            pairs.push((format!("p:{name}"), v.to_owned()));
        }
    }
    for (i, (age, row)) in s.weights.iter().enumerate() {
        pairs.push((format!("age{i}"), age.to_string()));
        for c in Condition::ALL {
            pairs.push((
                format!("w{i}.{}", c.code()),
                shown(row[*c as usize], PLACES),
            ));
        }
    }
    for (i, (min, m)) in s.quality_bands.iter().enumerate() {
        pairs.push((format!("qb{i}_min"), shown(*min, PLACES)));
        pairs.push((format!("qb{i}_m"), shown(*m, PLACES)));
    }
    pairs
}

/// The scheme's text from the form: each field its line; a sum in yuan as fen (what
/// is not an amount stays as typed, for the rule to name); an empty cap as none; an
/// empty field left out (the rule names it as missing).
fn text_of(pairs: &[(String, String)]) -> String {
    let mut text = String::new();
    let mut line = |name: &str, v: &str| {
        if !v.is_empty() && !name.contains(['\t', '\n', '\r']) && !v.contains(['\t', '\n', '\r']) {
            text.push_str(name);
            text.push('\t');
            text.push_str(v);
            text.push('\n');
        }
    };
    for (k, v) in pairs {
        let v = v.trim();
        if let Some(name) = k.strip_prefix("p:") {
            if name == "surplus_cap_share" && v.is_empty() {
                line(name, "none");
            } else {
                line(name, v);
            }
        } else if let Some(name) = k.strip_prefix("yuan:") {
            match scaled(v, 2) {
                Some(fen) => line(name, &fen.to_string()),
                None => line(name, v),
            }
        }
    }
    for i in 0..gongti_core::payment::scheme::BANDS_MAX {
        let age = value(pairs, &format!("age{i}"));
        if !age.is_empty() {
            for c in Condition::ALL {
                line(
                    &format!("weight.{age}.{}", c.code()),
                    value(pairs, &format!("w{i}.{}", c.code())),
                );
            }
        }
        let min = value(pairs, &format!("qb{i}_min"));
        if !min.is_empty() {
            line(
                &format!("quality_band.{min}"),
                value(pairs, &format!("qb{i}_m")),
            );
        }
    }
    text
}

/// The rule's bounds on amounts in fen as the form says them, in yuan.
fn in_yuan(e: AppError) -> AppError {
    match e {
        AppError::Invalid(problems) => AppError::Invalid(
            problems
                .into_iter()
                .map(|mut p| {
                    if let gongti_core::problem::Problem::OutOfRange { max, .. } = &mut p.problem {
                        *max = match p.field {
                            "rate_fen" => "1000000",
                            "contract_fee_fen" => "10000",
                            _ => *max,
                        };
                    }
                    p
                })
                .collect(),
        ),
        other => other,
    }
}

/// The example institution the editor's figures are for (its own fields, not saved).
fn example_defaults() -> Vec<(String, String)> {
    [
        ("ex_contracted", "3000"),
        ("ex_ht", "600"),
        ("ex_dm", "300"),
        ("ex_score", "88"),
        ("ex_cost_yuan", "2000000"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// The example's year under the edited scheme, or the scheme's problems in words.
fn example(l: Lang, pairs: &[(String, String)]) -> Markup {
    let scheme = match Scheme::parse(&text_of(pairs)) {
        Ok(s) => s,
        Err(p) => return error_box(l, &in_yuan(AppError::Invalid(p))),
    };
    let count = |name: &str| {
        value(pairs, name)
            .parse::<i64>()
            .ok()
            .filter(|n| (0..=10_000_000).contains(n))
    };
    let score = scaled(value(pairs, "ex_score"), PLACES).filter(|s| (0..=100_000_000).contains(s));
    let cost = scaled(value(pairs, "ex_cost_yuan"), 2).and_then(|c| i64::try_from(c).ok());
    let (Some(contracted), Some(ht), Some(dm), Some(score), Some(cost)) = (
        count("ex_contracted"),
        count("ex_ht"),
        count("ex_dm"),
        score,
        cost,
    ) else {
        return html! { div.error role="alert" { (l.t("示例机构的人数（0–10000000）、得分（0–100）或费用（元）不是数字。", "The example's persons (0–10,000,000), score (0–100) or cost (yuan) is not a number.")) } };
    };
    let member = |kind, age, condition, count| Member {
        kind,
        age,
        condition,
        days: 365,
        count,
    };
    let members = [
        member(SchemeKind::Contracted, 45, Condition::None, contracted),
        member(SchemeKind::MtHypertension, 65, Condition::Hypertension, ht),
        member(SchemeKind::MtDiabetes, 65, Condition::Diabetes, dm),
    ];
    let budget = scheme.budget_fen(&members, 365);
    let clearing = scheme.clearing(budget, score, cost);
    html! {
        p.muted { (l.t("示例机构全年：签约居民 45 岁无慢病、门特患者 65 岁，按上方方案计算。", "An example institution's year: contracted residents aged 45 without either disease, 门特 patients aged 65, under the scheme above.")) }
        (figures(l, &clearing))
    }
}

fn cell(pairs: &[(String, String)], name: &str, editable: bool) -> Markup {
    if editable {
        input(pairs, name, "num-m")
    } else {
        let v = value(pairs, name);
        html! { @if v.is_empty() { span.muted { "—" } } @else { (v) } }
    }
}

/// The scheme's parameters section by section, as inputs or as values: those of
/// capitation (the example's figures follow them in the editor), then the rest.
fn sections(l: Lang, pairs: &[(String, String)], editable: bool) -> (Markup, Markup) {
    let ages = (0..gongti_core::payment::scheme::BANDS_MAX)
        .take_while(|i| !value(pairs, &format!("age{i}")).is_empty())
        .count();
    let age_rows = if editable { ages + SPARE_ROWS } else { ages };
    let bands = (0..gongti_core::payment::scheme::BANDS_MAX)
        .take_while(|i| !value(pairs, &format!("qb{i}_min")).is_empty())
        .count();
    let band_rows = if editable { bands + SPARE_ROWS } else { bands };
    let row = |label: String, name: String| html! { tr { th { (label) } td { (cell(pairs, &name, editable)) } } };
    let capitation = html! {
        fieldset {
            legend { (l.t("人头费标准（元/人·年）", "Per-head rates (yuan a person a year)")) }
            table.figures { @for k in SchemeKind::ALL { (row(l.t(k.name_zh(), k.name_en()).to_owned(), format!("yuan:rate_fen.{}", k.code()))) } }
        }
        fieldset {
            legend { (l.t("风险权重（年龄段 × 慢病）", "Risk weights (age band × condition)")) }
            @if editable { p.muted { (l.t("每行一个年龄段，填写起始年龄；首段须从 0 岁起。清空起始年龄即删除该段。", "One age band a row, from its first age; the first from 0. Clear the age to drop a band.")) } }
            div.table-wrap {
                table {
                    tr { th { (l.t("起始年龄", "From age")) } @for c in Condition::ALL { th { (l.t(c.name_zh(), c.name_en())) } } }
                    @for i in 0..age_rows {
                        tr {
                            td { (cell(pairs, &format!("age{i}"), editable)) }
                            @for c in Condition::ALL { td { (cell(pairs, &format!("w{i}.{}", c.code()), editable)) } }
                        }
                    }
                }
            }
        }
        fieldset {
            legend { (l.t("预拨与清算", "Prepayment and clearing")) }
            table.figures {
                (row(l.t("月预拨比例 α（0–1）", "Prepaid share α (0–1)").to_owned(), "p:prepay_share".into()))
                (row(l.t("结余留用上限（占调整后预算的比例，空为不设）", "Cap on the surplus kept (share of A; empty: none)").to_owned(), "p:surplus_cap_share".into()))
                (row(l.t("超支基金分担比例（0 为超支不补）", "Fund's share of an overspend (0: not compensated)").to_owned(), "p:overspend_share".into()))
                (row(l.t("云检查费用医保基金支付比例（0–1）", "Fund's share of a cloud-centre exam fee (0–1)").to_owned(), "p:exam_fund_share".into()))
            }
        }
        fieldset {
            legend { (l.t("质量档次 m(Q)", "Quality bands m(Q)")) }
            table {
                tr { th { (l.t("档次最低分", "Band minimum")) } th { (l.t("系数", "Multiplier")) } }
                @for i in 0..band_rows {
                    tr { td { (cell(pairs, &format!("qb{i}_min"), editable)) } td { (cell(pairs, &format!("qb{i}_m"), editable)) } }
                }
            }
        }
    };
    let rest = html! {
        fieldset {
            legend { (l.t("质量考核指标权重（合计为 1）", "Weights of the quality terms (summing to 1)")) }
            table.figures { @for t in QualityTerm::ALL { (row(l.t(t.name_zh(), t.name_en()).to_owned(), format!("p:quality_weight.{}", t.code()))) } }
        }
        fieldset {
            legend { (l.t("家庭医生签约服务费（基础包，元/人·年）", "Family-doctor contract fee (basic package, yuan a person a year)")) }
            table.figures {
                @for p in Payer::ALL { (row(l.t(p.name_zh(), p.name_en()).to_owned(), format!("yuan:contract_fee_fen.{}", p.code()))) }
                (row(l.t("团队分配比例（不低于 0.7）", "Team's share (at least 0.7)").to_owned(), "p:team_share".into()))
                (row(l.t("每名家庭医生签约上限（人）", "Most contracts per family doctor").to_owned(), "p:contracts_per_doctor_max".into()))
            }
        }
        fieldset {
            legend { (l.t("标准工作量当量", "Standard workload units")) }
            table.figures { @for k in WorkKind::ALL { (row(l.t(k.name_zh(), k.name_en()).to_owned(), format!("p:work_units.{}", k.code()))) } }
        }
        fieldset {
            legend { (l.t("岗位系数", "Post coefficients")) }
            table.figures { @for r in POSTS { (row(l.t(r.name_zh(), r.code()).to_owned(), format!("p:post_coefficient.{}", r.code()))) } }
        }
        @if !editable { p.muted { (l.t("工作量当量与岗位系数的小数位至多 ", "Units and post coefficients carry at most ")) (incentive::PLACES) (l.t(" 位。", " decimal places.")) } }
    };
    (capitation, rest)
}

fn editor_body(
    l: Lang,
    csrf: &str,
    pairs: &[(String, String)],
    problems: Option<Markup>,
    result: Markup,
) -> Markup {
    html! {
        p { a href="/payment/schemes" { (l.t("← 全部版本", "← All versions")) } }
        h1 { (l.t("新建付费方案版本", "New payment scheme version")) }
        p.muted { (l.t("在原版本基础上修改后保存为新版本；原版本不变。边输入边检查，并按示例机构计算全年预算、预拨与结余。", "Edit from the earlier version and save as a new one; the earlier stays as it was. As you type, the scheme is checked and an example institution's year is computed under it.")) }
        @if let Some(p) = problems { (p) }
        form #scheme-form method="post" action="/payment/schemes/new" data-live="scheme-figures" {
            (form_tokens(csrf))
            @if !value(pairs, "based_on").is_empty() { input type="hidden" name="based_on" value=(value(pairs, "based_on")); }
            fieldset {
                legend { (l.t("版本", "Version")) }
                div.grid {
                    label { (l.t("生效日期（不早于本年 1 月 1 日）", "Effective from (this year's first day or later)")) input type="date" name="effective_from" value=(value(pairs, "effective_from")) required; }
                    label { (l.t("变更说明", "What changed")) input type="text" name="note" maxlength="500" value=(value(pairs, "note")) required; }
                }
            }
            @let (capitation, rest) = sections(l, pairs, true);
            (capitation)
            fieldset {
                legend { (l.t("示例机构（仅用于试算，不保存）", "Example institution (for the figures only, not saved)")) }
                div.grid {
                    label { (l.t("签约居民（人）", "Contracted residents")) (input(pairs, "ex_contracted", "")) }
                    label { (l.t("门特高血压（人）", "门特 hypertension")) (input(pairs, "ex_ht", "")) }
                    label { (l.t("门特糖尿病（人）", "门特 diabetes")) (input(pairs, "ex_dm", "")) }
                    label { (l.t("质量考核得分（0–100）", "Quality score (0–100)")) (input(pairs, "ex_score", "")) }
                    label { (l.t("全年医保基金支出（元）", "The year's fund-paid cost (yuan)")) (input(pairs, "ex_cost_yuan", "")) }
                }
            }
            section.card #scheme-figures aria-live="polite" { (result) }
            (rest)
            button type="submit" formaction="/payment/schemes/preview" { (l.t("试算", "Compute")) }
            " "
            button.primary type="submit" { (l.t("保存为新版本", "Save as a new version")) }
        }
        script { (PreEscaped(crate::console::LIVE_SCRIPT)) }
    }
}
