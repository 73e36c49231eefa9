//! 费用与预测: capitation's costs to date (`app::payment`, issue 17 point 3) — each
//! institution's fund-paid cost by source and by level with the share above the
//! grassroots, beside its budget to date and the year's projected surplus rate — and
//! 医保结算数据导入, the insurance officer's upload of the bureau's settlement file
//! (the list page every list uses: 检查, then 导入, every problem by line and
//! column).

use axum::Router;
use axum::extract::{Multipart, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use gongti_app::AppError;
use gongti_app::payment::{CapitationYear, YearCosts, may_set_schemes};
use gongti_core::money::yuan;
use gongti_core::payment::costs::{CostLevel, CostSource, CostTally, SETTLEMENT_COLUMNS};
use maud::{Markup, html};
use serde::Deserialize;

use crate::AppState;
use crate::console::roster::{ListKind, answer, page_of, template_of, upload_of};
use crate::console::{Console, Lang, error_box, error_page, layout};

pub(super) fn routes() -> Router<AppState> {
    let limit =
        axum::extract::DefaultBodyLimit::max(gongti_app::roster::FILE_BYTES_MAX + 64 * 1024);
    Router::new()
        .route("/payment/costs", get(show))
        .route(
            "/payment/settlements/import",
            get(upload_page).post(upload).layer(limit),
        )
        .route("/payment/settlements/import/template.csv", get(template))
}

fn title(l: Lang) -> &'static str {
    l.t("费用与预测", "Costs and forecast")
}

#[derive(Deserialize)]
struct YearQuery {
    year: Option<i32>,
}

/// A share in basis points as a percentage with two places (`-250` is `-2.50%`).
pub(super) fn percent(bp: i64) -> String {
    let sign = if bp < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}%", bp.abs() / 100, bp.abs() % 100)
}

/// The surplus rate of a budget against a cost projected to the year's end, in basis
/// points (`(B − C) ÷ B`, rounded half up), at m(Q) = 1.
fn projected_rate_bp(budget_fen: i64, projected_fen: i64) -> Option<i64> {
    (budget_fen > 0).then(|| {
        let diff = i128::from(budget_fen - projected_fen);
        let bp = gongti_core::decimal::div_half_up(diff.abs() * 10_000, i128::from(budget_fen));
        let bp = i64::try_from(bp).unwrap_or(i64::MAX);
        if diff < 0 { -bp } else { bp }
    })
}

async fn show(State(state): State<AppState>, c: Console, Query(q): Query<YearQuery>) -> Response {
    let l = c.lang;
    let year = q.year.unwrap_or_else(|| state.app.today().year());
    let costs = match state.app.capitation_costs(&c.ctx, year).await {
        Ok(costs) => costs,
        Err(AppError::Conflict(code)) => {
            // a year without a scheme: said on the page, as the budget's page says it
            let body = html! {
                h1 { (title(l)) " " (year) }
                p { a href=(format!("/payment/costs?year={}", year - 1)) { "← " (year - 1) } " · " a href=(format!("/payment/costs?year={}", year + 1)) { (year + 1) " →" } }
                (error_box(l, &AppError::Conflict(code)))
            };
            return layout(&c, title(l), body).into_response();
        }
        Err(e) => return error_page(&c, title(l), &e),
    };
    let budgets = match state.app.capitation_year(&c.ctx, year).await {
        Ok(y) => y,
        Err(e) => return error_page(&c, title(l), &e),
    };
    let body = body(l, &c, &costs, &budgets);
    layout(&c, title(l), body).into_response()
}

