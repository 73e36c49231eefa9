//! 支付成效: the city dashboard's payment figures of a cleared year (`app::payment`,
//! issue 17 point 9) — the surplus rate, the fund-paid cost per enrolled person and the
//! share of that cost above the grassroots, for the city, by district and by
//! institution; a district opens its institutions, an institution's rate its clearing
//! (B to the balance) and its persons their costs (`/payment/clearing/members`). The
//! dashboard's card (`card`) shows the latest cleared year for its scope.

use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use gongti_app::AppError;
use gongti_app::payment::PaymentFigures;
use gongti_core::money::yuan;
use gongti_core::payment::figures::PaymentTally;
use gongti_store::IndicatorScope;
use maud::{Markup, html};
use serde::Deserialize;

use super::costs::percent;
use crate::AppState;
use crate::console::{Console, Lang, error_box, error_page, layout};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/payment/figures", get(show))
}

fn title(l: Lang) -> &'static str {
    l.t("支付成效", "Payment outcomes")
}

#[derive(Deserialize)]
struct FiguresQuery {
    year: Option<i32>,
    district: Option<String>,
}

fn rate(bp: Option<i64>) -> Markup {
    match bp {
        Some(bp) if bp < 0 => html! { span.bad { (percent(bp)) } },
        Some(bp) => html! { (percent(bp)) },
        None => html! { "—" },
    }
}

fn per_person(t: &PaymentTally) -> Markup {
    match t.cost_per_person_fen() {
        Some(fen) => html! { (yuan(fen)) },
        None => html! { "—" },
    }
}

/// The heads of a figures table after its first columns.
fn heads(l: Lang) -> Markup {
    html! {
        th { (l.t("在册人数", "Persons")) }
        th { (l.t("调整后预算 A（元）", "Adjusted budget A (yuan)")) }
        th { (l.t("基金支出 C（元）", "Fund-paid cost C (yuan)")) }
        th { (l.t("结余率 (A−C)÷A", "Surplus rate (A−C)÷A")) }
        th { (l.t("人均基金支出（元）", "Cost per person (yuan)")) }
        th { (l.t("上级及共同体外占比", "Share above the grassroots")) }
    }
}

async fn show(
    State(state): State<AppState>,
    c: Console,
    Query(q): Query<FiguresQuery>,
) -> Response {
    let l = c.lang;
    let year = q.year.unwrap_or_else(|| state.app.today().year() - 1);
    let district = q.district.as_deref().filter(|d| !d.is_empty());
    let years = html! {
        p {
            a href=(format!("/payment/figures?year={}", year - 1)) { "← " (year - 1) }
            " · " a href=(format!("/payment/figures?year={}", year + 1)) { (year + 1) " →" }
            " · " a href=(format!("/payment/clearing?year={year}")) { (l.t("年度清算 →", "Clearing →")) }
        }
    };
    let f = match state.app.payment_figures(&c.ctx, year, district).await {
        Ok(f) => f,
        Err(AppError::Conflict(code)) => {
            let body = html! {
                h1 { (title(l)) " " (year) }
                (years)
                (error_box(l, &AppError::Conflict(code)))
                p { a href=(format!("/payment/costs?year={year}")) { (l.t("年度进行中的费用与预计结余率见“费用与预测” →", "For a year under way, costs and the projected surplus rate are on Costs and forecast →")) } }
            };
            return layout(&c, title(l), body).into_response();
        }
        Err(e) => return error_page(&c, title(l), &e),
    };
    let district_name = district.and_then(|d| {
        f.districts
            .iter()
            .find(|x| x.code == d)
            .map(|x| x.name.clone())
    });
    let body = html! {
        h1 { (title(l)) " " (year) @if let Some(n) = &district_name { " · " (n) } }
        (years)
        p.muted {
            (l.t("按第 ", "From the year's clearing under scheme version "))
            a href=(format!("/payment/schemes/{}", f.scheme_version)) { (f.scheme_version) }
            (l.t(" 版方案的年度清算（冻结数据）：结余率 = (A − C) ÷ A；人均基金支出 = C ÷ 在册人数（每人在每个机构计一次）；上级及共同体外占比 = 二级、三级医院及共同体外机构的基金支出 ÷ C，用以发现费用向上转移。合计的比率按合计数计算，不是各机构比率的平均。",
                 " (frozen data): surplus rate = (A − C) ÷ A; cost per person = C ÷ persons (each once per institution); share above the grassroots = the fund-paid cost at secondary and tertiary hospitals and outside the community ÷ C, where cost shifted upward shows. A sum's rate is that of the sums, not an average of rates."))
            @if f.closed { (l.t("该年度已结束清算。", " The year is closed.")) }
        }
        div.table-wrap {
            table.wide #payment-districts {
                tr { th { (l.t("区", "District")) } th { (l.t("机构数", "Institutions")) } (heads(l)) }
                @for d in &f.districts {
                    tr class=[(district == Some(d.code.as_str())).then_some("current")] {
                        td { a href=(format!("/payment/figures?year={year}&district={}", d.code)) { (d.name) } }
                        td { (d.tally.institutions) }
                        (cells(&d.tally))
                    }
                }
                @if f.districts.len() > 1 {
                    tr { th { (l.t("全市", "City")) } th { (f.total.institutions) } (cells(&f.total)) }
                }
            }
        }
        @if district.is_some() {
            p { a href=(format!("/payment/figures?year={year}")) { (l.t("← 全部机构", "← Every institution")) } }
        }
        (institutions(l, &f))
    };
    layout(&c, title(l), body).into_response()
}

