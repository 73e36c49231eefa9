//! The health commission's dashboard (绩效看板): the chronic-disease indicators of the
//! city, a district or an institution against the previous period, the areas one
//! level down to drill into, and monthly trends drawn as SVG. It refreshes itself.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use gongti_app::AppError;
use gongti_app::indicators::Comparison;
use gongti_core::chronic::Disease;
use gongti_core::chronic::indicators::{
    Indicator, Period, Tally, change_basis_points, rate_basis_points,
};
use gongti_core::chronic::maintained::{StandardPeriod, comparable};
use gongti_store::{IndicatorScope, InstitutionFilter};
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;
use time::Date;

use super::svg::{Series, line_chart};
use super::{Console, Lang, error_box, error_page, layout};
use crate::api::indicators::{parse_period, parse_scope};
use crate::{AppState, wording};

/// Seconds between the page's own refreshes.
const REFRESH_S: u32 = 300;
/// Quarters on the trend charts.
const TREND_QUARTERS: usize = 8;
/// Areas listed one level down.
const CHILDREN_MAX: u32 = 60;

pub(super) fn routes() -> axum::Router<AppState> {
    axum::Router::new().route("/dashboard", axum::routing::get(dashboard))
}

#[derive(Deserialize, Default)]
struct DashboardParams {
    scope: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

pub(super) fn percent(n: u64, d: u64) -> String {
    rate_basis_points(n, d).map_or_else(
        || "—".to_owned(),
        |bp| format!("{}.{:02}%", bp / 100, bp % 100),
    )
}

/// A change in percentage points with its own sign ("-0.04", "+1.20", "0.00").
pub(super) fn signed_points(diff_bp: i64) -> String {
    let sign = match diff_bp.signum() {
        1 => "+",
        -1 => "-",
        _ => "",
    };
    let abs = diff_bp.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// What the figures are compared with, in a sentence ending with a full stop.
fn basis_text(l: Lang, c: &Comparison) -> Markup {
    let b = &c.basis;
    let read_to = b.as_of.unwrap_or(b.period.to);
    html! {
        @if !c.comparable {
            @match c.records_since {
                Some(since) => { (l.t("记录自 ", "Records are kept from ")) (since) (l.t(" 起保存，对比期 ", "; the period to compare with, ")) (b.period.from) " – " (b.period.to) (l.t(" 早于此，无可比数据。", ", began earlier: no comparable data. ")) }
                None => { (l.t("尚无随访记录，无可比数据。", "No follow-ups recorded yet: no comparable data. ")) }
            }
        } @else if b.as_of.is_some() {
            (l.t("本期尚未结束，对比上期同期 ", "The period is in progress: compared with the same days of the one before, ")) (b.period.from) " – " (read_to) (l.t("。", ". "))
        } @else {
            (l.t("对比上一周期 ", "Compared with ")) (b.period.from) " – " (b.period.to) (l.t("。", ". "))
        }
    }
}

fn change(
    l: Lang,
    now: (u64, u64),
    before: (u64, u64),
    comparable: bool,
    visits_before: u64,
) -> Markup {
    match change_basis_points(now, before, comparable, visits_before) {
        Some(diff) => {
            let arrow = match diff.signum() {
                1 => "▲",
                -1 => "▼",
                _ => "＝",
            };
            html! { span.change { (arrow) " " (signed_points(diff)) (l.t(" 个百分点", " pts")) } }
        }
        None => html! { span.muted { (l.t("无可比数据", "no comparable data")) } },
    }
}

pub(super) fn scope_text(s: &IndicatorScope) -> String {
    match s {
        IndicatorScope::City => "city".into(),
        IndicatorScope::District(c) => format!("district:{c}"),
        IndicatorScope::Institution(id) => format!("institution:{id}"),
    }
}

/// The scope one level up, when the viewer may see it (no link that would be refused).
async fn up_link(
    state: &AppState,
    c: &Console,
    scope: &IndicatorScope,
) -> Option<(String, &'static str, &'static str)> {
    use gongti_core::access::{AggregateScope, may_view_aggregates};
    use gongti_core::region::DistrictCode;
    let actor = c.session.principal.actor();
    match scope {
        IndicatorScope::City => None,
        IndicatorScope::District(_) => may_view_aggregates(&actor, &AggregateScope::City)
            .then(|| ("/dashboard?scope=city".to_owned(), "↑ 全市", "↑ City")),
        IndicatorScope::Institution(id) => {
            let district = state.app.institution(*id).await.ok()?.district_code;
            let code = DistrictCode::parse(&district).ok()?;
            may_view_aggregates(&actor, &AggregateScope::District(code)).then(|| {
                (
                    format!("/dashboard?scope=district:{district}"),
                    "↑ 所在区",
                    "↑ District",
                )
            })
        }
    }
}

async fn dashboard(
    State(state): State<AppState>,
    c: Console,
    Query(q): Query<DashboardParams>,
) -> Response {
    let l = c.lang;
    let scope = match parse_scope(&c.ctx, q.scope.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            return layout(
                &c,
                l.t("看板", "Dashboard"),
                html! { div.error { (l.t(&e.zh, &e.en)) } },
            )
            .into_response();
        }
    };
    let period = match parse_period(&state, q.from.as_deref(), q.to.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            return layout(
                &c,
                l.t("看板", "Dashboard"),
                html! { div.error { (l.t(&e.zh, &e.en)) } },
            )
            .into_response();
        }
    };
    let now = state
        .app
        .indicators(&c.ctx, &scope, &Disease::ALL, &period)
        .await;
    let before = state
        .app
        .indicator_comparison(&c.ctx, &scope, &Disease::ALL, &period)
        .await;
    let (now, before) = match (now, before) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            return error_page(&c, l.t("看板", "Dashboard"), &e);
        }
    };
    let title = match &scope {
        IndicatorScope::City => l.t("全市", "City").to_owned(),
        IndicatorScope::District(code) => state.app.district_name(code).await,
        IndicatorScope::Institution(id) => state.app.institution_name(*id).await,
    };
    // The page's other parts read apart from each other: side by side.
    let (up, cloud, pharmacy, exam, payment, coverage, children, trends) = tokio::join!(
        up_link(&state, &c, &scope),
        cloud_card(&state, &c, &scope, &period),
        pharmacy_card(&state, &c, &scope, &period),
        exam_card(&state, &c, &period),
        super::payment::payment_card(&state, &c, &scope),
        state.app.contract_coverage(&c.ctx, &scope),
        children(&state, &c, &scope, &period),
        trends(&state, &c, &scope, period.to, before.records_since),
    );
    let body = html! {
        meta http-equiv="refresh" content=(REFRESH_S);
        h1 { (l.t("慢病管理看板 · ", "Chronic care dashboard · ")) (title) }
        form.search method="get" action="/dashboard" {
            input type="hidden" name="scope" value=(scope_text(&scope));
            label { (l.t("从 ", "From ")) input type="date" name="from" value=(period.from.to_string()); }
            label { (l.t("至 ", "to ")) input type="date" name="to" value=(period.to.to_string()); }
            button.primary type="submit" { (l.t("查看", "Show")) }
            @if let Some((href, zh, en)) = &up { a href=(href) { (l.t(zh, en)) } }
            a #screen-link href=(format!("/dashboard/screen?scope={}", scope_text(&scope))) { (l.t("运营监控大屏", "Operations screen")) }
        }
        p.periods {
            @for (p, zh, en) in quick_periods(state.app.today()) {
                a href=(format!("/dashboard?scope={}&from={}&to={}", scope_text(&scope), p.period().from, p.period().to)) { (l.t(zh, en)) } " "
            }
        }
        p.muted #basis { (basis_text(l, &before)) (l.t("每 5 分钟自动刷新。", "Refreshes every 5 minutes.")) }
        @for ((disease, tally), (_, previous)) in now.iter().zip(before.tallies.iter()) {
            @let (zh, en) = wording::disease(*disease);
            div.card {
                h2 { (l.t(zh, en)) " " small.muted { (l.t("在管 ", "managed ")) (tally.managed) (l.t(" 人", "")) } }
                table.indicators #(format!("indicators-{}", disease.code())) {
                    tr { th { (l.t("指标", "Indicator")) } th { (l.t("分子/分母", "Numerator / denominator")) } th { (l.t("本期", "This period")) } th { (l.t("上期", "Previous")) } th { (l.t("变化", "Change")) } th {} }
                    @for i in Indicator::ALL.iter().filter(|i| i.applies_to(*disease)) {
                        @let (label, label_en) = wording::indicator(*i);
                        @let (n, d) = tally.get(*i);
                        @let (pn, pd) = previous.get(*i);
                        tr {
                            td { (l.t(label, label_en)) }
                            td { (n) " / " (d) }
                            td.rate { strong { (percent(n, d)) } }
                            td { @if !before.comparable || previous.face_to_face_visits == 0 { span.muted { "—" } } @else { (percent(pn, pd)) } }
                            td { (change(l, (n, d), (pn, pd), before.comparable, previous.face_to_face_visits)) }
                            td { a href=(patients_link(&scope, *disease, &period, *i)) { (l.t("名单", "patients")) } }
                        }
                    }
                }
            }
        }
        @match &coverage {
            Ok(k) => {
                div.card #coverage {
                    h2 { (l.t("家庭医生签约（截至今日）", "Family-doctor contracts (today)")) }
                    table {
                        tr { th {} th { (l.t("已签约 / 人数", "Contracted / people")) } th { (l.t("签约率", "Share contracted")) } }
                        tr { td { (l.t("常住居民", "Residents")) } td { (super::count(k.contracted)) " / " (super::count(k.residents)) } td.rate { strong { (percent(k.contracted, k.residents)) } } }
                        tr { td { (l.t("慢病在管患者", "Patients under chronic management")) } td { (super::count(k.chronic_contracted)) " / " (super::count(k.chronic)) } td.rate { strong { (percent(k.chronic_contracted, k.chronic)) } } }
                    }
                }
            }
            Err(e) => (error_box(l, e)),
        }
        @match cloud {
            Ok(markup) => (markup),
            Err(e) => (error_box(l, &e)),
        }
        @match pharmacy {
            Ok(markup) => (markup),
            Err(e) => (error_box(l, &e)),
        }
        @match exam {
            Ok(Some(markup)) => (markup),
            Ok(None) => {},
            Err(e) => (error_box(l, &e)),
        }
        @match payment {
            Ok(Some(markup)) => (markup),
            Ok(None) => {},
            Err(e) => (error_box(l, &e)),
        }
        @match children {
            Ok(Some(markup)) => (markup),
            Ok(None) => {},
            Err(e) => (error_box(l, &e)),
        }
        @match trends {
            Ok(charts) => { @for chart in charts { div.card { (PreEscaped(chart)) } } },
            Err(e) => (error_box(l, &e)),
        }
    };
    layout(&c, l.t("看板", "Dashboard"), body).into_response()
}

