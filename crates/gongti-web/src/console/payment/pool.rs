//! 绩效分配 and 我的绩效: an institution's incentive pool of a month (`app::payment`
//! pool, issue 17 points 6–7) — the contract fees signed that month and the team's
//! share into the pool, each person's work, standard units, post, quality factor and
//! pay, each opening the work behind it — and a member of staff's own month: their
//! work items, units and expected pay.

use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use gongti_app::AppError;
use gongti_app::payment::{IncentiveMonth, PersonMonth};
use gongti_core::decimal::shown;
use gongti_core::money::yuan;
use gongti_core::payment::incentive::PLACES;
use gongti_core::payment::scheme::WorkKind;
use gongti_store::WorkItem;
use maud::{Markup, html};
use serde::Deserialize;

use crate::AppState;
use crate::console::{Console, Lang, error_box, error_page, layout};
use crate::views::local;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/payment/incentive-month", get(institution_month))
        .route("/payment/incentive-month/work", get(staff_work))
        .route("/my-work", get(my_work))
}

#[derive(Deserialize)]
struct MonthQuery {
    institution: Option<i64>,
    staff: Option<i64>,
    year: Option<i32>,
    month: Option<u8>,
}

fn title(l: Lang) -> &'static str {
    l.t("绩效分配", "Incentive pool")
}

/// The month asked for, else this one.
fn year_month(state: &AppState, q: &MonthQuery) -> (i32, u8) {
    let today = state.app.today();
    (
        q.year.unwrap_or(today.year()),
        q.month.unwrap_or(u8::from(today.month())),
    )
}

/// Links to the month before and after, keeping the rest of the query.
fn months(path: &str, extra: &str, year: i32, month: u8) -> Markup {
    let (py, pm) = if month == 1 {
        (year - 1, 12)
    } else {
        (year, month - 1)
    };
    let (ny, nm) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    html! {
        p {
            a href=(format!("{path}?{extra}year={py}&month={pm}")) { "← " (py) "-" (format!("{pm:02}")) }
            " · "
            a href=(format!("{path}?{extra}year={ny}&month={nm}")) { (ny) "-" (format!("{nm:02}")) " →" }
        }
    }
}

fn figure(v: i128) -> String {
    shown(v, PLACES)
}

fn pool_summary(l: Lang, m: &IncentiveMonth) -> Markup {
    html! {
        p.muted {
            (m.first) " – " (m.last) (l.t("；按第 ", "; scheme version "))
            a href=(format!("/payment/schemes/{}", m.scheme_version)) { (m.scheme_version) }
            (l.t(" 版方案的标准工作量表与岗位系数计。签约服务费团队部分按各团队自己的签约归该团队，由团队成员分配；其余资金由全体分配。每份资金按 标准工作量 × 岗位系数 × 质量系数 占比分配，按最大余数法分到分，合计恰等于该份资金。质量系数取所在家庭医生团队签约慢病患者随访未逾期的比例对应的质量档次系数（不在团队者为 1）。资金池只来自结余留用、签约服务费团队部分与公卫绩效经费，药品、耗材、检查、检验收入不得计入。",
                "'s workload units and post coefficients. Each team's share of its own contracts' fees goes to that team's members, the rest of the pool to everyone; each part is shared by units × post × quality, to the fen by largest remainder so that it sums to the part exactly. The quality factor is the band's multiplier of the share of the team's contracted chronic patients whose follow-up is not overdue (1 outside a team). The pool is funded only by retained surplus, the contract fee's team share and public-health performance funds — never by drug, consumable, exam or test revenue."))
        }
        table.figures {
            tr { th { (l.t("本月签约（含续约）", "Contracts signed this month")) } td { (m.contracts) (l.t(" 份，签约服务费 ", ", fees ")) (yuan(m.fees_fen)) (l.t(" 元", " yuan")) } }
            @for (s, fen) in &m.sources {
                tr { th { (l.t(s.name_zh(), s.name_en())) } td { (yuan(*fen)) (l.t(" 元", " yuan"))
                    @if *s == gongti_core::payment::pool::FundSource::ContractFeeTeam { span.muted { (l.t("（团队比例 ", " (team share ")) (shown(m.team_share, gongti_core::payment::capitation::PLACES)) (l.t("）", ")")) } } } }
            }
            tr { th { (l.t("结余留用、公卫绩效经费", "Retained surplus, public-health funds")) } td.muted { (l.t("月度结算时录入", "entered when the month is settled")) } }
            tr { th { (l.t("本月资金池（预计）", "The month's pool (expected)")) } td { strong { (yuan(m.pool_fen)) (l.t(" 元", " yuan")) } } }
            @if m.undistributed_fen > 0 {
                tr { th { (l.t("无人可分", "Given to no one")) } td.warn-text { (yuan(m.undistributed_fen)) (l.t(" 元：相应团队本月无计入的工作量", " yuan: nobody of the team has work counted this month")) } }
            }
        }
    }
}