fn cells(t: &PaymentTally) -> Markup {
    html! {
        td { (t.persons) }
        td { (yuan(t.adjusted_budget_fen)) }
        td { (yuan(t.cost_fen)) }
        td { (rate(t.surplus_rate_bp())) }
        td { (per_person(t)) }
        td { (rate(t.upper_share_bp())) }
    }
}

fn institutions(l: Lang, f: &PaymentFigures) -> Markup {
    let year = f.year;
    html! {
        h2 { (l.t("各机构", "By institution")) }
        @if f.institutions.is_empty() {
            p { (l.t("没有可查看的机构。", "No institution to show.")) }
        } @else {
            div.table-wrap {
                table.wide #payment-institutions {
                    tr { th { (l.t("机构", "Institution")) } th { (l.t("健共体", "Health community")) } (heads(l)) }
                    @for i in &f.institutions {
                        @let t = &i.tally;
                        @let members = format!("/payment/clearing/members?year={year}&institution={}", i.institution_id);
                        tr {
                            td { a href=(format!("/payment/clearing/institution?year={year}&id={}", i.institution_id)) { (i.name) } }
                            td { (i.community_name.as_deref().unwrap_or("—")) }
                            td { a href=(members) { (t.persons) } }
                            td { (yuan(t.adjusted_budget_fen)) }
                            td { a href=(members) { (yuan(t.cost_fen)) } }
                            td { a href=(format!("/payment/clearing/institution?year={year}&id={}", i.institution_id)) { (rate(t.surplus_rate_bp())) } }
                            td { a href=(members) { (per_person(t)) } }
                            td { (rate(t.upper_share_bp())) }
                        }
                    }
                }
            }
        }
    }
}

/// The dashboard's card: the latest cleared year (last year, else the year before) for
/// the dashboard's scope, each figure opening its list; nothing for a role that does
/// not oversee payment or before any year is cleared.
pub(crate) async fn card(
    state: &AppState,
    c: &Console,
    scope: &IndicatorScope,
) -> Result<Option<Markup>, AppError> {
    let l = c.lang;
    if !gongti_app::payment::may_simulate(c.session.principal.role) {
        return Ok(None);
    }
    let this_year = state.app.today().year();
    let mut found = None;
    for year in [this_year - 1, this_year - 2] {
        match state.app.payment_figures(&c.ctx, year, None).await {
            Ok(f) => {
                found = Some(f);
                break;
            }
            Err(AppError::Conflict(_)) => continue,
            Err(AppError::Forbidden) => return Ok(None),
            Err(e) => return Err(e),
        }
    }
    let Some(f) = found else { return Ok(None) };
    let year = f.year;
    let rows: Vec<(String, String, PaymentTally)> = match scope {
        IndicatorScope::City => f
            .districts
            .iter()
            .map(|d| {
                (
                    d.name.clone(),
                    format!("/payment/figures?year={year}&district={}", d.code),
                    d.tally,
                )
            })
            .collect(),
        IndicatorScope::District(_) | IndicatorScope::Institution(_) => f
            .institutions
            .iter()
            .filter(|i| match scope {
                IndicatorScope::District(code) => &i.district_code == code,
                _ => *scope == IndicatorScope::Institution(i.institution_id),
            })
            .map(|i| {
                (
                    i.name.clone(),
                    format!(
                        "/payment/clearing/institution?year={year}&id={}",
                        i.institution_id
                    ),
                    i.tally,
                )
            })
            .collect(),
    };
    if rows.is_empty() {
        return Ok(None);
    }
    let mut sum = PaymentTally::default();
    for (_, _, t) in &rows {
        sum.add(t);
    }
    let all = match scope {
        IndicatorScope::District(code) => format!("/payment/figures?year={year}&district={code}"),
        _ => format!("/payment/figures?year={year}"),
    };
    Ok(Some(html! {
        div.card #payment-figures {
            h2 { (l.t("医保支付成效", "Capitation outcomes")) " " small.muted { (year) (l.t(" 年度清算", " clearing")) } }
            table.indicators {
                tr { th {} th { (l.t("结余率", "Surplus rate")) } th { (l.t("人均基金支出（元）", "Cost per person (yuan)")) } th { (l.t("上级及共同体外占比", "Share above the grassroots")) } }
                @if rows.len() > 1 {
                    tr { td { strong { (l.t("合计", "In all")) } } td.rate { strong { a href=(all) { (rate(sum.surplus_rate_bp())) } } } td { (per_person(&sum)) } td { (rate(sum.upper_share_bp())) } }
                }
                @for (name, href, t) in &rows {
                    tr { td { a href=(href) { (name) } } td.rate { a href=(href) { (rate(t.surplus_rate_bp())) } } td { (per_person(t)) } td { (rate(t.upper_share_bp())) } }
                }
            }
            p { a href=(all) { (l.t("支付成效 →", "Payment outcomes →")) } }
        }
    }))
}