/// 检查检验结果互认 since the period's first day (issue 16): duplicate exams avoided
/// and re-orders by reason — the institution's own for its staff, the city's for its
/// officers (a district's officers have no such figure: no card).
async fn exam_card(
    state: &AppState,
    c: &Console,
    period: &Period,
) -> Result<Option<Markup>, AppError> {
    let l = c.lang;
    let since_us = gongti_app::unix_us(
        period
            .from
            .midnight()
            .assume_offset(gongti_app::DISPLAY_OFFSET),
    );
    let f = match state.app.recognition_figures(&c.ctx, since_us).await {
        Ok(f) => f,
        Err(AppError::Forbidden) => return Ok(None),
        Err(e) => return Err(e),
    };
    let reordered: i64 = f.reordered.iter().map(|(_, n)| n).sum();
    Ok(Some(html! {
        div.card #recognition-figures {
            h2 { (l.t("检查检验结果互认", "Mutual recognition of results")) " " small.muted { (l.t("自 ", "since ")) (period.from) } }
            table.indicators {
                tr { th { (l.t("指标", "Figure")) } th { (l.t("数值", "Value")) } }
                tr { td { (l.t("采用已有结果（避免重复检查）", "Results used (duplicate exams avoided)")) } td.rate { strong { (f.recognised) } } }
                tr { td { (l.t("仍重新检查", "Ordered again")) } td { strong { (reordered) }
                    @if !f.reordered.is_empty() {
                        span.muted { " (" @for (i, (r, n)) in f.reordered.iter().enumerate() { @if i > 0 { (l.t("，", ", ")) } (l.t(r.label_zh(), r.label_en())) " " (n) } ")" }
                    } } }
            }
            p { a href="/exam-figures" { (l.t("互认统计 →", "Recognition figures →")) } }
        }
    }))
}

