//! 年度清算: a year's clearing (`app::payment`, issue 17 point 5) — each institution's
//! figures from its frozen inputs with its state, by health community; one
//! institution's page walks from B through m(Q), A and the cost to the surplus, what
//! is retained or borne and the balance, each input opening what it came from (the
//! persons with their days, parts of B and costs). The insurance officer freezes the
//! year, approves, pays or recovers and closes it; an institution's administrator
//! confirms or disputes its own with a reason.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use gongti_app::AppError;
use gongti_app::payment::{InstitutionClearing, YearClearing, may_set_schemes};
use gongti_core::decimal::shown;
use gongti_core::money::yuan;
use gongti_core::payment::capitation::PLACES;
use gongti_core::payment::clearing::{ClearingState, ClearingStep};
use gongti_core::payment::costs::{CostLevel, CostSource, CostTally};
use gongti_core::payment::scheme::{QualityTerm, SchemeKind};
use gongti_core::role::Role;
use maud::{Markup, html};
use serde::Deserialize;

use super::quality::percent;
use crate::AppState;
use crate::console::{Console, Lang, error_box, error_page, form_tokens, layout};
use crate::views::local;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/payment/clearing", get(show))
        .route("/payment/clearing/institution", get(one))
        .route("/payment/clearing/members", get(members))
        .route("/payment/clearing/freeze", post(freeze))
        .route("/payment/clearing/close", post(close))
        .route("/payment/clearing/step", post(step))
}

fn title(l: Lang) -> &'static str {
    l.t("年度清算", "Year-end clearing")
}

#[derive(Deserialize)]
struct YearQuery {
    year: Option<i32>,
}

/// The year shown first: last year (this one is cleared in the next).
fn default_year(state: &AppState) -> i32 {
    state.app.today().year() - 1
}

fn state_name(l: Lang, s: ClearingState) -> Markup {
    let class = match s {
        ClearingState::Disputed => "badge warn",
        ClearingState::Paid | ClearingState::Recovered => "badge ok",
        _ => "badge",
    };
    html! { span class=(class) { (l.t(s.name_zh(), s.name_en())) } }
}

/// A signed rate in millionths as a percentage with two places (an overspend's
/// surplus rate is negative).
fn signed_percent(millionths: i128) -> String {
    let sign = if millionths < 0 { "-" } else { "" };
    format!("{sign}{}", percent(millionths.abs()))
}

fn money(l: Lang, fen: i64) -> Markup {
    html! { (yuan(fen)) (l.t(" 元", " yuan")) }
}

/// A balance as what is to be done with it.
fn balance(l: Lang, fen: i64) -> Markup {
    if fen < 0 {
        html! { (l.t("应追回 ", "To recover ")) (yuan(-fen)) }
    } else {
        html! { (l.t("应拨付 ", "To pay ")) (yuan(fen)) }
    }
}

async fn show(State(state): State<AppState>, c: Console, Query(q): Query<YearQuery>) -> Response {
    let year = q.year.unwrap_or_else(|| default_year(&state));
    page(&state, &c, year, None, StatusCode::OK).await
}

fn years(year: i32) -> Markup {
    html! {
        p { a href=(format!("/payment/clearing?year={}", year - 1)) { "← " (year - 1) } " · " a href=(format!("/payment/clearing?year={}", year + 1)) { (year + 1) " →" } }
    }
}

