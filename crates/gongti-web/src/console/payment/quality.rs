//! 质量考核: a year's quality assessment to date (`app::payment`, issue 17 point 4) —
//! each budgeted institution's terms with their counts, the score Q and m(Q) under
//! the year's scheme; each chronic-care or referral term opens the dashboard's list of
//! its patients (as the viewer's rights allow).

use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use gongti_app::AppError;
use gongti_app::payment::YearQuality;
use gongti_core::decimal::shown;
use gongti_core::payment::capitation::PLACES;
use gongti_core::payment::scheme::QualityTerm;
use maud::{Markup, html};
use serde::Deserialize;

use crate::AppState;
use crate::console::{Console, Lang, error_box, error_page, layout};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/payment/quality", get(show))
}

fn title(l: Lang) -> &'static str {
    l.t("质量考核", "Quality assessment")
}

#[derive(Deserialize)]
struct YearQuery {
    year: Option<i32>,
}

/// A rate in millionths as a percentage with two places.
pub(super) fn percent(millionths: i128) -> String {
    let bp = gongti_core::decimal::div_half_up(millionths, 100);
    super::costs::percent(i64::try_from(bp).unwrap_or(i64::MAX))
}

/// The dashboard's lists behind a term, with their labels.
fn lists(q: &YearQuality, institution: i64, term: QualityTerm) -> Vec<(&'static str, String)> {
    let (from, to) = (q.period.from, q.period.to);
    let chronic = |disease: &str, indicator: &str| {
        format!(
            "/dashboard/patients?scope=institution:{institution}&disease={disease}&indicator={indicator}&from={from}&to={to}"
        )
    };
    match term {
        QualityTerm::Standardised => vec![
            ("高", chronic("hypertension", "standardised_management")),
            ("糖", chronic("diabetes", "standardised_management")),
        ],
        QualityTerm::BpControl => vec![("", chronic("hypertension", "bp_control"))],
        QualityTerm::GlucoseControl => vec![("", chronic("diabetes", "glucose_control"))],
        QualityTerm::Hba1cTarget => vec![("", chronic("diabetes", "hba1c_target"))],
        QualityTerm::FollowupTimely => vec![
            ("高", chronic("hypertension", "missed_visit")),
            ("糖", chronic("diabetes", "missed_visit")),
        ],
        QualityTerm::ReferralReturn => vec![(
            "",
            format!(
                "/dashboard/patients?scope=institution:{institution}&measure=returned&from={from}&to={to}"
            ),
        )],
        QualityTerm::ContractCoverage => Vec::new(),
    }
}

async fn show(State(state): State<AppState>, c: Console, Query(q): Query<YearQuery>) -> Response {
    let l = c.lang;
    let year = q.year.unwrap_or_else(|| state.app.today().year());
    match state.app.capitation_quality(&c.ctx, year).await {
        Ok(q) => layout(&c, title(l), body(l, &q)).into_response(),
        Err(AppError::Conflict(code)) => {
            let body =
                html! { h1 { (title(l)) " " (year) } (error_box(l, &AppError::Conflict(code))) };
            layout(&c, title(l), body).into_response()
        }
        Err(e) => error_page(&c, title(l), &e),
    }
}

fn body(l: Lang, q: &YearQuality) -> Markup {
    html! {
        h1 { (title(l)) " " (q.year) }
        p { a href=(format!("/payment/quality?year={}", q.year - 1)) { "← " (q.year - 1) } " · " a href=(format!("/payment/quality?year={}", q.year + 1)) { (q.year + 1) " →" } }
        p.muted {
            (q.period.from) " – " (q.period.to) (l.t("：各项指标按第 ", ": each term weighed by scheme version "))
            a href=(format!("/payment/schemes/{}", q.scheme_version)) { (q.scheme_version) }
            (l.t(" 版方案的权重计分（无人可考核的指标不计入），得分 Q 按质量档次得出系数 m(Q)。签约率为考核期末日（年度中为今日）数；随访及时率为应随访未失访的比例；转诊回转率为到达上级医院的转诊中已回转的比例。点击比例查看对应患者名单。", "'s weights (a term nobody can be measured on is left out); Q takes its band's m(Q). 签约率 is that of the period's last day (today, during the year); follow-ups on time the share of those due not missed; referrals returned the share of those that reached a hospital returned. A rate opens its patients."))
        }
        @if q.institutions.is_empty() {
            p { (l.t("没有可考核的机构（年度尚未开始，或无预算机构）。", "No institution to assess (the year has not begun, or none is budgeted).")) }
        } @else {
            div.table-wrap {
                table.wide {
                    tr {
                        th { (l.t("机构", "Institution")) }
                        @for t in QualityTerm::ALL { th { (l.t(t.name_zh(), t.name_en())) } }
                        th { (l.t("得分 Q", "Score Q")) }
                        th { "m(Q)" }
                    }
                    @for i in &q.institutions {
                        @let a = &i.assessment;
                        tr {
                            td { (i.name) }
                            @for (k, t) in QualityTerm::ALL.iter().enumerate() {
                                td {
                                    @match a.rates[k] {
                                        Some(r) => {
                                            (percent(r))
                                            br;
                                            small.muted { (a.counts[k].0) "/" (a.counts[k].1) }
                                            @for (label, href) in lists(q, i.institution_id, *t) {
                                                " " a href=(href) { @if label.is_empty() { (l.t("名单", "list")) } @else { (label) } }
                                            }
                                        }
                                        None => span.muted { (l.t("无可考核", "none to measure")) },
                                    }
                                }
                            }
                            td { @match a.score { Some(s) => strong { (shown(gongti_core::decimal::div_half_up(s, 10_000), 2)) }, None => "—" } }
                            td { @match a.multiplier { Some(m) => (shown(m, PLACES)), None => "—" } }
                        }
                    }
                }
            }
        }
    }
}
