//! 年度预算与月预拨: a year of capitation (`app::payment`, issue 17 point 2) — each
//! institution's members by scheme, its budget B and prepayments, by health community
//! — a preview counted today until the insurance officer approves it, then as saved
//! with each month paid or waiting; the officer approves the year and pays each month
//! in turn.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use gongti_app::AppError;
use gongti_app::payment::{CapitationYear, may_set_schemes};
use gongti_core::money::yuan;
use gongti_core::payment::scheme::SchemeKind;
use gongti_store::BudgetRecord;
use maud::{Markup, html};
use serde::Deserialize;

use crate::AppState;
use crate::console::{Console, Lang, error_box, error_page, form_tokens, layout};
use crate::views::local;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/payment/budget", get(show))
        .route("/payment/budget/approve", post(approve))
        .route("/payment/budget/pay", post(pay))
        .route("/payment/budget/members", get(members))
}

#[derive(Deserialize)]
struct MembersQuery {
    year: i32,
    institution: i64,
    after: Option<i64>,
}

/// The persons behind an institution's budget, a page at a time (names masked).
async fn members(
    State(state): State<AppState>,
    c: Console,
    Query(q): Query<MembersQuery>,
) -> Response {
    let l = c.lang;
    let title = l.t("预算名单", "Persons behind the budget");
    let page = match state
        .app
        .capitation_members(&c.ctx, q.year, q.institution, q.after, 50)
        .await
    {
        Ok(p) => p,
        Err(e) => return error_page(&c, title, &e),
    };
    let name = state.app.institution_name(q.institution).await;
    let body = html! {
        p { a href=(format!("/payment/budget?year={}", q.year)) { (l.t("← 年度预算与月预拨", "← Budget and prepayments")) } }
        h1 { (title) " · " (name) " " (q.year) }
        p.muted { (l.t("每人按年初年龄与当年慢病情况取风险权重，按在本机构各方案的在册天数计入年度预算 B（单人份额未取整，B 合计后一次取整）。姓名已脱敏。", "Each person weighed by their age on 1 January and the year's condition, counted by the days under each scheme here (a person's part unrounded: B rounds once, over all). Names masked.")) }
        div.table-wrap {
            table.wide {
                tr {
                    th { (l.t("姓名", "Name")) } th { (l.t("年龄", "Age")) } th { (l.t("慢病", "Condition")) }
                    @for k in SchemeKind::ALL { th { (l.t(k.name_zh(), k.name_en())) (l.t("（天）", " (days)")) } }
                    th { (l.t("预算份额（元）", "Part of B (yuan)")) }
                }
                @for m in &page.items {
                    tr {
                        td { (m.name_masked) }
                        td { (m.age) }
                        td { (l.t(m.condition.name_zh(), m.condition.name_en())) }
                        @for d in m.days { td { (d) } }
                        td { (gongti_core::decimal::shown(gongti_core::decimal::div_half_up(m.share_micro_fen, 1_000_000), 2)) }
                    }
                }
            }
        }
        @if page.items.is_empty() { p { (l.t("没有人员。", "Nobody.")) } }
        @if let Some(next) = page.next_after {
            p { a href=(format!("/payment/budget/members?year={}&institution={}&after={next}", q.year, q.institution)) { (l.t("下一页 →", "Next page →")) } }
        }
    };
    layout(&c, title, body).into_response()
}

fn title(l: Lang) -> &'static str {
    l.t("年度预算与月预拨", "Budget and prepayments")
}

#[derive(Deserialize)]
struct YearQuery {
    year: Option<i32>,
}

async fn show(State(state): State<AppState>, c: Console, Query(q): Query<YearQuery>) -> Response {
    let year = q.year.unwrap_or_else(|| state.app.today().year());
    page(&state, &c, year, None, StatusCode::OK).await
}