fn row(l: Lang, name: &str, t: &CostTally, budget_fen: Option<i64>, elapsed: (i64, i64)) -> Markup {
    let (days, days_in_year) = elapsed;
    let half_up = |n: i64, d: i64| {
        i64::try_from(gongti_core::decimal::div_half_up(
            i128::from(n.max(0)),
            i128::from(d.max(1)),
        ))
        .unwrap_or(i64::MAX)
    };
    let to_date = budget_fen.map(|b| half_up(b * days.max(0), days_in_year));
    let projected = half_up(t.total_fen() * days_in_year, days);
    let rate = budget_fen.and_then(|b| projected_rate_bp(b, projected));
    html! {
        tr {
            td { (name) }
            td { (yuan(t.total_fen())) }
            @for s in CostSource::ALL { td { (yuan(t.by_source_fen[CostSource::ALL.iter().position(|x| *x == s).unwrap_or(0)])) } }
            td { (yuan(t.upper_fen())) @if let Some(bp) = t.upper_share_bp() { " (" (percent(bp)) ")" } }
            td { @match to_date { Some(b) => (yuan(b)), None => span.muted { (l.t("无预算", "no budget")) } } }
            td class=[rate.filter(|r| *r < 0).map(|_| "bad")] { @match rate { Some(r) => (percent(r)), None => "—" } }
        }
    }
}

fn body(l: Lang, c: &Console, costs: &YearCosts, budgets: &CapitationYear) -> Markup {
    let first = gongti_core::payment::membership::first_day(costs.year);
    let days_in_year = gongti_core::payment::membership::days_in_year(costs.year);
    let days = (costs.through - first).whole_days() + 1;
    let total = costs.total();
    let budget_of = |id: i64| {
        budgets
            .institutions
            .iter()
            .find(|b| b.budget.institution_id == id)
    };
    html! {
        h1 { (title(l)) " " (costs.year) }
        p { a href=(format!("/payment/costs?year={}", costs.year - 1)) { "← " (costs.year - 1) } " · " a href=(format!("/payment/costs?year={}", costs.year + 1)) { (costs.year + 1) " →" } }
        p.muted {
            (l.t("截至 ", "Through ")) (costs.through) (l.t("（第 ", " (day ")) (days) " / " (days_in_year) (l.t(" 天）：签约与慢病管理人员在册期间的医保基金支出，计入其当日所属机构，含上级医院与共同体外机构的费用。云检查费用按第 ", "): the fund-paid cost of the persons while contracted or under chronic care, counted for the institution they belonged to that day, upper hospitals and care outside the community included. Exams are priced at scheme version "))
            a href=(format!("/payment/schemes/{}", costs.scheme_version)) { (costs.scheme_version) }
            (l.t(" 版方案的基金支付比例（价格为演示值）。", "'s fund share (demo prices)."))
        }
        @if may_set_schemes(c.session.principal.role) {
            p { a.button href="/payment/settlements/import" { (l.t("导入医保局结算数据", "Bring the bureau's settlements in")) } }
        }
        table.figures {
            tr { th { (l.t("医保基金支出合计", "Fund-paid cost in all")) } td { (yuan(total.total_fen())) (l.t(" 元", " yuan")) } }
            @for s in CostSource::ALL { tr { th { (l.t(s.name_zh(), s.name_en())) } td { (yuan(total.by_source_fen[CostSource::ALL.iter().position(|x| *x == s).unwrap_or(0)])) (l.t(" 元", " yuan")) } } }
            @for lv in CostLevel::ALL { tr { th { (l.t("发生在", "At ")) (l.t(lv.name_zh(), lv.name_en())) } td { (yuan(total.level_fen(lv))) (l.t(" 元", " yuan")) } } }
            tr { th { (l.t("上级医院及共同体外占比", "Share above the grassroots")) } td { @match total.upper_share_bp() { Some(bp) => (percent(bp)), None => "—" } } }
        }
        @if costs.institutions.is_empty() && budgets.institutions.is_empty() {
            p { (l.t("该年度尚无费用。", "No cost this year yet.")) }
        } @else {
            div.table-wrap {
                table.wide {
                    tr {
                        th { (l.t("机构", "Institution")) }
                        th { (l.t("基金支出（元）", "Fund-paid (yuan)")) }
                        @for s in CostSource::ALL { th { (l.t(s.name_zh(), s.name_en())) } }
                        th { (l.t("上级及共同体外（占比）", "Above the grassroots (share)")) }
                        th { (l.t("预算进度（B × 已过天数）", "Budget to date (B × days gone)")) }
                        th { (l.t("预计全年结余率（m(Q)=1）", "Projected surplus rate (m(Q) = 1)")) }
                    }
                    @for b in &budgets.institutions {
                        @let none = CostTally::default();
                        @let t = costs.institutions.get(&b.budget.institution_id).unwrap_or(&none);
                        (row(l, &b.institution_name, t, Some(b.budget.budget_fen), (days, days_in_year)))
                    }
                    @for (id, t) in costs.institutions.iter().filter(|(id, _)| budget_of(**id).is_none()) {
                        (row(l, &format!("#{id}"), t, None, (days, days_in_year)))
                    }
                }
            }
        }
    }
}