/// The cloud pharmacy (issue 15): online repeat visits, review, findings, deliveries
/// and the 门特 patients' monthly self-pay against the full price, each with its list.
async fn pharmacy_card(
    state: &AppState,
    c: &Console,
    scope: &IndicatorScope,
    period: &Period,
) -> Result<Markup, AppError> {
    use gongti_core::pharmacy::visit::VisitStatus;
    let l = c.lang;
    let view = state.app.pharmacy_figures(&c.ctx, scope, period).await?;
    let f = &view.figures;
    let link = |list: &str| {
        format!(
            "/dashboard/patients?scope={}&pharmacy={list}&from={}&to={}",
            scope_text(scope),
            period.from,
            period.to
        )
    };
    let patients = |list: &str| html! { a href=(link(list)) { (l.t("名单", "patients")) } };
    let by = |s: VisitStatus| {
        f.visits_by_status
            .iter()
            .find(|(x, _)| *x == s)
            .map_or(0, |(_, n)| *n)
    };
    let yuan = |fen: Option<i64>| {
        fen.map_or("—".to_owned(), |f| {
            format!("{} 元", crate::views::yuan(f))
        })
    };
    Ok(html! {
        div.card #pharmacy {
            h2 { (l.t("云药房", "Cloud pharmacy")) }
            table.indicators #pharmacy-figures {
                tr { th { (l.t("指标", "Figure")) } th { (l.t("数值", "Value")) } th {} }
                tr { td { (l.t("在线复诊申请", "Online repeat visits asked")) }
                     td { strong { (f.visits) } span.muted { " (" (l.t("已开方 ", "prescribed ")) (by(VisitStatus::Prescribed)) (l.t("，转线下 ", ", to a clinic ")) (by(VisitStatus::ToClinic)) (l.t("，待接诊 ", ", waiting ")) (by(VisitStatus::Waiting)) ")" } }
                     td { (patients("visits")) " · " a href=(link("visits.to_clinic")) { (l.t("转线下", "to a clinic")) } } }
                tr { td { (l.t("审核处方", "Prescriptions reviewed")) } td.rate { strong { (f.reviewed) } } td { (patients("reviewed")) } }
                tr { td { (l.t("一次审核通过率", "Passed at the first review")) }
                     td { (f.first_pass) " / " (f.reviewed) " · " strong { (percent(f.first_pass, f.reviewed)) } }
                     td { (patients("first_pass")) " · " a href=(link("not_first_pass")) { (l.t("未一次通过", "not at once")) } } }
                tr { td { (l.t("审核时长（中位数，开具至首次审核）", "Review time (median, issue to first decision)")) }
                     td { (f.median_review_minutes.map_or("—".to_owned(), |m| format!("{m} {}", l.t("分钟", "min")))) } td {} }
                tr { td { (l.t("按时送达（", "Delivered on time (within ")) (view.on_time_hours) (l.t(" 小时内）", " h)")) }
                     td { (f.on_time) " / " (f.deliveries) " · " strong { (percent(f.on_time, f.deliveries)) } }
                     td { (patients("deliveries_on_time")) " · " a href=(link("deliveries_late")) { (l.t("超时或失败", "late or failed")) } } }
                tr { td { (l.t("门特患者月均药费（全价 → 自付）", "门特 patients' monthly drugs (full price → own share)")) }
                     td { (yuan(f.full_price_fen)) " → " strong { (yuan(f.self_pay_fen)) } span.muted { " (" (f.patient_months) (l.t(" 人·月）", " patient-months)")) } }
                     td { (patients("self_pay")) } }
            }
            @if !f.findings.is_empty() {
                table #pharmacy-findings {
                    tr { th { (l.t("审方问题（开具时）", "Findings at issue")) } th { (l.t("处方数", "Prescriptions")) } th {} }
                    @for (code, n) in &f.findings {
                        tr { td { (super::pharmacy::code_label(l, code)) } td { (n) } td { (patients(&format!("finding.{code}"))) } }
                    }
                }
            }
        }
    })
}