fn work_counts(l: Lang, p: &PersonMonth) -> Markup {
    html! {
        @for (n, (k, kind)) in WorkKind::ALL.iter().enumerate().filter(|(k, _)| p.counts[*k] > 0).enumerate() {
            @if n > 0 { " · " }
            span { (l.t(kind.name_zh(), kind.name_en())) " " (p.counts[k]) }
        }
        @if p.counts.iter().all(|n| *n == 0) { span.muted { (l.t("无", "none")) } }
    }
}

async fn institution_month(
    State(state): State<AppState>,
    c: Console,
    Query(q): Query<MonthQuery>,
) -> Response {
    let l = c.lang;
    let (year, month) = year_month(&state, &q);
    let Some(institution) = q.institution.or(c.session.principal.institution_id) else {
        return error_page(&c, title(l), &AppError::NotFound);
    };
    let m = match state
        .app
        .incentive_month(&c.ctx, institution, year, month)
        .await
    {
        Ok(m) => m,
        Err(AppError::Conflict(code)) => {
            let body = html! { h1 { (title(l)) } (error_box(l, &AppError::Conflict(code))) };
            return layout(&c, title(l), body).into_response();
        }
        Err(e) => return error_page(&c, title(l), &e),
    };
    let extra = format!("institution={institution}&");
    let body = html! {
        h1 { (title(l)) " · " (m.institution_name) " " (year) "-" (format!("{month:02}")) }
        (months("/payment/incentive-month", &extra, year, month))
        (pool_summary(l, &m))
        @if m.people.is_empty() {
            p { (l.t("本机构没有计绩效的岗位人员。", "Nobody of a post that earns from the pool.")) }
        } @else {
            div.table-wrap {
                table.wide {
                    tr {
                        th { (l.t("姓名", "Name")) } th { (l.t("岗位", "Post")) } th { (l.t("团队", "Team")) }
                        th { (l.t("工作量", "Work")) } th { (l.t("标准工作量", "Units")) } th { (l.t("岗位系数", "Post")) }
                        th { (l.t("质量系数", "Quality")) } th { (l.t("预计绩效（元）", "Expected pay (yuan)")) }
                    }
                    @for p in &m.people {
                        tr {
                            td { a href=(format!("/payment/incentive-month/work?staff={}&year={year}&month={month}", p.staff_id)) { (p.name) } }
                            td { (l.t(p.role.name_zh(), p.role.name_en())) }
                            td { (p.team.as_deref().unwrap_or("—")) }
                            td { (work_counts(l, p)) }
                            td { (figure(p.units)) }
                            td { (figure(p.post)) }
                            td { (figure(p.quality)) @if let Some(r) = p.quality_rate { br; small.muted { (l.t("随访未逾期 ", "not overdue ")) (super::quality::percent(r)) } } }
                            td { (yuan(p.pay_fen)) }
                        }
                    }
                }
            }
        }
    };
    layout(&c, title(l), body).into_response()
}