async fn page(
    state: &AppState,
    c: &Console,
    year: i32,
    problem: Option<Markup>,
    status: StatusCode,
) -> Response {
    let l = c.lang;
    let csrf = c.session.csrf.as_deref().unwrap_or("");
    let setter = may_set_schemes(c.session.principal.role);
    let body = match state.app.capitation_clearing(&c.ctx, year).await {
        Ok(y) => {
            let principal = &c.session.principal;
            let own = (principal.role == Role::InstitutionAdmin)
                .then_some(principal.institution_id)
                .flatten();
            year_body(l, csrf, (setter, own), &y, problem)
        }
        Err(AppError::Conflict(code)) => {
            let over = state.app.today().year() > year;
            html! {
                h1 { (title(l)) " " (year) }
                (years(year))
                @if let Some(p) = problem { (p) }
                (error_box(l, &AppError::Conflict(code)))
                p.muted { (l.t("年度结束后，医保专员冻结该年度数据：按实际在册天数重算各机构预算 B，取全年质量考核指标、全部级别的医保基金支付费用及已拨付的月预拨，据此计算清算。", "Once the year is over the insurance officer freezes its data: each institution's B recounted by the days actually enrolled, the whole year's quality terms, the fund-paid costs at every level and the prepayments paid; the clearing is computed from them.")) }
                @if setter && over {
                    form method="post" action="/payment/clearing/freeze" {
                        (form_tokens(csrf))
                        input type="hidden" name="year" value=(year);
                        button.primary type="submit" { (l.t("冻结数据并计算清算", "Freeze the data and compute the clearing")) }
                    }
                }
                p { a href=(format!("/payment/budget?year={year}")) { (l.t("查看该年度预算与预拨 →", "The year's budget and prepayments →")) } }
            }
        }
        Err(e) => return error_page(c, title(l), &e),
    };
    // a freeze under way: said above the page, which reloads itself until it is done
    let body = if state.app.freezing(year) {
        html! {
            meta http-equiv="refresh" content=(FREEZE_REFRESH_S);
            p.notice #freezing { (l.t("正在冻结数据并计算清算（数据量大时需要几分钟），本页每 10 秒自动刷新，完成后显示结果。", "The data are being frozen and the clearing computed (a few minutes for a large city); this page reloads every 10 seconds and shows the result once done.")) }
            (body)
        }
    } else {
        body
    };
    (status, layout(c, title(l), body)).into_response()
}

/// Seconds between reloads of the page while its year is being frozen.
const FREEZE_REFRESH_S: u32 = 10;