/// Two-way referral and reserved slots (DOMAIN.md §3), each figure with its patients.
async fn cloud_card(
    state: &AppState,
    c: &Console,
    scope: &IndicatorScope,
    period: &Period,
) -> Result<Markup, AppError> {
    let l = c.lang;
    let f = state.app.cloud_figures(&c.ctx, scope, period).await?;
    let r = &f.referrals;
    let link = |measure: &str| {
        format!(
            "/dashboard/patients?scope={}&measure={measure}&from={}&to={}",
            scope_text(scope),
            period.from,
            period.to
        )
    };
    let used = f.reserved.by_family_doctors + f.reserved.by_public_after_release;
    let hours = |h: Option<u64>| h.map_or("—".to_owned(), |h| format!("{h} h"));
    Ok(html! {
        div.card {
            h2 { (l.t("双向转诊与预留号源", "Two-way referral and reserved slots")) }
            table.indicators #cloud-figures {
                tr { th { (l.t("指标", "Figure")) } th { (l.t("数值", "Value")) } th {} }
                tr { td { (l.t("上转人次", "Referred up")) } td.rate { strong { (r.up) } } td { a href=(link("up")) { (l.t("名单", "patients")) } } }
                tr { td { (l.t("下转人次", "Referred back down")) } td.rate { strong { (r.down) } } td { a href=(link("down")) { (l.t("名单", "patients")) } } }
                tr { td { (l.t("到院患者下转回基层比例", "Share of patients seen returned to grassroots")) }
                     td { (r.returned) " / " (r.reached) " · " strong { (percent(r.returned, r.reached)) } }
                     td { a href=(link("returned")) { (l.t("名单", "patients")) } } }
                tr { td { (l.t("转诊至到院时长（中位数 / P90）", "Referral to visit (median / P90)")) }
                     td { (hours(r.median_hours_to_visit)) " / " (hours(r.p90_hours_to_visit)) " (" (r.visits) ")" } td { a href=(link("reached")) { (l.t("名单", "patients")) } } }
                tr { td { (l.t("预留号使用率", "Reserved slots used")) }
                     td { (used) " / " (f.reserved.offered) " · " strong { (percent(used, f.reserved.offered)) }
                          span.muted { " (" (l.t("家庭医生 ", "family doctors ")) (f.reserved.by_family_doctors) (l.t("，释放后公众 ", ", public after release ")) (f.reserved.by_public_after_release) ")" } }
                     td {} }
            }
            @if !r.by_month.is_empty() {
                table #cloud-months {
                    tr { th { (l.t("月份", "Month")) } th { (l.t("上转", "Up")) } th { (l.t("下转", "Down")) } }
                    @for ((y, m), n) in &r.by_month { tr { td { (format!("{y:04}-{m:02}")) } td { (n.up) } td { (n.down) } } }
                }
            }
            @if !r.by_institution.is_empty() {
                table #cloud-institutions {
                    tr { th { (l.t("转出机构", "Sending institution")) } th { (l.t("上转", "Up")) } th { (l.t("下转", "Down")) } }
                    @for (id, n) in &r.by_institution {
                        tr { td { (f.institution_names.get(id).map(String::as_str).unwrap_or("")) } td { (n.up) } td { (n.down) } }
                    }
                }
            }
        }
    })
}