fn item_row(l: Lang, i: &WorkItem) -> Markup {
    let kind = WorkKind::parse(i.kind);
    html! {
        tr {
            td { @match (i.on, i.at_us) { (Some(d), _) => (d), (None, Some(at)) => (local(at)), _ => "—" } }
            td { @match kind { Some(k) => (l.t(k.name_zh(), k.name_en())), None => (i.kind) } }
            td { "#" (i.record_id) }
        }
    }
}

fn work_body(
    l: Lang,
    heading: &str,
    (path, extra): (&str, &str),
    m: &IncentiveMonth,
    p: &PersonMonth,
    items: &[WorkItem],
) -> Markup {
    html! {
        h1 { (heading) " · " (p.name) " " (m.year) "-" (format!("{:02}", m.month)) }
        (months(path, extra, m.year, m.month))
        table.figures {
            tr { th { (l.t("机构", "Institution")) } td { (m.institution_name) } }
            tr { th { (l.t("岗位 / 团队", "Post / team")) } td { (l.t(p.role.name_zh(), p.role.name_en())) " · " (p.team.as_deref().unwrap_or("—")) } }
            tr { th { (l.t("工作量", "Work")) } td { (work_counts(l, p)) } }
            tr { th { (l.t("标准工作量", "Standard units")) } td { (figure(p.units)) } }
            tr { th { (l.t("岗位系数 × 质量系数", "Post × quality")) } td { (figure(p.post)) " × " (figure(p.quality)) } }
            tr { th { (l.t("本月资金池（预计）", "The month's pool (expected)")) } td { (yuan(m.pool_fen)) (l.t(" 元", " yuan")) } }
            tr { th { (l.t("预计绩效", "Expected pay")) } td { strong { (yuan(p.pay_fen)) (l.t(" 元", " yuan")) } } }
        }
        p.muted { (l.t("月度绩效经绩效考核管理委员会审定后发放；以下为计入本月工作量的每一项工作（记录编号，不含患者信息）。", "The month is paid once the performance committee approves it; below, each piece of work counted this month (by record, without patient details).")) }
        @if items.is_empty() {
            p { (l.t("本月尚无计入的工作。", "No work counted this month yet.")) }
        } @else {
            div.table-wrap {
                table {
                    tr { th { (l.t("日期", "When")) } th { (l.t("工作", "Work")) } th { (l.t("记录", "Record")) } }
                    @for i in items { (item_row(l, i)) }
                }
            }
        }
    }
}

async fn staff_work(
    State(state): State<AppState>,
    c: Console,
    Query(q): Query<MonthQuery>,
) -> Response {
    let l = c.lang;
    let (year, month) = year_month(&state, &q);
    let Some(staff) = q.staff else {
        return error_page(&c, title(l), &AppError::NotFound);
    };
    match state
        .app
        .incentive_work(&c.ctx, Some(staff), year, month)
        .await
    {
        Ok((m, p, items)) => {
            let extra = format!("staff={staff}&");
            let body = html! {
                p { a href=(format!("/payment/incentive-month?institution={}&year={year}&month={month}", m.institution_id)) { (l.t("← 绩效分配", "← Incentive pool")) } }
                (work_body(l, l.t("工作量明细", "Work counted"), ("/payment/incentive-month/work", &extra), &m, &p, &items))
            };
            layout(&c, title(l), body).into_response()
        }
        Err(e) => error_page(&c, title(l), &e),
    }
}

async fn my_work(
    State(state): State<AppState>,
    c: Console,
    Query(q): Query<MonthQuery>,
) -> Response {
    let l = c.lang;
    let heading = l.t("我的绩效", "My work and pay");
    let (year, month) = year_month(&state, &q);
    match state.app.incentive_work(&c.ctx, None, year, month).await {
        Ok((m, p, items)) => layout(
            &c,
            heading,
            work_body(l, heading, ("/my-work", ""), &m, &p, &items),
        )
        .into_response(),
        Err(AppError::Conflict(code)) => {
            let body = html! { h1 { (heading) } (error_box(l, &AppError::Conflict(code))) };
            layout(&c, heading, body).into_response()
        }
        Err(e) => error_page(&c, heading, &e),
    }
}