async fn page(
    state: &AppState,
    c: &Console,
    year: i32,
    problem: Option<Markup>,
    status: StatusCode,
) -> Response {
    let l = c.lang;
    let body = match state.app.capitation_year(&c.ctx, year).await {
        Ok(y) => body(l, state, c, &y, problem),
        Err(AppError::Conflict(code)) => html! {
            h1 { (title(l)) " " (year) }
            (years(year))
            (error_box(l, &AppError::Conflict(code)))
            @if may_set_schemes(c.session.principal.role) { p { a href="/payment/schemes" { (l.t("前往付费方案 →", "To the payment scheme →")) } } }
        },
        Err(e) => return error_page(c, title(l), &e),
    };
    (status, layout(c, title(l), body)).into_response()
}

fn years(year: i32) -> Markup {
    html! {
        p { a href=(format!("/payment/budget?year={}", year - 1)) { "← " (year - 1) } " · " a href=(format!("/payment/budget?year={}", year + 1)) { (year + 1) " →" } }
    }
}

/// The first month not paid to every institution, if any.
fn next_month(y: &CapitationYear) -> Option<u8> {
    (0..12u8)
        .find(|m| y.institutions.iter().any(|b| !b.paid[usize::from(*m)]))
        .map(|m| m + 1)
}

fn body(
    l: Lang,
    state: &AppState,
    c: &Console,
    y: &CapitationYear,
    problem: Option<Markup>,
) -> Markup {
    let setter = may_set_schemes(c.session.principal.role);
    let csrf = c.session.csrf.as_deref().unwrap_or("");
    let today = state.app.today();
    let next = next_month(y);
    let due = next.is_some_and(|m| {
        y.year < today.year() || (y.year == today.year() && m <= u8::from(today.month()))
    });
    let month_total = |m: u8| -> i64 {
        y.institutions
            .iter()
            .map(|b| b.budget.months_fen[usize::from(m - 1)])
            .sum()
    };
    let mut communities: Vec<(Option<i64>, String, Vec<&BudgetRecord>)> = Vec::new();
    for b in &y.institutions {
        match communities
            .iter_mut()
            .find(|(id, _, _)| *id == b.community_id)
        {
            Some(entry) => entry.2.push(b),
            None => communities.push((
                b.community_id,
                b.community_name.clone().unwrap_or_else(|| {
                    l.t("未隶属医联体的机构", "Institutions in no health community")
                        .to_owned()
                }),
                vec![b],
            )),
        }
    }
    html! {
        h1 { (title(l)) " " (y.year) }
        (years(y.year))
        @if let Some(p) = problem { (p) }
        @match &y.approved {
            None => p.muted { (l.t("预览：按今日（", "Preview: counted today (")) (y.counted_on) (l.t("）在册的签约与慢病管理人员预计至年末计算，尚未批准。采用第 ", ") from the contracts and chronic enrolments, projected to the year's end; not approved yet. Scheme version ")) a href=(format!("/payment/schemes/{}", y.scheme_version)) { (y.scheme_version) } (l.t(" 版方案。", ".")) },
            Some(a) => p.muted { (l.t("已批准：", "Approved: ")) (a.approved_by_name) " " (local(a.approved_at_us)) (l.t("；按 ", "; counted on ")) (a.counted_on) (l.t(" 在册人员预计至年末；采用第 ", " and projected to the year's end; scheme version ")) a href=(format!("/payment/schemes/{}", a.scheme_version)) { (a.scheme_version) } (l.t(" 版方案。年度清算时按实际在册天数重算。", ". The clearing counts the days actually enrolled.")) },
        }
        table.figures {
            tr { th { (l.t("年度预算 B 合计", "Budget B in all")) } td { (yuan(y.budget_fen())) (l.t(" 元", " yuan")) } }
            tr { th { (l.t("月预拨合计（α × B）", "Prepayments in all (α × B)")) } td { (yuan(y.prepaid_fen())) (l.t(" 元", " yuan")) } }
            tr { th { (l.t("已拨付", "Paid so far")) } td { (yuan(y.paid_fen())) (l.t(" 元", " yuan")) } }
        }
        @if setter {
            @if y.approved.is_none() {
                form method="post" action="/payment/budget/approve" {
                    (form_tokens(csrf))
                    input type="hidden" name="year" value=(y.year);
                    button.primary type="submit" { (l.t("批准年度预算并生成 12 个月预拨", "Approve the year's budget and schedule its twelve prepayments")) }
                }
            } @else if let Some(m) = next {
                @if due {
                    form method="post" action="/payment/budget/pay" {
                        (form_tokens(csrf))
                        input type="hidden" name="year" value=(y.year);
                        input type="hidden" name="month" value=(m);
                        button.primary type="submit" { (l.t("拨付 ", "Pay month ")) (m) (l.t(" 月预拨（合计 ", " (in all ")) (yuan(month_total(m))) (l.t(" 元）", " yuan)")) }
                    }
                } @else {
                    p.muted { (m) (l.t(" 月预拨在该月开始后方可拨付。", "'s prepayment can be paid once the month begins.")) }
                }
            } @else {
                p { (l.t("12 个月预拨已全部拨付。", "All twelve prepayments are paid.")) }
            }
        }
        @if y.institutions.is_empty() {
            p { (l.t("该年度没有签约或慢病管理人员。", "Nobody was contracted or under chronic care that year.")) }
        }
        @if !y.institutions.is_empty() {
            div.table-wrap {
                table.wide {
                    tr {
                        th { (l.t("医联体 / 机构", "Health community / institution")) }
                        @for k in SchemeKind::ALL { th { (l.t(k.name_zh(), k.name_en())) (l.t("（人）", " (persons)")) } }
                        th { (l.t("年度预算 B（元）", "Budget B (yuan)")) }
                        th { (l.t("月预拨（1–11 月 / 12 月）", "Monthly (1–11 / 12)")) }
                        th { (l.t("已拨付", "Paid")) }
                    }
                    @for (_, name, rows) in &communities {
                        tr { th colspan="7" { (name) } }
                        @for b in rows {
                            tr {
                                td { a href=(format!("/payment/budget/members?year={}&institution={}", y.year, b.budget.institution_id)) { (b.institution_name) } }
                                @for (i, _) in SchemeKind::ALL.iter().enumerate() { td { (b.budget.persons[i]) } }
                                td { (yuan(b.budget.budget_fen)) }
                                td { (yuan(b.budget.months_fen[0])) " / " (yuan(b.budget.months_fen[11])) }
                                td { (b.paid.iter().filter(|p| **p).count()) (l.t(" 个月", " months")) }
                            }
                        }
                        @if rows.len() > 1 {
                            tr.muted {
                                td { (l.t("小计", "Subtotal")) }
                                @for (i, _) in SchemeKind::ALL.iter().enumerate() { td { (rows.iter().map(|b| b.budget.persons[i]).sum::<i64>()) } }
                                td { (yuan(rows.iter().map(|b| b.budget.budget_fen).sum())) }
                                td { (yuan(rows.iter().map(|b| b.budget.prepaid_fen).sum())) (l.t(" 合计", " in all")) }
                                td {}
                            }
                        }
                    }
                }
            }
        }
    }
}