/// The standard periods offered as one click: read from the kept counters.
fn quick_periods(today: Date) -> [(StandardPeriod, &'static str, &'static str); 4] {
    let [year, quarter, month] = StandardPeriod::containing(today);
    [
        (year, "本年", "This year"),
        (quarter, "本季度", "This quarter"),
        (month, "本月", "This month"),
        (year.previous(), "上年", "Last year"),
    ]
}

fn patients_link(
    scope: &IndicatorScope,
    disease: Disease,
    period: &Period,
    i: Indicator,
) -> String {
    format!(
        "/dashboard/patients?scope={}&disease={}&indicator={}&from={}&to={}",
        scope_text(scope),
        disease.code(),
        i.code(),
        period.from,
        period.to
    )
}

/// The areas one level down with their headline rates, to drill into.
async fn children(
    state: &AppState,
    c: &Console,
    scope: &IndicatorScope,
    period: &Period,
) -> Result<Option<Markup>, AppError> {
    let l = c.lang;
    let areas: Vec<(IndicatorScope, String)> = match scope {
        IndicatorScope::City => state
            .app
            .store()
            .districts()
            .await
            .map_err(|e| AppError::Internal(e.into()))?
            .into_iter()
            .map(|d| (IndicatorScope::District(d.code), d.name))
            .collect(),
        IndicatorScope::District(code) => {
            let filter = InstitutionFilter {
                district_code: Some(code.clone()),
                ..InstitutionFilter::default()
            };
            state
                .app
                .store()
                .institutions(&filter, None, CHILDREN_MAX)
                .await
                .map_err(|e| AppError::Internal(e.into()))?
                .items
                .into_iter()
                .map(|i| (IndicatorScope::Institution(i.id), i.name))
                .collect()
        }
        IndicatorScope::Institution(_) => return Ok(None),
    };
    // Each area's figures are a few reads of kept counters; read at once they take
    // the read pool's connections side by side (the city's 16 districts one after
    // another were most of its dashboard's time at 1,000,000 residents).
    let figures = futures_util::future::try_join_all(
        areas
            .iter()
            .map(|(area, _)| state.app.indicators(&c.ctx, area, &Disease::ALL, period)),
    )
    .await?;
    let mut rows = Vec::new();
    for ((area, name), figures) in areas.into_iter().zip(figures) {
        let get = |d: Disease| {
            figures
                .iter()
                .find(|(x, _)| *x == d)
                .map(|(_, t)| t.clone())
                .unwrap_or_default()
        };
        let (htn, dm): (Tally, Tally) = (get(Disease::Hypertension), get(Disease::Diabetes));
        if htn.managed + dm.managed == 0 {
            continue;
        }
        rows.push((area, name, htn, dm));
    }
    Ok(Some(html! {
        div.card {
            h2 { (match scope { IndicatorScope::City => l.t("各区", "Districts"), _ => l.t("各机构", "Institutions") }) }
            table #children {
                tr {
                    th { (l.t("名称", "Name")) } th { (l.t("高血压在管", "HTN managed")) } th { (l.t("规范管理率", "Standardised")) }
                    th { (l.t("血压控制率", "BP control")) } th { (l.t("糖尿病在管", "DM managed")) } th { (l.t("血糖控制率", "Glucose control")) }
                }
                @for (area, name, htn, dm) in &rows {
                    tr {
                        td { a href=(format!("/dashboard?scope={}&from={}&to={}", scope_text(area), period.from, period.to)) { (name) } }
                        td { (htn.managed) }
                        td { (percent(htn.get(Indicator::Standardised).0, htn.get(Indicator::Standardised).1)) }
                        td { (percent(htn.get(Indicator::BpControl).0, htn.get(Indicator::BpControl).1)) }
                        td { (dm.managed) }
                        td { (percent(dm.get(Indicator::GlucoseControl).0, dm.get(Indicator::GlucoseControl).1)) }
                    }
                }
            }
            @if rows.is_empty() { p.muted { (l.t("下级暂无在管患者", "No managed patients below this level")) } }
        }
    }))
}