fn year_body(
    l: Lang,
    csrf: &str,
    (setter, own): (bool, Option<i64>),
    y: &YearClearing,
    problem: Option<Markup>,
) -> Markup {
    let year = y.year.year;
    let approved_any = y.institutions.iter().any(|i| {
        !matches!(
            i.state,
            ClearingState::Computed | ClearingState::Confirmed | ClearingState::Disputed
        )
    });
    let settled_all = y
        .institutions
        .iter()
        .all(|i| matches!(i.state, ClearingState::Paid | ClearingState::Recovered));
    let closed = y.year.state == "closed";
    let sum = |g: fn(&InstitutionClearing) -> i64| y.institutions.iter().map(g).sum::<i64>();
    let mut communities: Vec<(Option<i64>, String, Vec<&InstitutionClearing>)> = Vec::new();
    for i in &y.institutions {
        let id = i.record.community_id;
        match communities.iter_mut().find(|(c, _, _)| *c == id) {
            Some(entry) => entry.2.push(i),
            None => communities.push((
                id,
                i.record.community_name.clone().unwrap_or_else(|| {
                    l.t("未隶属医联体的机构", "Institutions in no health community")
                        .to_owned()
                }),
                vec![i],
            )),
        }
    }
    html! {
        h1 { (title(l)) " " (year) }
        (years(year))
        @if let Some(p) = problem { (p) }
        p.muted {
            (l.t("数据冻结于 ", "Data frozen ")) (y.year.frozen_at_us.map(local).unwrap_or_default())
            (l.t("；采用第 ", "; scheme version ")) a href=(format!("/payment/schemes/{}", y.year.scheme_version)) { (y.year.scheme_version) } (l.t(" 版方案。", ". "))
            (l.t("结余 = 调整后预算 A − 费用 C；结余留用，超支按方案分担（超支不补时由医联体承担）。清算款 = min(C, A) + 留用 + 基金分担 − 已拨月预拨。", "Surplus = adjusted budget A − cost C; a surplus is retained, an overspend shared as the scheme says (borne by the community under 超支不补). Balance = min(C, A) + retained + fund's share − prepayments paid."))
            @if closed { strong { (l.t(" 年度已关闭。", " The year is closed.")) } }
        }
        @if let Some(mine) = own.and_then(|id| y.institutions.iter().find(|i| i.record.row.institution_id == id)) {
            div.card {
                strong { (mine.record.institution_name) } " · " (state_name(l, mine.state)) " · " (balance(l, mine.figures.balance_fen)) (l.t(" 元", " yuan"))
                p { a href=(format!("/payment/clearing/institution?year={year}&id={}", mine.record.row.institution_id)) {
                    @if matches!(mine.state, ClearingState::Computed) { (l.t("核对并确认本机构清算，或提出异议 →", "Check and confirm your institution's clearing, or dispute it →")) }
                    @else { (l.t("查看本机构清算 →", "Your institution's clearing →")) }
                } }
            }
        }
        p {
            @for (k, s) in ClearingState::ALL.iter().enumerate() {
                @if k > 0 { " · " }
                (l.t(s.name_zh(), s.name_en())) " " strong { (y.institutions.iter().filter(|i| i.state == *s).count()) }
            }
        }
        table.figures {
            tr { th { (l.t("预算 B 合计", "Budget B in all")) } td { (money(l, sum(|i| i.record.row.budget_fen))) } }
            tr { th { (l.t("调整后预算 A 合计", "Adjusted budget A in all")) } td { (money(l, sum(|i| i.figures.clearing.adjusted_budget_fen))) } }
            tr { th { (l.t("费用 C 合计", "Cost C in all")) } td { (money(l, sum(|i| i.record.row.cost_by_source_fen.iter().sum()))) } }
            tr { th { (l.t("结余留用合计", "Retained in all")) } td { (money(l, sum(|i| i.figures.clearing.retained_fen))) } }
            tr { th { (l.t("医联体承担超支合计", "Overspend borne in all")) } td { (money(l, sum(|i| i.figures.clearing.community_bears_fen))) } }
            tr { th { (l.t("清算款合计", "Balance in all")) } td { (balance(l, sum(|i| i.figures.balance_fen))) (l.t(" 元", " yuan")) } }
        }
        @if setter && !closed {
            div.actions {
                @if !approved_any {
                    form method="post" action="/payment/clearing/freeze" {
                        (form_tokens(csrf))
                        input type="hidden" name="year" value=(year);
                        button type="submit" { (l.t("重新冻结并计算（尚无机构审定时可用）", "Freeze and compute again (until an institution is approved)")) }
                    }
                }
                @if settled_all && !y.institutions.is_empty() {
                    form method="post" action="/payment/clearing/close" {
                        (form_tokens(csrf))
                        input type="hidden" name="year" value=(year);
                        button.primary type="submit" { (l.t("关闭年度清算", "Close the year")) }
                    }
                }
            }
        }
        @if y.institutions.is_empty() {
            p { (l.t("没有可见的机构清算。", "No institution's clearing to show.")) }
        } @else {
            div.table-wrap {
                table.wide {
                    tr {
                        th { (l.t("医联体 / 机构", "Health community / institution")) }
                        th { (l.t("状态", "State")) }
                        th { (l.t("预算 B", "B")) }
                        th { (l.t("得分 Q / m(Q)", "Q / m(Q)")) }
                        th { (l.t("调整后 A", "A")) }
                        th { (l.t("费用 C", "C")) }
                        th { (l.t("结余率", "Surplus rate")) }
                        th { (l.t("留用 / 承担", "Retained / borne")) }
                        th { (l.t("已拨月预拨", "Prepaid")) }
                        th { (l.t("清算款（元）", "Balance (yuan)")) }
                    }
                    @for (_, name, rows) in &communities {
                        tr { th colspan="10" { (name) } }
                        @for i in rows {
                            @let r = &i.record.row;
                            @let f = &i.figures;
                            tr {
                                td { a href=(format!("/payment/clearing/institution?year={year}&id={}", r.institution_id)) { (i.record.institution_name) } }
                                td { (state_name(l, i.state)) }
                                td { (yuan(r.budget_fen)) }
                                td { @match f.assessment.score { Some(s) => (shown(gongti_core::decimal::div_half_up(s, 10_000), 2)), None => "—" } " / " (shown(f.clearing.multiplier, PLACES)) }
                                td { (yuan(f.clearing.adjusted_budget_fen)) }
                                td { (yuan(r.cost_by_source_fen.iter().sum())) }
                                td { @match f.clearing.surplus_rate { Some(rate) => (signed_percent(rate)), None => "—" } }
                                td { @if f.clearing.community_bears_fen > 0 { (l.t("承担 ", "borne ")) (yuan(f.clearing.community_bears_fen)) } @else { (yuan(f.clearing.retained_fen)) } }
                                td { (yuan(r.prepaid_fen)) }
                                td { (balance(l, f.balance_fen)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[derive(Deserialize)]
struct OneQuery {
    year: i32,
    id: i64,
}

async fn one(State(state): State<AppState>, c: Console, Query(q): Query<OneQuery>) -> Response {
    one_page(&state, &c, q.year, q.id, None, StatusCode::OK).await
}

async fn one_page(
    state: &AppState,
    c: &Console,
    year: i32,
    id: i64,
    problem: Option<Markup>,
    status: StatusCode,
) -> Response {
    let l = c.lang;
    let y = match state.app.capitation_clearing(&c.ctx, year).await {
        Ok(y) => y,
        Err(e) => return error_page(c, title(l), &e),
    };
    let Some(i) = y
        .institutions
        .iter()
        .find(|i| i.record.row.institution_id == id)
    else {
        return error_page(c, title(l), &AppError::NotFound);
    };
    let body = institution_body(l, c, &y, i, problem);
    (status, layout(c, title(l), body)).into_response()
}

fn institution_body(
    l: Lang,
    c: &Console,
    y: &YearClearing,
    i: &InstitutionClearing,
    problem: Option<Markup>,
) -> Markup {
    let csrf = c.session.csrf.as_deref().unwrap_or("");
    let principal = &c.session.principal;
    let year = y.year.year;
    let r = &i.record.row;
    let f = &i.figures;
    let cl = &f.clearing;
    let a = &f.assessment;
    let cost = CostTally {
        by_source_fen: r.cost_by_source_fen,
        by_level_fen: r.cost_by_level_fen,
        lines: r.cost_lines,
    };
    let own = principal.role == Role::InstitutionAdmin
        && principal.institution_id == Some(r.institution_id);
    let setter = may_set_schemes(principal.role);
    let answerable = matches!(
        i.state,
        ClearingState::Computed | ClearingState::Confirmed | ClearingState::Disputed
    );
    let hidden = html! {
        (form_tokens(csrf))
        input type="hidden" name="year" value=(year);
        input type="hidden" name="institution" value=(r.institution_id);
        input type="hidden" name="frozen" value=(i.record.frozen_at_us);
    };
    html! {
        p { a href=(format!("/payment/clearing?year={year}")) { (l.t("← 年度清算", "← Year-end clearing")) } }
        h1 { (i.record.institution_name) " · " (title(l)) " " (year) }
        @if let Some(p) = problem { (p) }
        p { (l.t("状态：", "State: ")) (state_name(l, i.state))
            @if i.reproduced { " " span.badge.ok { (l.t("由冻结数据重算一致", "Recomputed from the frozen data: agrees")) } }
            @else { " " span.badge.warn { (l.t("由冻结数据重算不一致", "Recomputed from the frozen data: differs")) } }
        }
        @if let Some(reason) = &i.record.reason {
            p { strong { (l.t("机构异议：", "Disputed: ")) } (reason)
                @if let Some(m) = &i.record.answered { span.muted { " — " (m.by_name) " " (local(m.at_us)) } } }
        } @else if let Some(m) = &i.record.answered {
            p.muted { (l.t("机构已确认：", "Confirmed: ")) (m.by_name) " " (local(m.at_us)) }
        }
        @if let Some(m) = &i.record.approved {
            p { strong { (l.t("医保审定：", "Approved: ")) } @if let Some(reply) = &i.record.reply { (reply) " — " } span.muted { (m.by_name) " " (local(m.at_us)) } }
        }
        @if let Some(m) = &i.record.settled {
            p.muted { (l.t(i.state.name_zh(), i.state.name_en())) (l.t("：", ": ")) (m.by_name) " " (local(m.at_us)) }
        }
        h2 { (l.t("清算计算", "How the clearing is computed")) }
        table.figures {
            tr { th { (l.t("在册人数（签约 / 门特高血压 / 门特糖尿病）", "Persons (contracted / 门特 hypertension / 门特 diabetes)")) } td { (r.persons[0]) " / " (r.persons[1]) " / " (r.persons[2]) " " a href=(format!("/payment/clearing/members?year={year}&institution={}", r.institution_id)) { (l.t("人员名单", "the persons")) } } }
            tr { th { (l.t("在册人天", "Person-days")) } td { @for (k, kind) in SchemeKind::ALL.iter().enumerate() { @if k > 0 { " · " } (l.t(kind.name_zh(), kind.name_en())) " " (r.person_days[k]) } } }
            tr { th { (l.t("预算 B（按实际在册天数）", "Budget B (days actually enrolled)")) } td { (money(l, r.budget_fen)) } }
            tr { th { (l.t("质量得分 Q", "Quality score Q")) } td { @match a.score { Some(s) => (shown(gongti_core::decimal::div_half_up(s, 10_000), 2)), None => (l.t("无可考核指标（系数按 1）", "nothing measurable (m = 1)")) } } }
            tr { th { (l.t("系数 m(Q)", "Multiplier m(Q)")) } td { (shown(cl.multiplier, PLACES)) } }
            tr { th { (l.t("调整后预算 A = B × m(Q)", "Adjusted budget A = B × m(Q)")) } td { (money(l, cl.adjusted_budget_fen)) } }
            tr { th { (l.t("费用 C（各级医保基金支付）", "Cost C (fund-paid, every level)")) } td { (money(l, cost.total_fen())) } }
            tr { th { (l.t("结余 S = A − C", "Surplus S = A − C")) } td { (money(l, cl.surplus_fen)) @if let Some(rate) = cl.surplus_rate { " (" (signed_percent(rate)) ")" } } }
            tr { th { (l.t("结余留用", "Retained")) } td { (money(l, cl.retained_fen)) } }
            tr { th { (l.t("基金分担超支", "Fund covers of the overspend")) } td { (money(l, cl.fund_covers_fen)) } }
            tr { th { (l.t("医联体承担超支", "Community bears")) } td { (money(l, cl.community_bears_fen)) } }
            tr { th { (l.t("已拨月预拨", "Prepayments paid")) } td { (money(l, r.prepaid_fen)) } }
            tr { th { (l.t("清算款", "Balance")) } td { strong { (balance(l, f.balance_fen)) (l.t(" 元", " yuan")) } } }
        }
        h2 { (l.t("质量考核指标（全年，冻结）", "Quality terms (the whole year, frozen)")) }
        div.table-wrap {
            table {
                tr { th { (l.t("指标", "Term")) } th { (l.t("达标 / 应考核", "Met / measured")) } th { (l.t("比例", "Rate")) } }
                @for (k, t) in QualityTerm::ALL.iter().enumerate() {
                    tr {
                        td { (l.t(t.name_zh(), t.name_en())) }
                        td { (a.counts[k].0) " / " (a.counts[k].1) }
                        td { @match a.rates[k] { Some(rate) => (percent(rate)), None => span.muted { (l.t("无可考核", "none to measure")) } } }
                    }
                }
            }
        }
        h2 { (l.t("费用来源与级别（冻结）", "Costs by source and level (frozen)")) }
        div.table-wrap {
            table {
                @for (k, s) in CostSource::ALL.iter().enumerate() {
                    tr { th { (l.t(s.name_zh(), s.name_en())) } td { (money(l, cost.by_source_fen[k])) } }
                }
                @for lv in CostLevel::ALL {
                    tr { th { (l.t(lv.name_zh(), lv.name_en())) } td { (money(l, cost.level_fen(lv))) } }
                }
                tr { th { (l.t("上级机构费用占比", "Share above the grassroots")) } td { @match cost.upper_share_bp() { Some(bp) => (super::costs::percent(bp)), None => "—" } } }
            }
        }
        @if own && answerable {
            h2 { (l.t("机构确认", "The institution's answer")) }
            div.actions {
                form method="post" action="/payment/clearing/step" {
                    (hidden)
                    input type="hidden" name="step" value="confirm";
                    button.primary type="submit" { (l.t("确认清算结果", "Confirm the clearing")) }
                }
                form method="post" action="/payment/clearing/step" {
                    (hidden)
                    input type="hidden" name="step" value="dispute";
                    label { (l.t("异议理由", "Reason for a dispute")) textarea name="words" maxlength="500" required {} }
                    button type="submit" { (l.t("提出异议", "Dispute")) }
                }
            }
        }
        @if setter && matches!(i.state, ClearingState::Confirmed | ClearingState::Disputed) {
            h2 { (l.t("医保审定", "Approval")) }
            form method="post" action="/payment/clearing/step" {
                (hidden)
                input type="hidden" name="step" value="approve";
                label { (l.t("审定意见（机构有异议时必填）", "Reply (required for a dispute)")) textarea name="words" maxlength="500" required[i.state == ClearingState::Disputed] {} }
                button.primary type="submit" { (l.t("审定", "Approve")) }
            }
        }
        @if setter && i.state == ClearingState::Computed {
            p.muted { (l.t("待机构确认或提出异议后审定。", "Approved once the institution confirms or disputes.")) }
        }
        @if setter && i.state == ClearingState::Approved {
            form method="post" action="/payment/clearing/step" {
                (hidden)
                input type="hidden" name="step" value="settle";
                button.primary type="submit" {
                    @if f.balance_fen < 0 { (l.t("记录追回 ", "Record recovery of ")) (yuan(-f.balance_fen)) }
                    @else { (l.t("记录拨付 ", "Record payment of ")) (yuan(f.balance_fen)) }
                    (l.t(" 元", " yuan"))
                }
            }
        }
    }
}

#[derive(Deserialize)]
struct MembersQuery {
    year: i32,
    institution: i64,
    after: Option<i64>,
}

/// The persons of an institution's clearing as frozen, a page at a time.
async fn members(
    State(state): State<AppState>,
    c: Console,
    Query(q): Query<MembersQuery>,
) -> Response {
    let l = c.lang;
    let title = l.t("清算人员名单", "Persons of the clearing");
    let page = match state
        .app
        .clearing_persons(&c.ctx, q.year, q.institution, q.after, 50)
        .await
    {
        Ok(p) => p,
        Err(e) => return error_page(&c, title, &e),
    };
    let name = state.app.institution_name(q.institution).await;
    let days = i128::from(gongti_core::payment::membership::days_in_year(q.year));
    let body = html! {
        p { a href=(format!("/payment/clearing/institution?year={}&id={}", q.year, q.institution)) { (l.t("← 机构清算", "← The institution's clearing")) } }
        h1 { (title) " · " (name) " " (q.year) }
        p.muted { (l.t("冻结时按实际在册天数计：每人的预算份额（未取整，B 合计后一次取整）与计入本机构的医保基金支付费用。姓名已脱敏。", "As frozen, by the days actually enrolled: each person's part of B (unrounded: B rounds once, over all) and the fund-paid cost counted here. Names masked.")) }
        div.table-wrap {
            table.wide {
                tr {
                    th { (l.t("姓名", "Name")) } th { (l.t("年龄", "Age")) } th { (l.t("慢病", "Condition")) }
                    @for k in SchemeKind::ALL { th { (l.t(k.name_zh(), k.name_en())) (l.t("（天）", " (days)")) } }
                    th { (l.t("预算份额（元）", "Part of B (yuan)")) }
                    th { (l.t("费用（元）", "Cost (yuan)")) }
                }
                @for p in &page.items {
                    @let m = &p.member;
                    @let condition = gongti_core::payment::scheme::Condition::parse(&m.condition);
                    tr {
                        td { (p.name_masked) }
                        td { (m.age) }
                        td { @match condition { Some(c) => (l.t(c.name_zh(), c.name_en())), None => (m.condition) } }
                        @for d in m.days { td { (d) } }
                        td { (shown(gongti_core::decimal::div_half_up(i128::from(m.share_micro_fen), 1_000_000 * days), 2)) }
                        td { (yuan(m.cost_fen)) }
                    }
                }
            }
        }
        @if page.items.is_empty() { p { (l.t("没有人员。", "Nobody.")) } }
        @if let Some(next) = page.next_after {
            p { a href=(format!("/payment/clearing/members?year={}&institution={}&after={next}", q.year, q.institution)) { (l.t("下一页 →", "Next page →")) } }
        }
    };
    layout(&c, title, body).into_response()
}

#[derive(Deserialize)]
struct YearForm {
    csrf: String,
    year: i32,
}

async fn freeze(State(state): State<AppState>, c: Console, Form(f): Form<YearForm>) -> Response {
    if !crate::console::csrf_ok(&c, &f.csrf) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    // done, or still going once the wait is over: either way the year's page says how
    match state
        .app
        .start_freeze(&c.ctx, f.year, crate::FREEZE_WAIT)
        .await
    {
        Ok(_) => Redirect::to(&format!("/payment/clearing?year={}", f.year)).into_response(),
        Err(e) => failed(&state, &c, f.year, e).await,
    }
}

async fn close(State(state): State<AppState>, c: Console, Form(f): Form<YearForm>) -> Response {
    if !crate::console::csrf_ok(&c, &f.csrf) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    match state.app.close_capitation_year(&c.ctx, f.year).await {
        Ok(()) => Redirect::to(&format!("/payment/clearing?year={}", f.year)).into_response(),
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

#[derive(Deserialize)]
struct StepForm {
    csrf: String,
    year: i32,
    institution: i64,
    step: String,
    words: Option<String>,
    /// The freeze the page showed.
    frozen: i64,
}

async fn step(State(state): State<AppState>, c: Console, Form(f): Form<StepForm>) -> Response {
    if !crate::console::csrf_ok(&c, &f.csrf) {
        return (StatusCode::FORBIDDEN, "CSRF").into_response();
    }
    let Some(step) = ClearingStep::parse(&f.step) else {
        return error_page(&c, title(c.lang), &AppError::NotFound);
    };
    match state
        .app
        .clearing_step(
            &c.ctx,
            f.year,
            f.institution,
            step,
            f.words.as_deref(),
            Some(f.frozen),
        )
        .await
    {
        Ok(_) => Redirect::to(&format!(
            "/payment/clearing/institution?year={}&id={}",
            f.year, f.institution
        ))
        .into_response(),
        Err(AppError::Forbidden) => error_page(&c, title(c.lang), &AppError::Forbidden),
        Err(e) => {
            let status = crate::error::ApiError::of(&e).status;
            one_page(
                &state,
                &c,
                f.year,
                f.institution,
                Some(error_box(c.lang, &e)),
                status,
            )
            .await
        }
    }
}
