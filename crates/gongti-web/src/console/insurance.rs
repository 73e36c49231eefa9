//! 医保结算 in the console: the insurance officer's (and the city officer's) list of 门特
//! settlements — figures without names (DOMAIN.md §10) — with the page's sums.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::html;
use serde::Deserialize;

use super::{Console, Lang, error_page, layout};
use crate::AppState;
use crate::views::{local, yuan};

pub(super) fn routes() -> axum::Router<AppState> {
    axum::Router::new().route("/settlements", get(page))
}

fn title(l: Lang) -> &'static str {
    l.t("门特医保结算", "门特 settlements")
}

#[derive(Deserialize, Default)]
struct Params {
    cursor: Option<String>,
}

async fn page(State(state): State<AppState>, c: Console, Query(q): Query<Params>) -> Response {
    let l = c.lang;
    let after = crate::extract::decode_cursor(q.cursor.as_deref())
        .ok()
        .flatten();
    let page = match state
        .app
        .settlement_list(&c.ctx, after, crate::PAGE_SIZE_DEFAULT)
        .await
    {
        Ok(p) => p,
        Err(e) => return error_page(&c, title(l), &e),
    };
    let settled: Vec<_> = page
        .items
        .iter()
        .filter(|s| s.status == "settled")
        .collect();
    let sum = |f: fn(&gongti_store::SettlementFigures) -> i64| {
        settled.iter().map(|s| f(&s.figures)).sum::<i64>()
    };
    layout(&c, title(l), html! {
        h1 { (title(l)) }
        p.muted { (l.t(
            "经医保局模拟器结算的处方（演示政策参数）。仅显示金额，不显示患者身份。",
            "Prescriptions settled through the simulator of the bureau (demo policy). Figures only, never who the patient is.")) }
        @if page.items.is_empty() {
            p.card { (l.t("还没有结算。", "No settlement yet.")) }
        } @else {
            div.tiles {
                div.tile { strong { (yuan(sum(|f| f.total_fen))) } span { (l.t("本页药费合计（元）", "total on this page (yuan)")) } }
                div.tile { strong { (yuan(sum(|f| f.fund_fen))) } span { (l.t("医保基金支付（元）", "paid by the fund (yuan)")) } }
                div.tile { strong { (yuan(sum(|f| f.account_fen + f.cash_fen))) } span { (l.t("个人支付（元）", "paid by patients (yuan)")) } }
            }
            div.table-wrap { table {
                thead { tr {
                    th { (l.t("结算号", "Settlement")) } th { (l.t("处方", "Prescription")) } th { (l.t("病种", "Disease")) }
                    th { (l.t("药费", "Total")) } th { (l.t("基金", "Fund")) } th { (l.t("个人账户", "Account")) } th { (l.t("现金", "Cash")) }
                    th { (l.t("状态", "Status")) } th { (l.t("时间", "When")) }
                } }
                tbody { @for s in &page.items {
                    tr {
                        td { code { (s.setl_id) } } td { "#" (s.prescription_id) }
                        td { (match s.disease.as_str() { "hypertension" => l.t("高血压", "hypertension"), "diabetes" => l.t("糖尿病", "diabetes"), other => other }) }
                        td { (yuan(s.figures.total_fen)) } td { (yuan(s.figures.fund_fen)) } td { (yuan(s.figures.account_fen)) } td { (yuan(s.figures.cash_fen)) }
                        td { (if s.status == "settled" { l.t("已结算", "settled") } else { l.t("已冲销", "reversed") }) }
                        td { (local(s.settled_at_us)) }
                    }
                } }
            } }
        }
        @if let Some(next) = page.next_after {
            p.pager { a href=(format!("/settlements?cursor={}", crate::extract::encode_cursor(next))) { (l.t("下一页 →", "Next page →")) } }
        }
    }).into_response()
}