/// Quarterly points over the last two years up to the period's end: standard periods,
/// read from the counters kept as records are written.
pub(super) async fn trends(
    state: &AppState,
    c: &Console,
    scope: &IndicatorScope,
    to: Date,
    records_since: Option<Date>,
) -> Result<Vec<String>, AppError> {
    let l = c.lang;
    let mut quarters = Vec::new();
    let mut q = StandardPeriod::containing(to)[1];
    // A quarter that began before the scope's records did holds a part of its work
    // only: it is left out rather than drawn as a fall.
    for _ in 0..TREND_QUARTERS {
        if !comparable(&q.period(), records_since) {
            break;
        }
        quarters.push(q);
        q = q.previous();
    }
    quarters.reverse();
    let mut standardised = (Vec::new(), Vec::new());
    let mut control = (Vec::new(), Vec::new());
    for quarter in &quarters {
        let period = quarter.period();
        let end = period.to;
        let figures = state
            .app
            .indicators(&c.ctx, scope, &Disease::ALL, &period)
            .await?;
        for (d, t) in &figures {
            let rate = |i: Indicator| {
                rate_basis_points(t.get(i).0, t.get(i).1).map(|bp| bp as f64 / 100.0)
            };
            let (s, k) = match d {
                Disease::Hypertension => (&mut standardised.0, &mut control.0),
                Disease::Diabetes => (&mut standardised.1, &mut control.1),
            };
            if let Some(r) = rate(Indicator::Standardised) {
                s.push((end, r));
            }
            let ctrl = if *d == Disease::Hypertension {
                Indicator::BpControl
            } else {
                Indicator::GlucoseControl
            };
            if let Some(r) = rate(ctrl) {
                k.push((end, r));
            }
        }
    }
    let from = quarters.first().map_or(to, |q| q.period().to);
    let last = quarters.last().map_or(to, |q| q.period().to);
    Ok(vec![
        line_chart(
            l.t(
                "规范管理率季度趋势（%）",
                "Standardised management by quarter (%)",
            ),
            from,
            last,
            (0.0, 100.0),
            5,
            &[
                Series {
                    label: l.t("高血压", "Hypertension"),
                    colour: "#0b5d56",
                    points: standardised.0,
                    dots_only: false,
                    emphasised: false,
                },
                Series {
                    label: l.t("糖尿病", "Diabetes"),
                    colour: "#b7791f",
                    points: standardised.1,
                    dots_only: false,
                    emphasised: false,
                },
            ],
            &[],
        ),
        line_chart(
            l.t(
                "控制率季度趋势（血压 / 血糖，%）",
                "Control rate by quarter (BP / glucose, %)",
            ),
            from,
            last,
            (0.0, 100.0),
            5,
            &[
                Series {
                    label: l.t("血压控制率", "BP control"),
                    colour: "#2f80ed",
                    points: control.0,
                    dots_only: false,
                    emphasised: false,
                },
                Series {
                    label: l.t("血糖控制率", "Glucose control"),
                    colour: "#c05621",
                    points: control.1,
                    dots_only: false,
                    emphasised: false,
                },
            ],
            &[],
        ),
    ])
}

#[cfg(test)]
mod tests {
    #[test]
    fn changes_carry_their_own_sign() {
        for (bp, shown) in [
            (-4, "-0.04"),
            (4, "+0.04"),
            (0, "0.00"),
            (-1_234, "-12.34"),
            (5_886, "+58.86"),
        ] {
            assert_eq!(super::signed_points(bp), shown);
        }
    }
}