fn settlements_kind() -> ListKind {
    ListKind {
        title: ("医保结算数据导入", "Bring the bureau's settlements in"),
        subject: None,
        intro: (
            "导入医保局的结算数据（国家医保信息平台 2207 结算字段），用于计算按人头付费的实际费用（含共同体外就医）：CSV 文件（UTF-8 或 GBK 编码）或 Excel 的 .xlsx 文件，第一行为表头，每行一笔结算。先点“检查”，列出全部问题但不保存；无误后点“导入”，要么全部导入，要么一笔也不保存。同一结算ID不会重复计入。",
            "Bring the bureau's settlements in (the national platform's 2207 fields) for capitation's actual cost, care outside the community included: a CSV file (UTF-8 or GBK) or an Excel .xlsx workbook, the header on the first line and a settlement a row. Check first: every problem is listed and nothing is saved; then Import: every row or none. A settlement is never counted twice.",
        ),
        action: "/payment/settlements/import".to_owned(),
        template: "/payment/settlements/import/template.csv",
        template_file: "settlements-template.csv",
        columns: &SETTLEMENT_COLUMNS,
        notes: (
            "人员编号须为已参保人员的编号；金额以元为单位，最多两位小数，基金支付不超过医疗费总额；结算时间写 2026-03-15 或 2026-03-15 10:20:00。定点医药机构编号为本平台机构编码时按该机构的级别统计，否则计为共同体外。",
            "The 人员编号 is an insured person's; amounts in yuan with at most two decimals, the fund's no more than the total; the time 2026-03-15 or 2026-03-15 10:20:00. A 定点医药机构编号 that is one of the platform's institution codes counts at that institution's level; any other counts as outside the community.",
        ),
        already: ("笔已导入", " were brought in already"),
        made: ("导入结算 {n} 笔", "{n} settlements brought in"),
        next: (
            "/payment/costs".to_owned(),
            "到费用与预测 →",
            "To costs and forecast →",
        ),
    }
}

async fn upload_page(c: Console) -> Response {
    let allowed = may_set_schemes(c.session.principal.role);
    page_of(&c, &settlements_kind(), allowed)
}

async fn upload(State(state): State<AppState>, c: Console, form: Multipart) -> Response {
    let kind = settlements_kind();
    let allowed = may_set_schemes(c.session.principal.role);
    let u = match upload_of(&c, &kind, form, allowed).await {
        Ok(u) => u,
        Err(answered) => return answered,
    };
    let result = state
        .app
        .import_bureau_settlements(&c.ctx, &u.file, u.dry_run(), u.job.as_deref())
        .await;
    answer(&c, &kind, result, u.dry_run())
}

async fn template() -> Response {
    template_of(&settlements_kind())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_and_rates_read_as_percentages() {
        for (bp, shown) in [
            (0, "0.00%"),
            (5_767, "57.67%"),
            (-250, "-2.50%"),
            (-50, "-0.50%"),
            (10_000, "100.00%"),
        ] {
            assert_eq!(percent(bp), shown);
        }
        // B 1,000,000 against 1,100,000 projected: -10.00 %; 900,000: 10.00 %
        assert_eq!(projected_rate_bp(1_000_000, 1_100_000), Some(-1_000));
        assert_eq!(projected_rate_bp(1_000_000, 900_000), Some(1_000));
        assert_eq!(projected_rate_bp(0, 5), None);
    }
}