#[derive(Deserialize)]
struct YearForm {
    csrf: String,
    year: i32,
    month: Option<u8>,
}

async fn approve(State(state): State<AppState>, c: Console, Form(f): Form<YearForm>) -> Response {
    if !crate::console::csrf_ok(&c, &f.csrf) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    match state.app.approve_capitation_budget(&c.ctx, f.year).await {
        Ok(()) => Redirect::to(&format!("/payment/budget?year={}", f.year)).into_response(),
        Err(e) => failed(&state, &c, f.year, e).await,
    }
}

async fn pay(State(state): State<AppState>, c: Console, Form(f): Form<YearForm>) -> Response {
    if !crate::console::csrf_ok(&c, &f.csrf) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    match state
        .app
        .pay_capitation_month(&c.ctx, f.year, f.month.unwrap_or(0))
        .await
    {
        Ok(()) => Redirect::to(&format!("/payment/budget?year={}", f.year)).into_response(),
        Err(e) => failed(&state, &c, f.year, e).await,
    }
}

async fn failed(state: &AppState, c: &Console, year: i32, e: AppError) -> Response {
    if matches!(e, AppError::Forbidden) {
        return error_page(c, title(c.lang), &e);
    }
    let status = crate::error::ApiError::of(&e).status;
    page(state, c, year, Some(error_box(c.lang, &e)), status).await
}
